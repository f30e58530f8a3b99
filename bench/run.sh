#!/usr/bin/env bash
# Runs rdsmux's benchmarks side by side with their baselines (pool vs
# jackc/puddle, driver vs go-sql-driver, a concurrency sweep, sysbench
# direct vs through the listener, the failover drill, the demo) and writes
# bench/REPORT.md, bench/throughput.svg and bench/latency.svg. Raw output
# goes to bench/out/ (git-ignored).
#
#   bench/run.sh              # about 10 minutes
#   QUICK=1 bench/run.sh      # about 2 minutes, rough ratios
#   bench/run.sh -suites pool,driver   # extra flags go to bench/report
#
# Needs Go, mariadbd and sysbench: scripts/install-deps.sh installs them.
set -euo pipefail

cd "$(dirname "$0")/.."

invoked="bench/run.sh"
args=()
if [ -n "${QUICK:-}" ] && [ "${QUICK}" != "0" ]; then
	invoked="QUICK=1 bench/run.sh"
	args+=(-quick)
fi
if [ $# -gt 0 ]; then
	invoked="$invoked $*"
fi

mkdir -p bench/out
go build -o bench/out/report ./bench/report
exec bench/out/report -invoked "$invoked" ${args[@]+"${args[@]}"} "$@"
