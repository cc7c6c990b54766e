#!/usr/bin/env bash
# Builds the e2e tier's toolchain from the Go module proxy (no release downloads) and caches it
# outside the repository, one folder per component and version:
#   ${DIFY_E2E_CACHE:-$HOME/.cache/dify-e2e}/<component>-<version>/bin
# A folder with a `.done` marker is reused as it is, so a warm run takes seconds.
#
#   scripts/e2e/toolchain.sh            build (or reuse) every component
#   scripts/e2e/toolchain.sh etcd kwok  only these
#   scripts/e2e/toolchain.sh --env      print `export PATH=...` for the cached bin folders
#
# Builds run at low priority (nice 10, GOFLAGS=-p=2) so they share the 2 cores politely.
# Each component's wall time goes to $CACHE/timings.log; a component that fails to build is
# recorded in $CACHE/<component>-<version>.failed (with the error's tail) and the others go on.
set -uo pipefail

CACHE="${DIFY_E2E_CACHE:-$HOME/.cache/dify-e2e}"
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$CACHE"

# Versions. The Pulumi CLI follows the Python SDK pinned in requirements.txt (3.272.0); the module
# proxy serves pkg/v3 at v3.274.0 as the nearest release at or above it (v3.272.0 is refused), and
# any CLI at or above the SDK runs it.
PULUMI_VERSION="${PULUMI_VERSION:-v3.274.0}"
# The provider module has no tags of its own; this is the pseudo-version the proxy serves.
K8S_PROVIDER_MODULE_VERSION="${K8S_PROVIDER_MODULE_VERSION:-v4.0.0-20260115033456-f47bc2d6f199}"
K8S_PROVIDER_VERSION="${K8S_PROVIDER_VERSION:-4.25.0}"
# Its sdk/v4 (replaced with ../sdk upstream) is not served at v4.25.0; the wrapper requires a served one
# (the provider's other requirements need at least v4.24.0).
K8S_SDK_MODULE_VERSION="${K8S_SDK_MODULE_VERSION:-v4.24.0}"
RANDOM_PROVIDER_VERSION="${RANDOM_PROVIDER_VERSION:-4.21.4}"
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"

export CGO_ENABLED=0
# -p=2 first, so a GOFLAGS of the caller's that sets -p wins.
export GOFLAGS="-p=2 ${GOFLAGS:-} -buildvcs=false"
export GOTOOLCHAIN=local
export GONOSUMDB="${GONOSUMDB:-}"
NICE="nice -n 10"

log() { printf '[toolchain %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Our own sources are keyed by their content too.
srchash() { cat "$HERE/$1"/*.go | sha256sum | cut -c1-10; }

# component name -> folder
dir_of() {
  case "$1" in
    pulumi) echo "$CACHE/pulumi-$PULUMI_VERSION" ;;
    language-python) echo "$CACHE/language-python-$PULUMI_VERSION-$(srchash langhost)" ;;
    kubernetes-provider) echo "$CACHE/kubernetes-provider-$K8S_PROVIDER_VERSION" ;;
    random-provider) echo "$CACHE/random-provider-$RANDOM_PROVIDER_VERSION-$(srchash randomprovider)" ;;
    kubernetes) echo "$CACHE/kubernetes-$KUBERNETES_VERSION" ;;
    etcd) echo "$CACHE/etcd-$ETCD_VERSION" ;;
    kwok) echo "$CACHE/kwok-$KWOK_VERSION" ;;
    *) return 1 ;;
  esac
}
ALL="kubernetes etcd kwok pulumi language-python kubernetes-provider random-provider"

# A fresh wrapper module (outside the repository) for one component.
wrapper() {
  local d="$1/src"
  rm -rf "$d" && mkdir -p "$d" && cd "$d" && go mod init "dify-e2e/$2" >/dev/null 2>&1
}

build_kubernetes() {
  local out="$1" v="$KUBERNETES_VERSION" minor patch
  minor="$(echo "$v" | cut -d. -f2)"; patch="$(echo "$v" | cut -d. -f3)"
  wrapper "$out" kubernetes || return 1
  go mod download -json "k8s.io/kubernetes@$v" >/dev/null || return 1
  # k8s.io/kubernetes requires its staging modules at v0.0.0 through ./staging replaces: point each
  # at its published v0.<minor>.<patch> instead.
  local modfile
  modfile="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$v.mod"
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile" | while read -r m; do
    go mod edit -replace "$m=$m@v0.$minor.$patch"
  done
  $NICE go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$v" "k8s.io/kubernetes/cmd/kube-controller-manager@$v" \
    "k8s.io/kubernetes/cmd/kube-scheduler@$v" || return 1
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  ld="$ld -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ) -X $pkg.gitCommit=0000000000000000000000000000000000000000"
  # client-go carries its own copy of the version variables
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$v -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  : "$patch"
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    $NICE go build -trimpath -ldflags "$ld" -o "$out/bin/$c" "k8s.io/kubernetes/cmd/$c" || return 1
  done
}

build_etcd() {
  local out="$1"
  wrapper "$out" etcd || return 1
  # etcd's server module is itself the `etcd` main package (server/main.go).
  $NICE go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" || return 1
  $NICE go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3 || return 1
}

build_kwok() {
  local out="$1"
  wrapper "$out" kwok || return 1
  $NICE go get -tool "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" || return 1
  $NICE go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    -o "$out/bin/kwok" sigs.k8s.io/kwok/cmd/kwok || return 1
  # kwok runs no stage it is not given: the module's fast node and pod stages (nodes become Ready and
  # keep a heartbeat, pods become Running and Ready at once, pods of Jobs complete, deleted pods go),
  # as one config file: $out/stages/kwok.yaml.
  local dir st
  dir="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  st="$dir/kustomize/stage"
  mkdir -p "$out/stages"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml \
           pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ -f "$st/$f" ] || { echo "missing kwok stage $f"; return 1; }
    { echo "---"; cat "$st/$f"; } >>"$out/stages/kwok.yaml"
  done
}

build_pulumi() {
  local out="$1"
  wrapper "$out" pulumi || return 1
  # pkg/v3 replaces sdk/v3 with ../sdk, so `go install pkg@v` is refused: a wrapper requiring both
  # at the same version builds it.
  go mod edit -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" || return 1
  $NICE go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" \
    "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" || return 1
  $NICE go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$out/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi || return 1
}

# Our own Go sources (scripts/e2e/<dir>), built in a wrapper against the served sdk/v3.
build_own() {
  local out="$1" name="$2" srcdir="$3" bin="$4" ld="$5"
  wrapper "$out" "$name" || return 1
  cp "$HERE/$srcdir"/*.go . || return 1
  go mod edit -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" || return 1
  $NICE go mod tidy || return 1
  $NICE go build -trimpath -ldflags "-s -w $ld" -o "$out/bin/$bin" . || return 1
}

# Pulumi's Python language host (module github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3)
# is not served by the proxy (403 "This module version is not available" for every version):
# scripts/e2e/langhost is a small host of our own. Its executor script ships in sdk/v3.
build_language_python() {
  local out="$1"
  build_own "$out" langhost langhost pulumi-language-python \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" || return 1
  local sdkdir
  sdkdir="$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$out/bin/pulumi-language-python-exec" || return 1
}
build_language-python() { build_language_python "$@"; }

# pulumi-random's provider (github.com/pulumi/pulumi-random/provider/v4, and its shim module) is not
# served by the proxy at any version: scripts/e2e/randomprovider is a stand-in serving RandomPassword
# and RandomString.
build_random-provider() {
  build_own "$1" randomprovider randomprovider pulumi-resource-random "-X main.version=$RANDOM_PROVIDER_VERSION"
}

# The proxy serves github.com/pulumi/pulumi-kubernetes/provider/v4 at one pseudo-version only, the
# commit tagged v4.25.0 (the SDK pin 4.34.2 is not served). The provider module replaces its sdk/v4
# with ../sdk: the wrapper requires a served sdk/v4 instead. The cmd folder embeds
# schema-embed.json and terraform-mapping-embed.json, which the module zip lacks: copy the folder
# into the wrapper, run its generate.go with VERSION, then build it there.
build_kubernetes-provider() {
  local out="$1" mv="$K8S_PROVIDER_MODULE_VERSION" v="$K8S_PROVIDER_VERSION"
  wrapper "$out" kubernetes-provider || return 1
  local dir
  dir="$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$mv" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')"
  [ -n "$dir" ] || return 1
  go mod edit -require "github.com/pulumi/pulumi-kubernetes/provider/v4@$mv" \
    -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@$K8S_SDK_MODULE_VERSION" || return 1
  mkdir -p cmd && cp -r "$dir/cmd/pulumi-resource-kubernetes" cmd/ && chmod -R u+w cmd || return 1
  # The provider's own go.sum is the best start for its dependency versions.
  cp "$dir/go.sum" go.sum && chmod u+w go.sum
  # Require exactly what the provider's go.mod requires, so MVS keeps its versions.
  local modfile
  modfile="$(go env GOMODCACHE)/cache/download/github.com/pulumi/pulumi-kubernetes/provider/v4/@v/$mv.mod"
  awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r&&NF>=2&&$1!="//"{print $1"@"$2} /^require [^(]/{print $2"@"$3}' "$modfile" \
    | grep -v 'pulumi-kubernetes/sdk/v4' | while read -r req; do go mod edit -require "$req"; done
  (cd cmd/pulumi-resource-kubernetes && VERSION="$v" $NICE go run generate.go) || return 1
  $NICE go mod tidy || return 1
  $NICE go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$v" \
    -o "$out/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes || return 1
}

build_one() {
  local c="$1" out start rc
  out="$(dir_of "$c")" || { log "unknown component $c"; return 2; }
  if [ -f "$out/.done" ]; then log "$c: cached in $out"; return 0; fi
  rm -rf "$out" "$out.failed"; mkdir -p "$out/bin"
  log "$c: building into $out"
  start=$(date +%s)
  ( "build_$c" "$out" ) >"$out.log" 2>&1
  rc=$?
  local secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    touch "$out/.done"
    echo "$(date -u +%FT%TZ) $c $(basename "$out") ok ${secs}s" >>"$CACHE/timings.log"
    log "$c: built in ${secs}s"
  else
    { echo "$c ($(basename "$out")) failed after ${secs}s:"; tail -n 40 "$out.log"; } >"$out.failed"
    echo "$(date -u +%FT%TZ) $c $(basename "$out") FAILED ${secs}s" >>"$CACHE/timings.log"
    log "$c: FAILED after ${secs}s, see $out.failed"
    rm -rf "$out"
  fi
  return $rc
}

print_env() {
  local p="" c out
  for c in $ALL; do
    out="$(dir_of "$c")"
    [ -f "$out/.done" ] && p="$out/bin:$p"
  done
  echo "export PATH=\"$p\$PATH\""
}

main() {
  if [ "${1:-}" = "--env" ]; then print_env; return 0; fi
  command -v go >/dev/null || { log "go is not installed (the toolchain is built from Go modules)"; return 1; }
  local comps="${*:-$ALL}" c failed=""
  for c in $comps; do
    build_one "$c" || failed="$failed $c"
  done
  if [ -n "$failed" ]; then
    log "not built:$failed (the e2e tier skips what needs them)"
  fi
  return 0
}

main "$@"
