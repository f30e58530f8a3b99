RDSMUX_DRILL=1 RDSMUX_DRILL_JSON=../bench/out/failover.jsonl go test -run ^TestFailoverDrillRepeated$ -count 1 -v -timeout 15m ./failover/
go test -run ^TestFailoverThroughThePool$ -count 1 -v .
