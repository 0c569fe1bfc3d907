#!/usr/bin/env bash
# Creates (or refreshes) the Python virtual environment holding the official MCP Python SDK (the `mcp` package),
# pinned, for the test that drives `mageflow mcp` with an independent MCP client (mageflow-cli/tests/mcp.rs).
# Usage: mcp-client-venv.sh [VENV_DIR]   (default: <workspace>/target/mcp-client-venv)
set -euo pipefail
MCP_VERSION="2.3.0"
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-${MCP_CLIENT_VENV:-$root/target/mcp-client-venv}}"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "python3 is missing: install Python 3.10 or later (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ -x "$venv/bin/python" ] &&
  [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null)" = "$MCP_VERSION" ]; then
  echo "mcp $MCP_VERSION is ready in $venv"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv" || {
  echo "could not create a virtual environment with $python: install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2
  exit 1
}
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_VERSION"
echo "installed mcp $MCP_VERSION in $venv"
