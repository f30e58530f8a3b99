#!/usr/bin/env bash
# Runs rdsmux's benchmarks side by side with their baselines (pool vs
# jackc/puddle, driver vs go-sql-driver, a concurrency sweep, sysbench
# direct vs through the listener, the failover drill, the demo), keeps
# their raw output in bench/out/ (git-ignored) and has bench/report write
# bench/REPORT.md and its SVG plots from it.
#
#   bench/run.sh                       # about 15 minutes
#   QUICK=1 bench/run.sh               # about 2 minutes, rough ratios
#   SUITES="pool driver" bench/run.sh  # some sections only
#   COUNT=3 BENCHTIME=100x SWEEPTIME=200x LEVELS="1 16" DRILL=1 SBROUNDS=1 bench/run.sh
#                                      # a small run: rounds, go test
#                                      # -benchtime, sweep goroutine counts,
#                                      # failover drill runs per variant,
#                                      # sysbench rounds per cell
#
# The go test -bench suites print benchstat's format, so
#   benchstat -col /impl bench/out/pool.txt
# gives the same comparison with confidence intervals.
#
# Needs Go, mariadbd and sysbench: scripts/install-deps.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

invoked="bench/run.sh"
count=6 benchtime=500ms sweeptime=1s sweepcount=2 drill=3 sbrounds=3 levels="1 2 4 8 16 32 64 128 256" demo=()
if [ -n "${QUICK:-}" ] && [ "$QUICK" != 0 ]; then
	invoked="QUICK=1 bench/run.sh"
	count=1 benchtime=200ms sweeptime=400ms sweepcount=1 drill=1 sbrounds=1 levels="1 4 16 64 256" demo=(-surge-for 4s)
fi
count=${COUNT:-$count} benchtime=${BENCHTIME:-$benchtime} sweepcount=${COUNT:-$sweepcount}
sweeptime=${SWEEPTIME:-$sweeptime} levels=${LEVELS:-$levels} drill=${DRILL:-$drill} sbrounds=${SBROUNDS:-$sbrounds}
suites=${SUITES:-pool driver sweep sysbench failover demo}
[ -n "${SUITES:-}" ] && invoked="SUITES=\"$SUITES\" $invoked"

out=bench/out
mkdir -p "$out"
rm -f "$out"/*.txt "$out"/*.cmd "$out"/*.took "$out"/*.tsv "$out"/*.csv "$out"/*.md "$out"/*.json "$out"/*.jsonl

# suite NAME DIR COMMAND...: runs COMMAND in DIR, appends its output to
# $out/NAME.txt, the command to NAME.cmd and its seconds to NAME.took; a
# failure is noted in failed.txt and the run goes on.
suite() {
	local name=$1 dir=$2 start=$SECONDS
	shift 2
	echo "$*" >>"$out/$name.cmd"
	echo "[$SECONDS s] $name: $*" >&2
	if ! (cd "$dir" && env "$@") >>"$out/$name.txt" 2>&1; then
		echo "$name: $* failed (output in $out/$name.txt)" | tee -a "$out/failed.txt" >&2
	fi
	echo $((SECONDS - start)) >>"$out/$name.took"
}

{
	printf 'load before\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'CPUs (nproc)\t%s\n' "$(nproc)"
	printf 'CPU\t%s\n' "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	printf 'OS\t%s\n' "$(uname -sr)"
	printf 'Go\t%s\n' "$(go version)"
	printf 'MariaDB\t%s\n' "$({ command -v mariadbd >/dev/null && mariadbd --version || /usr/sbin/mariadbd --version; } 2>/dev/null || echo none)"
	printf 'sysbench\t%s\n' "$(sysbench --version 2>/dev/null || echo none)"
	printf 'commit\t%s\n' "$(git rev-parse --short=12 HEAD)$(git diff --quiet || echo ' (modified)')"
	printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/machine.tsv"

haproxy=0 # the HAProxy columns need Debian's haproxy (apt-get install haproxy)
command -v haproxy >/dev/null && haproxy=1
bench=(go test -run '^$' -benchmem -benchtime "$benchtime" -count "$count")
for s in $suites; do
	case $s in
	pool) suite pool . "${bench[@]}" -bench . ./pool/... ;;
	driver) suite driver . "${bench[@]}" -bench '^BenchmarkDriver$' . ;;
	sweep) suite sweep bench RDSMUX_SWEEP_LEVELS="$levels" go test -run '^$' -bench Sweep -benchtime "$sweeptime" \
		-count "$sweepcount" ./sweep ;;
	sysbench) suite sysbench . TIME=4 WARMUP=2 ROUNDS="$sbrounds" HAPROXY="$haproxy" OUT="$out/sysbench.md" CSV="$out/sysbench.csv" bash bench/sysbench.sh ;;
	failover)
		suite failover . RDSMUX_DRILL="$drill" RDSMUX_DRILL_JSON="../$out/failover.jsonl" go test -run '^TestFailoverDrillRepeated$' \
			-count 1 -v -timeout 15m ./failover/
		suite failover . go test -run '^TestFailoverThroughThePool$' -count 1 -v .
		;;
	demo) suite demo examples go run ./demo -json "../$out/demo.json" ${demo[@]+"${demo[@]}"} ;;
	*) echo "run.sh: unknown suite $s (known: pool driver sweep sysbench failover demo)" >&2; exit 2 ;;
	esac
done
printf 'load after\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.tsv"

(cd bench && go run ./report -in out -out . -invoked "$invoked" -elapsed "${SECONDS}s" -suites "$suites")
if [ -s "$out/failed.txt" ]; then
	echo "run.sh: bench/REPORT.md written, but some suites failed:" >&2
	cat "$out/failed.txt" >&2
	exit 1
fi
