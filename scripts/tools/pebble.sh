#!/usr/bin/env bash
# Builds pebble (Let's Encrypt's ACME test server) from the Go module proxy into a cache outside the
# repository and prints its path:
#   ${DIFY_TOOLS_CACHE:-$HOME/.cache/dify-tools}/pebble-<version>/pebble
# A cached binary is reused as it is; a cold build takes about a minute (README, "TLS certificates").
set -euo pipefail

PEBBLE_VERSION="${PEBBLE_VERSION:-v2.10.3}"
CACHE="${DIFY_TOOLS_CACHE:-$HOME/.cache/dify-tools}"
DIR="$CACHE/pebble-$PEBBLE_VERSION"

if [ -x "$DIR/pebble" ] && "$DIR/pebble" -version >/dev/null 2>&1; then
  echo "$DIR/pebble"
  exit 0
fi
mkdir -p "$DIR"
start=$(date +%s)
GOBIN="$DIR" GOFLAGS="${GOFLAGS:--p=2} -mod=mod" nice -n 10 \
  go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION" >&2
echo "pebble $PEBBLE_VERSION built in $(( $(date +%s) - start ))s" >&2
echo "$DIR/pebble"
