#!/usr/bin/env bash
# Creates (or refreshes) the Python virtual environment holding Hatchet's official SDK, pinned, for
# the tests that run it against the fake engine (tests/official_python_sdk.rs).
# Usage: python-sdk-venv.sh [VENV_DIR]   (default: <workspace>/target/hatchet-sdk-venv)
set -euo pipefail
HATCHET_SDK_VERSION="1.43.1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-${HATCHET_SDK_VENV:-$root/target/hatchet-sdk-venv}}"
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "python3 is missing: install Python 3.10 or later (Debian/Ubuntu: apt-get install python3 python3-venv)" >&2
  exit 1
fi
if [ -x "$venv/bin/python" ] &&
  [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("hatchet-sdk"))' 2>/dev/null)" = "$HATCHET_SDK_VERSION" ]; then
  echo "hatchet-sdk $HATCHET_SDK_VERSION is ready in $venv"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv" || {
  echo "could not create a virtual environment with $python: install the venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2
  exit 1
}
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "hatchet-sdk==$HATCHET_SDK_VERSION"
echo "installed hatchet-sdk $HATCHET_SDK_VERSION in $venv"
