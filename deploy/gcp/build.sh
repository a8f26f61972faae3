#!/usr/bin/env bash
# Build build/gcp/, the source folder Cloud Functions builds: adapters/gcp_functions/main.py,
# the stricture-server wheel, and a requirements.txt that installs it with its extras.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
exec bash "$root/deploy/source.sh" "$root/build/gcp" gcp,s3 "$root/adapters/gcp_functions/main.py"
