TIME=5 WARMUP=2 HAPROXY=0 OUT=bench/out/sysbench.md CSV=bench/out/sysbench.csv bash bench/sysbench.sh
