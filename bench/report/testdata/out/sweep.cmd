RDSMUX_SWEEP_LEVELS=1 16 64 go test -run ^$ -bench Sweep -benchtime 300x -count 3 ./sweep
