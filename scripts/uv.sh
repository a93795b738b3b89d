#!/usr/bin/env bash
# Runs the project's pinned uv (installed into .cache/ by scripts/install.sh) against the system Python.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
UV_VERSION="0.13.9"
uv_bin="$root/.cache/uv-venv/bin/uv"
if [ ! -x "$uv_bin" ] || [ "$("$uv_bin" --version | awk '{print $2}')" != "$UV_VERSION" ]; then
  echo "==> installing uv $UV_VERSION into .cache/uv-venv" >&2
  python3 -m venv "$root/.cache/uv-venv"
  "$root/.cache/uv-venv/bin/pip" install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
export UV_PYTHON_DOWNLOADS=never
export UV_PYTHON="${UV_PYTHON:-python3.11}"
cd "$root"
exec "$uv_bin" "$@"
