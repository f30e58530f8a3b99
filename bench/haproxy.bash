# bench/haproxy.bash: sourced by the bench scripts that compare the
# listener with HAProxy. Not a script of its own.

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
