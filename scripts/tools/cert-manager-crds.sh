#!/usr/bin/env bash
# Fetches cert-manager's Go module (its CRDs sit in deploy/crds) from the Go module proxy into the module
# cache and prints the directory of the CRDs; the tests validate the ClusterIssuer the program declares
# against them. About 4 MB, seconds; a cached module is reused.
set -euo pipefail

CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.21.2}"
dir="$(go mod download -json "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -f "$dir/deploy/crds/cert-manager.io_clusterissuers.yaml" ] || { echo "no CRDs in $dir" >&2; exit 1; }
echo "$dir/deploy/crds"
