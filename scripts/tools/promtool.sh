#!/usr/bin/env bash
# Builds promtool (Prometheus's rule checker) from the Go module proxy into a cache outside the
# repository and prints its path:
#   ${DIFY_TOOLS_CACHE:-$HOME/.cache/dify-tools}/promtool-<version>/promtool
# A cached binary is reused as it is (seconds); a cold build takes minutes (README, "Monitoring").
set -euo pipefail

# Prometheus v3.16.0 (its Go module is versioned v0.<minor><patch>.x).
PROMTOOL_VERSION="${PROMTOOL_VERSION:-v0.316.0}"
CACHE="${DIFY_TOOLS_CACHE:-$HOME/.cache/dify-tools}"
DIR="$CACHE/promtool-$PROMTOOL_VERSION"

if [ -x "$DIR/promtool" ] && "$DIR/promtool" --version >/dev/null 2>&1; then
  echo "$DIR/promtool"
  exit 0
fi
mkdir -p "$DIR"
start=$(date +%s)
GOBIN="$DIR" GOFLAGS="${GOFLAGS:--p=2}" nice -n 10 \
  go install "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" >&2
echo "promtool $PROMTOOL_VERSION built in $(( $(date +%s) - start ))s" >&2
echo "$DIR/promtool"
