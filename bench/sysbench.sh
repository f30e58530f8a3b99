#!/usr/bin/env bash
# bench/sysbench.sh: sysbench straight to MariaDB and through the rdsmux
# listener, back to back, on this machine (everything on loopback).
#
# It starts a throwaway MariaDB (bench/mariadb), prepares small sysbench
# tables, starts the listener (cmd/rdsmux) with at most $BACKENDS backend
# connections, and runs each workload, ps-mode and thread count for $TIME
# seconds direct and then through the listener. It prints a table
# (throughput, ratio, p95 latency, added p50 latency) and writes it as
# Markdown to bench/out/sysbench.md.
#
# Needs go, mariadbd and sysbench (scripts/install-deps.sh installs them).
#
# Settings (environment variables):
#   TIME=10                 seconds per run
#   THREADS="1 16 64"       sysbench thread counts
#   WORKLOADS="oltp_point_select oltp_read_write"
#   PS_MODES="auto disable" sysbench --db-ps-mode values
#   BACKENDS=16             the listener's backend connection cap
#   TABLES=4 TABLE_SIZE=10000
#   WARMUP=3                seconds of warm-up per target before measuring
#   ROUNDS=1                runs per target and cell: the targets take
#                           turns, round after round, and each ratio is
#                           the median over rounds of the ratio within a
#                           round, printed with its range, median(min-max)
#   RELAY=0                 1: also run through a plain TCP relay
#                           (bench/tcprelay, one backend connection per
#                           client): the cost of relaying alone, the floor
#                           under any proxy's overhead
#   EPOLL=0                 1: also run through bench/epollrelay, a Go
#                           relay built like HAProxy (two OS threads, each
#                           with its own epoll instance, no goroutine per
#                           connection): whether Go's goroutine model or
#                           Go itself sets the floor
#   ONEP=0                  1: also run through a second listener started
#                           with GOMAXPROCS=1 (the governor is then off):
#                           one P against Go's default, side by side
#   HAPROXY=0               1: also run through HAProxy in TCP mode (Debian's
#                           haproxy; two threads, one backend connection per
#                           client): the same floor, set by a relay written
#                           in C and tuned for years
#   PROXY_THREADS=          the threads each relay may run on: HAProxy's
#                           nbthread and the listener's GOMAXPROCS (empty:
#                           HAProxy 2, the listener Go's default, the CPUs).
#                           On a small machine shared with the database and
#                           sysbench, 1 halves the Go scheduler's work
#                           between packets (see README, "Tuning")
#   OUT=bench/out/sysbench.md
#   CSV=bench/out/sysbench.csv  one line per run: workload, ps-mode,
#                           threads, target, tps, p50 ms, p95 ms, errors,
#                           round
#
# Latencies come from sysbench's histogram (--histogram): p50 and p95 of
# the run, in ms; "added p50" is listener p50 minus direct p50, in µs per
# sysbench event (one query for oltp_point_select, one transaction of 18
# queries plus BEGIN/COMMIT for oltp_read_write).
set -euo pipefail

TIME=${TIME:-10}
THREADS=${THREADS:-"1 16 64"}
WORKLOADS=${WORKLOADS:-"oltp_point_select oltp_read_write"}
PS_MODES=${PS_MODES:-"auto disable"}
BACKENDS=${BACKENDS:-16}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-10000}
WARMUP=${WARMUP:-3}
ROUNDS=${ROUNDS:-1}
RELAY=${RELAY:-0}
EPOLL=${EPOLL:-0}
ONEP=${ONEP:-0}
HAPROXY=${HAPROXY:-0}
PROXY_THREADS=${PROXY_THREADS:-}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. bench/haproxy.bash
OUT=${OUT:-bench/out/sysbench.md}
CSV=${CSV:-bench/out/sysbench.csv}

tools=(go sysbench)
[ "$HAPROXY" = 1 ] && tools+=(haproxy)
for tool in "${tools[@]}"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "sysbench.sh: $tool is not installed; run scripts/install-deps.sh (and install Go; HAPROXY=1 needs apt-get install haproxy)" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rdsmux-sysbench-XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building (bench/mariadb, cmd/rdsmux and the relays asked for)..." >&2
(cd bench && go build -o "$work/mariadb" ./mariadb)
go build -o "$work/rdsmux" ./cmd/rdsmux
if [ "$RELAY" = 1 ]; then
	(cd bench && go build -o "$work/tcprelay" ./tcprelay)
fi
if [ "$EPOLL" = 1 ]; then
	(cd bench && go build -o "$work/epollrelay" ./epollrelay)
fi

# wait_line FILE PID WHAT: waits until FILE has a line, or PID died.
wait_line() {
	local i
	for i in $(seq 600); do
		if [ -s "$1" ]; then
			return 0
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			echo "sysbench.sh: $3 exited during startup:" >&2
			cat "$work"/*.log >&2 || true
			exit 1
		fi
		sleep 0.1
	done
	echo "sysbench.sh: $3 did not start within 60 s" >&2
	exit 1
}

echo "starting MariaDB..." >&2
"$work/mariadb" -user sbtest -password sbtest -database sbtest >"$work/mariadb.addr" 2>"$work/mariadb.log" &
pids+=($!)
wait_line "$work/mariadb.addr" "${pids[-1]}" "bench/mariadb"
db_addr=$(head -1 "$work/mariadb.addr")
db_port=${db_addr##*:}

sb_common=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=sbtest --mysql-password=sbtest
	--mysql-db=sbtest --mysql-ssl=off --tables="$TABLES" --table-size="$TABLE_SIZE")

echo "preparing $TABLES tables of $TABLE_SIZE rows..." >&2
sysbench oltp_read_write "${sb_common[@]}" --mysql-port="$db_port" --threads="$TABLES" prepare >"$work/prepare.log" 2>&1 ||
	{ cat "$work/prepare.log" >&2; exit 1; }

echo "starting the listener (at most $BACKENDS backend connections)..." >&2
listener_env=()
if [ -n "$PROXY_THREADS" ]; then
	listener_env=("GOMAXPROCS=$PROXY_THREADS")
fi
start_listener "$work" "$db_addr" "$BACKENDS" rdsmux "${listener_env[@]}" || exit 1
lst_port=$ls_port

targets=(direct listener)
extras=() # targets beyond the two, each with three columns of its own
declare -A port=([direct]=$db_port [listener]=$lst_port)
declare -A label=([relay]=relay [epoll]=epoll [onep]=one-P [haproxy]=haproxy)
if [ "$RELAY" = 1 ]; then
	# With the GODEBUG cmd/rdsmux gives itself (cmd/rdsmux/scheduler.go),
	# so that the floor is set by the relaying, not by the Go runtime.
	GODEBUG=schedtrace=2147483647 "$work/tcprelay" -listen 127.0.0.1:0 -target "$db_addr" >"$work/tcprelay.addr" 2>"$work/tcprelay.log" &
	pids+=($!)
	wait_line "$work/tcprelay.addr" "${pids[-1]}" "bench/tcprelay"
	relay_addr=$(head -1 "$work/tcprelay.addr")
	port[relay]=${relay_addr##*:}
	extras+=(relay)
fi
if [ "$ONEP" = 1 ]; then
	start_listener "$work" "$db_addr" "$BACKENDS" rdsmux-onep GOMAXPROCS=1 || exit 1
	port[onep]=$ls_port
	extras+=(onep)
fi
if [ "$EPOLL" = 1 ]; then
	"$work/epollrelay" -listen 127.0.0.1:0 -target "$db_addr" -threads "${PROXY_THREADS:-2}" >"$work/epollrelay.addr" 2>"$work/epollrelay.log" &
	pids+=($!)
	wait_line "$work/epollrelay.addr" "${pids[-1]}" "bench/epollrelay"
	epoll_addr=$(head -1 "$work/epollrelay.addr")
	port[epoll]=${epoll_addr##*:}
	extras+=(epoll)
fi
if [ "$HAPROXY" = 1 ]; then
	start_haproxy "$work" "$db_addr" "${PROXY_THREADS:-2}"
	port[haproxy]=$hp_port
	extras+=(haproxy)
fi
targets+=("${extras[@]}")

# run TARGET WORKLOAD PS THREADS SECONDS: runs sysbench and prints
# "tps p50_ms p95_ms errors".
run() {
	local out="$work/run.out"
	if ! sysbench "$2" "${sb_common[@]}" --mysql-port="${port[$1]}" --threads="$4" --db-ps-mode="$3" \
		--time="$5" --report-interval=0 --histogram=on --percentile=95 run >"$out" 2>&1; then
		echo "sysbench.sh: sysbench $2 $1 ps-mode=$3 threads=$4 failed:" >&2
		tail -20 "$out" >&2
		exit 1
	fi
	awk '
		/^ *[0-9.]+ \|/ { v[n] = $1; c[n] = $NF; total += $NF; n++ }
		/transactions:/ { tps = $3; sub(/\(/, "", tps) }
		/ignored errors:/ { errs = $3 }
		END {
			p50 = p95 = 0
			for (i = 0; i < n; i++) {
				cum += c[i]
				if (!p50 && cum >= 0.50 * total) p50 = v[i]
				if (!p95 && cum >= 0.95 * total) p95 = v[i]
			}
			printf "%s %s %s %s\n", tps, p50, p95, errs
		}' "$out"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "warming up (${WARMUP}s per target)..." >&2
for t in "${targets[@]}"; do
	run "$t" oltp_point_select auto 16 "$WARMUP" >/dev/null
done

rows=()
errors=0
mkdir -p "$(dirname "$CSV")"
echo "workload,ps_mode,threads,target,tps,p50_ms,p95_ms,errors,round" >"$CSV"
printf '%-18s %-8s %7s %11s %12s %16s %13s %15s %12s' workload ps-mode threads "direct tps" "listener tps" ratio \
	"direct p95 ms" "listener p95 ms" "added p50 µs"
for x in "${extras[@]}"; do
	printf ' %12s %16s %20s' "${label[$x]} tps" "${label[$x]} ratio" "${label[$x]} added p50 µs"
done
if [ "$HAPROXY" = 1 ]; then
	printf ' %18s' "listener÷haproxy"
fi
echo
# summarize: reads the cell's runs ("target tps p50_ms p95_ms", one line
# per target per round, rounds in order, direct first in each) and prints
# the row: for each target its median rate, and its ratio to direct as
# the median over rounds of the ratio within a round, with the range
# (min-max) when there are several rounds; p95 and added p50 as medians.
summarize() {
	awk -v w="$1" -v ps="$2" -v th="$3" -v extras="${extras[*]}" -v hp="$HAPROXY" '
		function median(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		}
		function spread(a, n,   lo, hi, i) {
			lo = hi = a[1]
			for (i = 2; i <= n; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
			return n > 1 ? sprintf("%.2f(%.2f-%.2f)", median(a, n), lo, hi) : sprintf("%.2f", a[1])
		}
		# stat T: median rate, ratio to direct with spread, added p50
		function stat(t,   i, n, v, r, d, out) {
			n = rounds
			for (i = 1; i <= n; i++) { v[i] = tps[t, i]; r[i] = (tps["direct", i] > 0 ? tps[t, i] / tps["direct", i] : 0); d[i] = (p50[t, i] - p50["direct", i]) * 1000 }
			out = sprintf("%.0f %s %.0f", median(v, n), spread(r, n), median(d, n))
			return out
		}
		{ if ($1 == "direct") rounds++; tps[$1, rounds] = $2; p50[$1, rounds] = $3; p95[$1, rounds] = $4 }
		END {
			for (i = 1; i <= rounds; i++) { dv[i] = tps["direct", i]; d95[i] = p95["direct", i]; l95[i] = p95["listener", i] }
			split(stat("listener"), L, " ")
			printf "%s %s %s %.0f %.0f %s %.3f %.3f %.0f", w, ps, th, median(dv, rounds), L[1], L[2], median(d95, rounds), median(l95, rounds), L[3]
			n = split(extras, X, " ")
			for (k = 1; k <= n; k++) printf " %s", stat(X[k])
			if (hp == 1) {
				for (i = 1; i <= rounds; i++) q[i] = (tps["haproxy", i] > 0 ? tps["listener", i] / tps["haproxy", i] : 0)
				printf " %s", spread(q, rounds)
			}
			printf "\n"
		}'
}
for w in $WORKLOADS; do
	for ps in $PS_MODES; do
		for th in $THREADS; do
			runs=""
			for round in $(seq "$ROUNDS"); do
				for t in "${targets[@]}"; do
					res=$(run "$t" "$w" "$ps" "$th" "$TIME")
					echo "$w,$ps,$th,$t,$(echo "$res" | tr ' ' ','),$round" >>"$CSV"
					runs+="$t $(echo "$res" | awk '{print $1, $2, $3}')"$'\n'
					e=$(echo "$res" | awk '{print $4}')
					if [ "${e:-0}" != 0 ]; then
						echo "sysbench.sh: $w $t ps-mode=$ps threads=$th: $e ignored errors" >&2
						errors=$((errors + e))
					fi
				done
			done
			row=$(printf '%s' "$runs" | summarize "$w" "$ps" "$th")
			rows+=("$row")
			echo "$row" | awk -v nx="${#extras[@]}" '{printf "%-18s %-8s %7s %11s %12s %16s %13s %15s %12s", $1, $2, $3, $4, $5, $6, $7, $8, $9
				for (i = 10; i < 10 + 3 * nx; i += 3) printf " %12s %16s %20s", $i, $(i+1), $(i+2)
				if (NF >= 10 + 3 * nx) printf " %18s", $NF
				printf "\n"}'
		done
	done
done

mkdir -p "$(dirname "$OUT")"
{
	echo "# sysbench: direct vs through the rdsmux listener"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (modified)'),"
	echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $load_before before the runs, $(cut -d' ' -f1-3 /proc/loadavg) after"
	echo "(other work on the machine skews both columns)."
	echo "MariaDB $({ command -v mariadbd >/dev/null && mariadbd --version || /usr/sbin/mariadbd --version; } 2>/dev/null | awk '{print $3}'),"
	if [ -n "$PROXY_THREADS" ]; then
		threads_note="listener GOMAXPROCS=$PROXY_THREADS, HAProxy nbthread $PROXY_THREADS"
	else
		threads_note="listener GOMAXPROCS Go's default ($(nproc)), HAProxy nbthread 2"
	fi
	echo "$TABLES tables × $TABLE_SIZE rows, $TIME s per run, listener capped at $BACKENDS backend connections, $threads_note;"
	if [ "$ROUNDS" -gt 1 ]; then
		echo "$ROUNDS rounds per cell, the targets taking turns in each: rates and latencies are medians over the rounds, and each ratio"
		echo "is the median over the rounds of the ratio within a round, with its range as median(min-max)."
	else
		echo "One round: the targets ran back to back."
	fi
	echo "Latencies from sysbench's histogram; added p50 = listener p50 − direct p50"
	echo "per sysbench event (a query for oltp_point_select, a 20-statement transaction for oltp_read_write)."
	echo
	head="| workload | ps-mode | threads | direct tps | listener tps | ratio | direct p95 ms | listener p95 ms | added p50 µs |"
	rule="|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for x in "${extras[@]}"; do
		case $x in
		relay) head="$head TCP relay tps | relay ratio | relay added p50 µs |" ;;
		epoll) head="$head epoll relay tps | epoll ratio | epoll added p50 µs |" ;;
		onep) head="$head one-P listener tps | one-P ratio | one-P added p50 µs |" ;;
		haproxy) head="$head HAProxy tps | HAProxy ratio | HAProxy added p50 µs |" ;;
		esac
		rule="$rule---:|---:|---:|"
	done
	if [ "$HAPROXY" = 1 ]; then
		head="$head listener ÷ HAProxy |"
		rule="$rule---:|"
	fi
	echo "$head"
	echo "$rule"
	for row in "${rows[@]}"; do
		echo "$row" | awk '{s = "|"; for (i = 1; i <= NF; i++) { if ($i ~ /\(/) { sub(/\(/, " (", $i); sub(/-/, "–", $i) }; s = s " " $i " |" }; print s}'
	done
	if [ "$errors" != 0 ]; then
		echo
		echo "sysbench reported $errors ignored errors in total (see the script's output)."
	fi
} >"$OUT"
echo "wrote $OUT and $CSV" >&2
