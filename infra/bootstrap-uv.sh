#!/usr/bin/env bash
# Prints the path of a uv binary, installing a pinned uv from PyPI into .local/tools when the
# machine has none (a fresh machine needs only Python 3.11).
set -euo pipefail
. "$(dirname "$0")/env.sh"
UV_VERSION=${FOLLOWUP_UV_VERSION:-0.13.8}
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
TOOLS=$FOLLOWUP_ROOT/.local/tools
if [ ! -x "$TOOLS/uv/bin/uv" ]; then
  log "installing uv $UV_VERSION from PyPI into $TOOLS/uv"
  python3 -m venv "$TOOLS/uv" >&2 || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$TOOLS/uv/bin/pip" install -q "uv==$UV_VERSION" >&2 || die "pip could not install uv from PyPI"
fi
echo "$TOOLS/uv/bin/uv"
