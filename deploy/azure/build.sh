#!/usr/bin/env bash
# Build build/azure/, the function app project `func azure functionapp publish` uploads:
# adapters/azure_functions/ (function_app.py, host.json), the stricture-server wheel, and a
# requirements.txt that installs it with its extras (remote build).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
exec bash "$root/deploy/source.sh" "$root/build/azure" azure,s3 \
    "$root/adapters/azure_functions/function_app.py" "$root/adapters/azure_functions/host.json"
