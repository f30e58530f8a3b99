#!/usr/bin/env bash
# Installs what the tests need from Debian's packages when it is missing:
# the MariaDB server and client, sysbench, and the real client libraries the
# listener is tested with (proxy's client matrix: PyMySQL, mysqlclient, PHP's
# PDO and mysqli, Perl's DBD::MariaDB, and Node's mysql2 from npm, installed
# from the committed lockfile). Safe to run again; does nothing when all is
# there.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
/usr/bin/python3 -c 'import pymysql' >/dev/null 2>&1 || need+=(python3-pymysql)
command -v make >/dev/null 2>&1 || need+=(make)
/usr/bin/python3 -c 'import MySQLdb' >/dev/null 2>&1 || need+=(python3-mysqldb)
[ -x /usr/bin/php ] || need+=(php-cli)
{ [ -x /usr/bin/php ] && /usr/bin/php -r "exit(extension_loaded('pdo_mysql') && extension_loaded('mysqli') ? 0 : 1);" >/dev/null 2>&1; } || need+=(php-mysql)
/usr/bin/perl -MDBD::MariaDB -e 1 >/dev/null 2>&1 || need+=(libdbd-mariadb-perl)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v redis-server >/dev/null 2>&1 || command -v valkey-server >/dev/null 2>&1 || need+=(redis-server)

# Node's mysql2 for the client matrix, from the committed lockfile.
node_clients() {
	local dir=proxy/testdata/clients/node
	if [ -d "$dir/node_modules/mysql2" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
		return 0
	fi
	echo "install-deps: npm ci in $dir" >&2
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

if [ ${#need[@]} -eq 0 ]; then
	node_clients
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: missing ${need[*]}; install them with: apt-get install ${need[*]}" >&2
		exit 1
	fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing ${need[*]} and no apt-get here; install ${need[*]} (Debian names) with your package manager" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The tests start their own MariaDB servers and never use a system one, so
# no service is started, stopped or restarted here: while the packages
# install, a policy-rc.d answering 101 ("action forbidden") keeps
# invoke-rc.d/deb-systemd-invoke from starting the mariadb service, and a
# MariaDB service the user already runs is left as it is. An existing
# policy-rc.d is not touched.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# installed by rdsmux scripts/install-deps.sh for the duration of an install\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 0755 "$policy"
	trap '$SUDO rm -f "$policy"' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
node_clients
