#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the store/postgres tests and prints the
# DSN to export. Run as root; safe to run again (it reuses what is there).
#
#   eval "$(.ci/postgres.sh | grep '^export ')"
#   go test ./store/postgres/...
#
# The cluster lives under /tmp (data dir $PGDATA_DIR), listens on 127.0.0.1
# only, and keeps its Unix socket in its own directory so it never collides
# with a system cluster's socket.
set -euo pipefail

PORT="${GLUENET_PG_PORT:-5432}"
PGDATA_DIR="${GLUENET_PG_DATA:-/tmp/gluenet-postgres/data}"
SOCKET_DIR="${GLUENET_PG_SOCKETS:-/tmp/gluenet-postgres/sockets}"
LOG_FILE="${GLUENET_PG_LOG:-/tmp/gluenet-postgres/server.log}"
DSN="postgres://gluenet:gluenet@127.0.0.1:${PORT}/gluenet?sslmode=disable"

log() { echo "postgres.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
	log "run as root (it installs packages and switches to the postgres user)"
	exit 1
fi

pg_bin_dir() {
	# The newest installed server version, e.g. /usr/lib/postgresql/15/bin.
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(pg_bin_dir)" ] || [ ! -x "$(pg_bin_dir)/pg_ctl" ]; then
	log "installing Debian's postgresql"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq postgresql >&2
	# Where the package started its own "main" cluster, it holds the port
	# this script wants; this script's cluster under /tmp replaces it.
	if command -v pg_lsclusters >/dev/null; then
		pg_lsclusters --no-header 2>/dev/null | while read -r ver name port status _; do
			if [ "$port" = "$PORT" ] && [ "$status" = online ]; then
				pg_ctlcluster "$ver" "$name" stop >&2 || true
			fi
		done
	fi
fi
BIN="$(pg_bin_dir)"
if [ -z "$BIN" ]; then
	log "no PostgreSQL server binaries found under /usr/lib/postgresql"
	exit 1
fi

as_postgres() { runuser -u postgres -- "$@"; }

mkdir -p "$(dirname "$PGDATA_DIR")" "$SOCKET_DIR"
chown postgres:postgres "$(dirname "$PGDATA_DIR")" "$SOCKET_DIR"
chmod 0700 "$(dirname "$PGDATA_DIR")"

if [ ! -s "$PGDATA_DIR/PG_VERSION" ]; then
	log "initialising a cluster in $PGDATA_DIR"
	as_postgres "$BIN/initdb" -D "$PGDATA_DIR" -U postgres \
		--auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >&2 ||
		as_postgres "$BIN/initdb" -D "$PGDATA_DIR" -U postgres \
			--auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >&2
fi

ready() { "$BIN/pg_isready" -q -h "$SOCKET_DIR" -p "$PORT" -U postgres; }

if ! ready; then
	if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
		log "another server already listens on 127.0.0.1:$PORT; stop it or set GLUENET_PG_PORT"
		exit 1
	fi
	log "starting PostgreSQL on 127.0.0.1:$PORT"
	# A stale pid file from a killed server would stop pg_ctl; it removes it
	# itself when the pid is not running, so only a plain start is needed.
	as_postgres "$BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOG_FILE" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCKET_DIR -c max_connections=200 -c fsync=off" \
		start >&2
fi

for _ in $(seq 1 60); do
	ready && break
	sleep 1
done
if ! ready; then
	log "PostgreSQL did not become ready; see $LOG_FILE"
	exit 1
fi

psql_su() { as_postgres "$BIN/psql" -h "$SOCKET_DIR" -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = 'gluenet'")" != "1" ]; then
	log "creating role gluenet"
	psql_su -c "CREATE ROLE gluenet LOGIN PASSWORD 'gluenet'"
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = 'gluenet'")" != "1" ]; then
	log "creating database gluenet"
	psql_su -c "CREATE DATABASE gluenet OWNER gluenet"
fi

echo "export GLUENET_TEST_POSTGRES_DSN='${DSN}'"
