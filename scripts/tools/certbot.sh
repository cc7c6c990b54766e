#!/usr/bin/env bash
# Installs certbot, the version the Docker target's ACME container runs (components/images.py), from
# PyPI into a virtualenv in a cache outside the repository, and prints the path of its command:
#   ${DIFY_TOOLS_CACHE:-$HOME/.cache/dify-tools}/certbot-<version>/bin/certbot
set -euo pipefail

CERTBOT_VERSION="${CERTBOT_VERSION:-5.8.0}"
CACHE="${DIFY_TOOLS_CACHE:-$HOME/.cache/dify-tools}"
DIR="$CACHE/certbot-$CERTBOT_VERSION"

if [ -x "$DIR/bin/certbot" ] && "$DIR/bin/certbot" --version >/dev/null 2>&1; then
  echo "$DIR/bin/certbot"
  exit 0
fi
start=$(date +%s)
python3 -m venv "$DIR" >&2
"$DIR/bin/pip" install --quiet "certbot==$CERTBOT_VERSION" >&2
echo "certbot $CERTBOT_VERSION installed in $(( $(date +%s) - start ))s" >&2
echo "$DIR/bin/certbot"
