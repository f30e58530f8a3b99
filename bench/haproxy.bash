# bench/haproxy.bash: sourced by the bench scripts that compare the
# listener with HAProxy (it starts both). Not a script of its own.

# start_haproxy WORK DB_ADDR NBTHREAD starts HAProxy in TCP mode in front
# of DB_ADDR (one backend connection per client, as a plain relay has),
# with its config and log in WORK, appends its pid to the caller's pids
# array, and sets hp_port to the loopback port it listens on once it
# accepts connections.
start_haproxy() {
	local work=$1 db_addr=$2 nbthread=$3 i
	# A free loopback port for HAProxy, which cannot report the one it
	# got: ask the kernel for one and give it back.
	hp_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$work/haproxy.cfg" <<-EOC
		global
		    maxconn 4096
		    nbthread $nbthread
		defaults
		    mode tcp
		    timeout connect 5s
		    timeout client 1h
		    timeout server 1h
		frontend sysbench
		    bind 127.0.0.1:$hp_port
		    default_backend mariadb
		backend mariadb
		    server db $db_addr
	EOC
	haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
	pids+=($!)
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$hp_port") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "haproxy did not start listening on 127.0.0.1:$hp_port:" >&2
	cat "$work/haproxy.log" >&2
	return 1
}

# start_listener WORK DB_ADDR BACKENDS NAME [VAR=VALUE...] starts the
# listener built at WORK/rdsmux in front of DB_ADDR with at most BACKENDS
# backend connections and the given environment, logging to WORK/NAME.log,
# appends its pid to the caller's pids array, and sets ls_pid and ls_port
# once it logs the address it listens on.
start_listener() {
	local work=$1 db_addr=$2 backends=$3 name=$4 i addr
	shift 4
	env "$@" "$work/rdsmux" -listen 127.0.0.1:0 -target "$db_addr" -user sbtest:sbtest -backend-database sbtest \
		-max-connections "$backends" 2>"$work/$name.log" &
	ls_pid=$!
	pids+=("$ls_pid")
	for i in $(seq 600); do
		addr=$(grep -o '"addr":"[^"]*"' "$work/$name.log" 2>/dev/null | head -1 | cut -d'"' -f4)
		if [ -n "$addr" ]; then
			ls_port=${addr##*:}
			return 0
		fi
		if ! kill -0 "$ls_pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "cmd/rdsmux ($name) did not start listening:" >&2
	cat "$work/$name.log" >&2
	return 1
}
