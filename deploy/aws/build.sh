#!/usr/bin/env bash
# Build build/aws/function.zip: adapters/aws_lambda/handler.py plus stricture-server[aws,s3] and
# its dependencies, as binary wheels for the Lambda runtime of deploy/aws/template.yaml, with
# their bytecode compiled by that runtime's Python version.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-python3}"
# Must match Runtime and Architectures in template.yaml.
lambda_python="${LAMBDA_PYTHON:-3.12}"
lambda_platform="${LAMBDA_PLATFORM:-manylinux2014_x86_64}"
# Bytecode is specific to a Python version: it is compiled by an interpreter of the runtime's.
compiler="${LAMBDA_COMPILE_PYTHON:-python$lambda_python}"
out="$root/build/aws"

if ! version="$("$compiler" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
    || [ "$version" != "$lambda_python" ]; then
    echo "build.sh: compiling bytecode for the python$lambda_python runtime needs Python" \
        "$lambda_python ('$compiler' is ${version:-not found}); set LAMBDA_COMPILE_PYTHON" >&2
    exit 2
fi

rm -rf "$out"
mkdir -p "$out/wheels" "$out/package"
"$python" -m pip wheel --quiet --no-deps --wheel-dir "$out/wheels" "$root"
wheel="$(ls "$out"/wheels/stricture_server-*.whl)"
# Wheels for the target platform only: nothing is compiled on this machine.
"$python" -m pip install --quiet --no-compile --no-warn-conflicts --target "$out/package" \
    --platform "$lambda_platform" --implementation cp --python-version "$lambda_python" \
    --only-binary=:all: "${wheel}[aws,s3]"
cp "$root/adapters/aws_lambda/handler.py" "$out/package/"
# /var/task is read-only: a module shipped without bytecode is compiled again on every cold
# start (about half the import time). unchecked-hash: the .pyc is trusted without comparing
# the source's mtime, which a zip keeps only to 2 seconds; the package never changes in place.
"$compiler" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$out/package" >/dev/null
(cd "$out/package" && "$python" -m zipfile -c ../function.zip .)
echo "$out/function.zip"
