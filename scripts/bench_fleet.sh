#!/usr/bin/env bash
# A fleet on one state store (issue 20): N concurrent `gluenet run`
# processes against a simulated region on SQLite, Postgres and DynamoDB
# (moto's server, then dynalite), N = 20, 50, 100 unless FLEET_NS says
# otherwise. Prints the Markdown tables docs/benchmarks.md shows; see
# bench/cmd/fleetbench for what each column counts.
#
#   bash scripts/bench_fleet.sh              # FLEET_NS=20,50 for a quicker run
set -euo pipefail
cd "$(dirname "$0")/.."
NS="${FLEET_NS:-20,50,100}"
BIN=$(mktemp -d)/gluenet
go build -o "$BIN" ./cmd/gluenet
eval "$(bash .ci/postgres.sh)"
eval "$(bash .ci/dynamodb.sh)"
moto=${GLUENET_TEST_DYNAMODB_ENDPOINTS#*moto=}; moto=${moto%%,*}
dynalite=${GLUENET_TEST_DYNAMODB_ENDPOINTS#*dynalite=}; dynalite=${dynalite%%,*}
echo "## SQLite, Postgres, DynamoDB on moto ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores)"
go run ./bench/cmd/fleetbench -gluenet "$BIN" -ns "$NS" -stores sqlite,postgres,dynamodb \
	-postgres-dsn "$GLUENET_TEST_POSTGRES_DSN" -dynamodb-endpoint "$moto"
echo
echo "## DynamoDB on dynalite"
go run ./bench/cmd/fleetbench -gluenet "$BIN" -ns "$NS" -stores dynamodb -dynamodb-endpoint "$dynalite"
rm -rf "$(dirname "$BIN")"
