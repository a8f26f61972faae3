#!/usr/bin/env bash
# Build build/aws/function.zip: adapters/aws_lambda/handler.py plus stricture-server[aws,s3] and
# its dependencies, as binary wheels for the Lambda runtime of deploy/aws/template.yaml.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-python3}"
# Must match Runtime and Architectures in template.yaml.
lambda_python="${LAMBDA_PYTHON:-3.12}"
lambda_platform="${LAMBDA_PLATFORM:-manylinux2014_x86_64}"
out="$root/build/aws"

rm -rf "$out"
mkdir -p "$out/wheels" "$out/package"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out/wheels" "$root"
wheel="$(ls "$out"/wheels/stricture_server-*.whl)"
# Wheels for the target platform only: nothing is compiled on this machine.
"$python" -m pip install --quiet --no-compile --no-warn-conflicts --target "$out/package" \
    --platform "$lambda_platform" --implementation cp --python-version "$lambda_python" \
    --only-binary=:all: "${wheel}[aws,s3]"
cp "$root/adapters/aws_lambda/handler.py" "$out/package/"
(cd "$out/package" && "$python" -m zipfile -c ../function.zip .)
echo "$out/function.zip"
