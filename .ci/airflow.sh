#!/usr/bin/env bash
# Prepares the Python side of CI: a virtual environment with Apache Airflow
# and the Amazon provider, pinned exactly by a requirements file
# ($AIRFLOW_REQS, default python/requirements/airflow-2.10.txt; Airflow 3 is
# python/requirements/airflow-3.txt), then the gluenet-airflow wheel for
# this machine (built by scripts/build-wheels.sh, carrying a static gluenet
# binary) installed into it. Prints the variables to export:
#
#   eval "$(bash .ci/airflow.sh)"
#   "$GLUENET_AIRFLOW_VENV/bin/python" -m pytest python/tests
#   eval "$(AIRFLOW_REQS=python/requirements/airflow-3.txt bash .ci/airflow.sh)"
#
# The environment is cached under $GLUENET_CACHE (default ~/.cache/gluenet)
# as airflow-<first 16 hex of the requirements file's sha256>: a run whose
# requirements file is unchanged reuses it; a changed file makes a new one.
# Installing takes about three minutes on a cold cache.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "airflow.sh: $*" >&2; }

REQS="${AIRFLOW_REQS:-python/requirements/airflow-2.10.txt}"
[ -f "$REQS" ] || { log "no requirements file $REQS (AIRFLOW_REQS is a path from the repo root)"; exit 2; }
CACHE="${GLUENET_CACHE:-$HOME/.cache/gluenet}"
hash=$(sha256sum "$REQS" | cut -c1-16)
VENV="$CACHE/airflow-$hash"
PY="${GLUENET_PYTHON:-python3}"

mkdir -p "$CACHE"
# One install at a time per cache; a second CI run waits for the first.
exec 9>"$CACHE/airflow-$hash.lock"
flock 9
if [ -f "$VENV/.complete" ]; then
	log "reusing $VENV"
else
	rm -rf "$VENV"
	log "creating $VENV ($("$PY" --version)), installing $REQS"
	start=$(date +%s)
	"$PY" -m venv "$VENV"
	if ! { "$VENV/bin/pip" install -q pip==26.3 wheel==0.48.0 setuptools==84.2.1 >&2 &&
		"$VENV/bin/pip" install -q --no-deps -r "$REQS" >&2 &&
		"$VENV/bin/pip" check >&2; }; then
		log "install failed; removing $VENV"
		rm -rf "$VENV"
		exit 1
	fi
	touch "$VENV/.complete"
	log "installed in $(($(date +%s) - start))s"
fi
flock -u 9

# The wheel for this machine's architecture, with the binary built from
# this checkout: tests run the gluenet that ships in the wheel.
DIST="${GLUENET_WHEEL_DIR:-/tmp/gluenet-wheels}"
rm -rf "$DIST"
GLUENET_WHEEL_PYTHON="$VENV/bin/python" bash scripts/build-wheels.sh --host-only --out "$DIST" >&2
"$VENV/bin/pip" install -q --force-reinstall --no-deps "$DIST"/gluenet_airflow-*.whl >&2
log "installed $(basename "$DIST"/gluenet_airflow-*.whl)"

echo "export GLUENET_AIRFLOW_VENV=$VENV"
