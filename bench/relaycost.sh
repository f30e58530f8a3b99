#!/usr/bin/env bash
# bench/relaycost.sh: what each relay costs per sysbench event, the
# listener (cmd/rdsmux) and HAProxy in TCP mode side by side, in rounds.
#
# Throughput alone hides where a relay's time goes on a machine it shares
# with the database and sysbench. For each run this prints the rate, the
# relay's CPU per event and MariaDB's (user+system time from /proc, in
# µs), and, where perf can count tracepoints, the relay's system calls
# and context switches per event. The README's "Where the listener still
# trails HAProxy" quotes it.
#
# Needs go, mariadbd, sysbench and haproxy; perf is optional
# (apt-get install linux-perf; counting another process needs root or
# kernel.perf_event_paranoid <= 1).
#
# Settings (environment variables):
#   WORKLOAD=oltp_point_select  PS_MODE=auto  THREADS=16
#   TIME=10 seconds measured per run (after 2 s of warm-up)
#   ROUNDS=2 listener and HAProxy alternate this many times
#   BACKENDS=16 the listener's backend connection cap
#   ONEP=0      1: also measure a second listener with GOMAXPROCS=1
#   RELAYS=0    1: also measure the two plain Go relays, bench/tcprelay
#               (a goroutine per direction, io.Copy) and bench/epollrelay
#               (two threads on epoll, as HAProxy is built)
set -euo pipefail

WORKLOAD=${WORKLOAD:-oltp_point_select}
PS_MODE=${PS_MODE:-auto}
THREADS=${THREADS:-16}
TIME=${TIME:-10}
ROUNDS=${ROUNDS:-2}
BACKENDS=${BACKENDS:-16}
RELAYS=${RELAYS:-0}
ONEP=${ONEP:-0}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. bench/haproxy.bash
for tool in go sysbench haproxy; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "relaycost.sh: $tool is not installed; run scripts/install-deps.sh and apt-get install haproxy" >&2
		exit 1
	fi
done
perf_ok=0
if command -v perf >/dev/null 2>&1 && perf stat -e syscalls:sys_enter_read -o /dev/null true 2>/dev/null; then
	perf_ok=1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rdsmux-relaycost-XXXXXX")
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() { # file pattern what
	for _ in $(seq 300); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "relaycost.sh: $3 did not start:" >&2
	cat "$1" >&2
	exit 1
}

echo "building (bench/mariadb, cmd/rdsmux)..." >&2
(cd bench && go build -o "$work/mariadb" ./mariadb)
go build -o "$work/rdsmux" ./cmd/rdsmux

"$work/mariadb" -user sbtest -password sbtest -database sbtest >"$work/mariadb.addr" 2>"$work/mariadb.log" &
pids+=($!)
wait_for "$work/mariadb.addr" : "bench/mariadb"
db_addr=$(head -1 "$work/mariadb.addr")
mariadbd_pid=$(pgrep -P "${pids[0]}" mariadbd || true)
if [ -z "$mariadbd_pid" ]; then
	echo "relaycost.sh: cannot find the mariadbd that bench/mariadb started" >&2
	exit 1
fi
sb=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=sbtest --mysql-password=sbtest
	--mysql-db=sbtest --mysql-ssl=off --tables=4 --table-size=10000)
sysbench oltp_read_write "${sb[@]}" --mysql-port="${db_addr##*:}" --threads=4 prepare >"$work/prepare.log" 2>&1

start_listener "$work" "$db_addr" "$BACKENDS" rdsmux || exit 1
listener_pid=$ls_pid listener_port=$ls_port

start_haproxy "$work" "$db_addr" 2
haproxy_pid=${pids[-1]}
declare -A tport=([listener]=$listener_port [haproxy]=$hp_port) tpid=([listener]=$listener_pid [haproxy]=$haproxy_pid)
targets=(listener haproxy)
if [ "$ONEP" = 1 ]; then
	start_listener "$work" "$db_addr" "$BACKENDS" rdsmux-onep GOMAXPROCS=1 || exit 1
	tport[onep]=$ls_port tpid[onep]=$ls_pid
	targets+=(onep)
fi
if [ "$RELAYS" = 1 ]; then
	# The tcprelay gets the GODEBUG cmd/rdsmux gives itself
	# (cmd/rdsmux/scheduler.go), as in bench/sysbench.sh.
	(cd bench && go build -o "$work/tcprelay" ./tcprelay && go build -o "$work/epollrelay" ./epollrelay)
	GODEBUG=schedtrace=2147483647 "$work/tcprelay" -listen 127.0.0.1:0 -target "$db_addr" >"$work/tcprelay.addr" 2>"$work/tcprelay.log" &
	pids+=($!)
	"$work/epollrelay" -listen 127.0.0.1:0 -target "$db_addr" -threads 2 >"$work/epollrelay.addr" 2>"$work/epollrelay.log" &
	pids+=($!)
	wait_for "$work/tcprelay.addr" : "bench/tcprelay"
	wait_for "$work/epollrelay.addr" : "bench/epollrelay"
	tport[tcprelay]=$(head -1 "$work/tcprelay.addr" | cut -d: -f2) tpid[tcprelay]=${pids[-2]}
	tport[epoll]=$(head -1 "$work/epollrelay.addr" | cut -d: -f2) tpid[epoll]=${pids[-1]}
	targets+=(tcprelay epoll)
fi

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks
tick=$(getconf CLK_TCK)
events=(task-clock context-switches)
for sc in read write recvfrom sendto epoll_wait epoll_pwait futex; do
	events+=("syscalls:sys_enter_$sc")
done
ev=$(IFS=,; echo "${events[*]}")

echo "$WORKLOAD, ps-mode $PS_MODE, $THREADS threads, $TIME s per run; per event:"
for round in $(seq "$ROUNDS"); do
	for target in "${targets[@]}"; do
		port=${tport[$target]} pid=${tpid[$target]}
		run=(sysbench "$WORKLOAD" "${sb[@]}" --mysql-port="$port" --threads="$THREADS" --db-ps-mode="$PS_MODE" --report-interval=0 run)
		"${run[@]}" --time=2 >/dev/null 2>&1
		p0=$(cpu "$pid") m0=$(cpu "$mariadbd_pid")
		if [ "$perf_ok" = 1 ]; then
			perf stat -x, -e "$ev" -p "$pid" -o "$work/perf.csv" -- sleep "$((TIME - 1))" >/dev/null 2>&1 &
			perf_pid=$!
		fi
		"${run[@]}" --time="$TIME" >"$work/sb.log" 2>&1
		p1=$(cpu "$pid") m1=$(cpu "$mariadbd_pid")
		n=$(awk '/transactions:/{print $2}' "$work/sb.log")
		tps=$(awk '/transactions:/{gsub(/\(/, "", $3); print $3}' "$work/sb.log")
		line=$(awk -v t="$target" -v r="$round" -v tps="$tps" -v n="$n" -v tick="$tick" -v p="$((p1 - p0))" -v m="$((m1 - m0))" \
			'BEGIN { printf "%-8s round %d: %9.0f/s  relay CPU %5.1f µs  MariaDB CPU %5.1f µs", t, r, tps, p*1e6/tick/n, m*1e6/tick/n }')
		if [ "$perf_ok" = 1 ]; then
			wait "$perf_pid" || true
			# Events counted over TIME-1 seconds: scale by the events
			# sysbench completed in that time.
			per=$(awk -v n="$n" -v counted="$((TIME - 1))" -v t="$TIME" 'BEGIN { print n * counted / t }')
			line+=$(awk -F, -v per="$per" '
				$3 ~ /context-switches/ { cs = $1 / per }
				$3 ~ /sys_enter_(read|recvfrom)$/ { rd += $1 / per }
				$3 ~ /sys_enter_(write|sendto)$/ { wr += $1 / per }
				$3 ~ /sys_enter_epoll_p?wait$/ { ep += $1 / per }
				$3 ~ /sys_enter_futex$/ { fx = $1 / per }
				END { printf "  reads %.2f  writes %.2f  epoll waits %.2f  futex %.2f  context switches %.2f", rd, wr, ep, fx, cs }' "$work/perf.csv")
		fi
		echo "$line"
	done
done
