#!/usr/bin/env bash
# Build build/azure/, the function app project `func azure functionapp publish` uploads:
# adapters/azure_functions/ (function_app.py, host.json) plus the stricture-server wheel and a
# requirements.txt that installs it with its extras (remote build).
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-python3}"
out="$root/build/azure"

rm -rf "$out"
mkdir -p "$out"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out" "$root"
wheel="$(basename "$(ls "$out"/stricture_server-*.whl)")"
cp "$root/adapters/azure_functions/function_app.py" "$root/adapters/azure_functions/host.json" "$out/"
echo "./${wheel}[azure,s3]" > "$out/requirements.txt"
echo "$out"
