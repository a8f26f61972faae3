#!/usr/bin/env bash
# Build build/gcp/, the source directory Cloud Functions builds: adapters/gcp_functions/main.py,
# the stricture-server wheel, and a requirements.txt that installs it with its extras.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-python3}"
out="$root/build/gcp"

rm -rf "$out"
mkdir -p "$out"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out" "$root"
wheel="$(basename "$(ls "$out"/stricture_server-*.whl)")"
cp "$root/adapters/gcp_functions/main.py" "$out/"
# Cloud Build installs requirements.txt from the uploaded source, so the wheel travels with it.
echo "./${wheel}[gcp,s3]" > "$out/requirements.txt"
echo "$out"
