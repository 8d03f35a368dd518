#!/usr/bin/env bash
# release.sh builds gluenet's release binaries: static (CGO_ENABLED=0, so
# they run on any Linux or macOS of their architecture without a C library
# to match), reproducible (-trimpath, no build ID), stripped (-s -w), for
# linux and darwin on amd64 and arm64, and writes SHA256SUMS next to them.
#
# Usage: scripts/release.sh [VERSION]      (default: git describe, or "dev")
# Environment:
#   RELEASE_DIR      output directory (default dist/)
#   RELEASE_TARGETS  space-separated GOOS/GOARCH pairs (default: all four)
#
# Output: $RELEASE_DIR/gluenet-VERSION-GOOS-GOARCH and SHA256SUMS, and a
# line per binary with its size. Check a download with
#   sha256sum --check --ignore-missing SHA256SUMS      (Linux)
#   shasum -a 256 --check --ignore-missing SHA256SUMS  (macOS)
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out=${RELEASE_DIR:-dist}
targets=${RELEASE_TARGETS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64"}

mkdir -p "$out"
names=()
for t in $targets; do
  goos=${t%/*}
  goarch=${t#*/}
  name="gluenet-$version-$goos-$goarch"
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -buildid= -X main.version=$version" -o "$out/$name" ./cmd/gluenet
  names+=("$name")
  size=$(wc -c <"$out/$name")
  awk -v n="$name" -v b="$size" 'BEGIN { printf "%-40s %10d bytes (%.1f MiB)\n", n, b, b / 1048576 }'
done

(
  cd "$out"
  if command -v sha256sum >/dev/null; then
    sha256sum "${names[@]}"
  else
    shasum -a 256 "${names[@]}"
  fi
) >"$out/SHA256SUMS"
echo "wrote $out/SHA256SUMS"
