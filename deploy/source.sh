#!/usr/bin/env bash
# Usage: deploy/source.sh OUT EXTRAS FILE...
# Build a function source folder that the platform builds remotely: FILE... (the entry files),
# the stricture-server wheel, and a requirements.txt installing it with EXTRAS, since the
# platform's build installs requirements.txt from the uploaded folder.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
out="$1"
extras="$2"
shift 2

rm -rf "$out"
mkdir -p "$out"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out" "$root"
wheel="$(basename "$(ls "$out"/stricture_server-*.whl)")"
cp "$@" "$out/"
echo "./${wheel}[${extras}]" > "$out/requirements.txt"
echo "$out"
