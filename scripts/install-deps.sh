#!/usr/bin/env bash
# Installs what the tests need from Debian's packages when it is missing:
# the MariaDB server and client, PyMySQL and sysbench (real clients the
# listener is tested with). Safe to run again; does nothing when all is there.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
command -v sysbench >/dev/null 2>&1 || need+=(sysbench)
/usr/bin/python3 -c 'import pymysql' >/dev/null 2>&1 || need+=(python3-pymysql)
command -v make >/dev/null 2>&1 || need+=(make)

if [ ${#need[@]} -eq 0 ]; then
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
	echo "install-deps: missing ${need[*]} and no apt-get here; install the MariaDB server (mariadbd), its client, sysbench and PyMySQL with your package manager" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package may start a system-wide server; the tests start their own.
if command -v service >/dev/null 2>&1; then
	$SUDO service mariadb stop >/dev/null 2>&1 || true
fi
