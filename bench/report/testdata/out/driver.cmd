go test -run ^$ -benchmem -benchtime 100x -count 3 -bench ^BenchmarkDriver$ .
