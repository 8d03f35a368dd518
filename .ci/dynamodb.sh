#!/usr/bin/env bash
# Starts two independent DynamoDB emulators on loopback for the
# store/dynamodb tests and prints what to export:
#
#   - moto's server (moto_server, shipped with the machine's Python 3.11);
#   - dynalite (npm, pinned below), installed once into a cache directory.
#
#   eval "$(bash .ci/dynamodb.sh)"
#   go test ./store/dynamodb/...
#   bash .ci/dynamodb.sh stop        # ends the servers this script started
#
# GLUENET_TEST_DYNAMODB_ENDPOINTS is a comma-separated list of name=URL; the
# tests run once against each. Safe to run again: a server already
# answering on its port is reused.
set -euo pipefail

DYNALITE_VERSION=4.0.0
MOTO_PORT="${GLUENET_MOTO_DYNAMODB_PORT:-5601}"
DYNALITE_PORT="${GLUENET_DYNALITE_PORT:-5602}"
CACHE="${GLUENET_CACHE:-$HOME/.cache/gluenet}"
RUN_DIR="${GLUENET_DYNAMODB_RUN:-/tmp/gluenet-dynamodb}"

log() { echo "dynamodb.sh: $*" >&2; }

mkdir -p "$RUN_DIR"

if [ "${1:-}" = stop ]; then
	for name in moto dynalite; do
		pidfile="$RUN_DIR/$name.pid"
		if [ -s "$pidfile" ]; then
			pid="$(cat "$pidfile")"
			# werkzeug may let the first TERM pass while it serves: ask
			# again, then insist.
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				kill "$pid" 2>/dev/null || break
				sleep 0.5
			done
			kill -9 "$pid" 2>/dev/null || true
			rm -f "$pidfile"
		fi
	done
	exit 0
fi

# answers reports whether a DynamoDB endpoint answers ListTables.
answers() {
	curl -s -o /dev/null -m 2 -w '%{http_code}' -X POST "http://127.0.0.1:$1/" \
		-H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
		-H 'Content-Type: application/x-amz-json-1.0' \
		-H 'X-Amz-Date: 20200101T000000Z' \
		-H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
		-d '{}' 2>/dev/null | grep -q '^200$'
}

wait_for() {
	local name=$1 port=$2 log_file=$3
	for _ in $(seq 1 120); do
		answers "$port" && return 0
		sleep 0.5
	done
	log "$name did not answer on 127.0.0.1:$port; see $log_file"
	tail -20 "$log_file" >&2 || true
	exit 1
}

# moto: the machine image ships it (Python 3.11, moto[server]). Its server,
# as moto_server starts it, serves requests on threads and does not make a
# conditional write atomic: two concurrent puts conditioned on an item's
# absence can both succeed (seen as two holders of one lease in
# store/dynamodb's TestShared). DynamoDB documents conditional writes as
# atomic, and gluenet relies on it, so moto runs here on one thread: the
# same application and server as moto_server, with threaded=False.
if ! answers "$MOTO_PORT"; then
	command -v moto_server >/dev/null || { log "moto_server missing: pip install 'moto[server]'"; exit 1; }
	MOTO_PY=python3
	"$MOTO_PY" -c 'import moto.server' || { log "$MOTO_PY cannot import moto.server: pip install 'moto[server]'"; exit 1; }
	log "starting moto's server (one thread) on 127.0.0.1:$MOTO_PORT"
	MOTO_PORT="$MOTO_PORT" setsid nohup "$MOTO_PY" -c '
import sys
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
run_simple(sys.argv[1], int(sys.argv[2]), DomainDispatcherApplication(create_backend_app), threaded=False)
' 127.0.0.1 "$MOTO_PORT" >"$RUN_DIR/moto.log" 2>&1 </dev/null &
	echo $! >"$RUN_DIR/moto.pid"
	wait_for moto "$MOTO_PORT" "$RUN_DIR/moto.log"
fi

# dynalite: npm, pinned, installed once per version into the cache.
DYNALITE_DIR="$CACHE/dynalite-$DYNALITE_VERSION"
DYNALITE_BIN="$DYNALITE_DIR/node_modules/.bin/dynalite"
if [ ! -x "$DYNALITE_BIN" ]; then
	command -v npm >/dev/null || { log "npm missing: apt-get install nodejs npm"; exit 1; }
	log "installing dynalite@$DYNALITE_VERSION into $DYNALITE_DIR"
	mkdir -p "$DYNALITE_DIR"
	npm install --prefix "$DYNALITE_DIR" --no-audit --no-fund --loglevel=error "dynalite@$DYNALITE_VERSION" >&2
fi
if ! answers "$DYNALITE_PORT"; then
	log "starting dynalite on 127.0.0.1:$DYNALITE_PORT"
	# In memory (no --path): every start is empty. --createTableMs and
	# --deleteTableMs 0: tables are ACTIVE at once, as moto's are.
	setsid nohup "$DYNALITE_BIN" --host 127.0.0.1 --port "$DYNALITE_PORT" \
		--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$RUN_DIR/dynalite.log" 2>&1 </dev/null &
	echo $! >"$RUN_DIR/dynalite.pid"
	wait_for dynalite "$DYNALITE_PORT" "$RUN_DIR/dynalite.log"
fi

echo "export GLUENET_TEST_DYNAMODB_ENDPOINTS='moto=http://127.0.0.1:${MOTO_PORT},dynalite=http://127.0.0.1:${DYNALITE_PORT}'"
