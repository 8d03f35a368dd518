#!/usr/bin/env bash
# Builds the gluenet-airflow wheels: one per platform MWAA runs on, each
# carrying a static gluenet binary (CGO_ENABLED=0, so no libc needed) built
# from this checkout:
#   gluenet_airflow-<version>-py3-none-manylinux2014_x86_64.whl
#   gluenet_airflow-<version>-py3-none-manylinux2014_aarch64.whl
#
#   scripts/build-wheels.sh [--out DIR] [--host-only]
#
# --host-only builds only this machine's platform (what CI installs and
# tests). The Python that builds needs pip, setuptools and wheel
# (GLUENET_WHEEL_PYTHON, default python3); the script checks that before it
# builds anything.
#
# The binary is stamped with a version (`gluenet version` prints it):
# GLUENET_VERSION if set, else `git describe --tags --always --dirty`
# (v0.1.0 on a tagged commit), else "dev". A wheel built from a tag vX.Y.Z
# should carry python/pyproject.toml's version X.Y.Z: the script warns when
# they differ.
set -euo pipefail
cd "$(dirname "$0")/.."

out=dist
host_only=false
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out="$2"; shift 2 ;;
	--host-only) host_only=true; shift ;;
	*) echo "build-wheels.sh: unknown argument $1 (use --out DIR, --host-only)" >&2; exit 2 ;;
	esac
done
PY="${GLUENET_WHEEL_PYTHON:-python3}"
if ! missing=$("$PY" - 2>&1 <<'PYCHECK'
import importlib.util, sys
gone = [m for m in ("pip", "setuptools", "wheel") if importlib.util.find_spec(m) is None]
if gone:
    print(" ".join(gone))
    sys.exit(1)
PYCHECK
); then
	echo "build-wheels.sh: $PY cannot build wheels: missing ${missing:-Python itself}." >&2
	echo "Install them first ($PY -m ensurepip if pip is missing, then $PY -m pip install setuptools wheel), or set GLUENET_WHEEL_PYTHON to a Python that has them. Nothing was built." >&2
	exit 2
fi
version=${GLUENET_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
pyversion=$(sed -n 's/^version = "\(.*\)"$/\1/p' python/pyproject.toml)
case "$version" in
v[0-9]*.*.*) if [ "${version#v}" != "$pyversion" ]; then
	echo "build-wheels.sh: warning: stamping gluenet $version into a wheel whose version is $pyversion (python/pyproject.toml)" >&2
fi ;;
esac
mkdir -p "$out"
out=$(cd "$out" && pwd)

case "$(uname -m)" in
x86_64) host=amd64 ;;
aarch64 | arm64) host=arm64 ;;
*) host=unknown ;;
esac
arches=(amd64 arm64)
if $host_only; then arches=("$host"); fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for goarch in "${arches[@]}"; do
	case "$goarch" in
	amd64) plat=manylinux2014_x86_64 ;;
	arm64) plat=manylinux2014_aarch64 ;;
	*) echo "build-wheels.sh: no wheel for this machine ($(uname -m))" >&2; exit 1 ;;
	esac
	src="$work/$goarch"
	mkdir -p "$src"
	cp -r python/pyproject.toml python/setup.py python/README.md python/src "$src/"
	rm -rf "$src"/src/*.egg-info
	start=$(date +%s)
	CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" go build -trimpath -ldflags "-s -w -X main.version=$version" \
		-o "$src/src/gluenet_airflow/bin/gluenet" ./cmd/gluenet
	chmod 0755 "$src/src/gluenet_airflow/bin/gluenet"
	echo "build-wheels.sh: gluenet for linux/$goarch built in $(($(date +%s) - start))s" >&2
	(cd "$src" && GLUENET_WHEEL_PLAT="$plat" "$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$out" . >&2)
done
ls -1 "$out"/gluenet_airflow-*.whl
