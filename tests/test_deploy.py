"""The deployment artifacts under ``deploy/`` and ``adapters/``, checked offline."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from cfnlint.decode import decode_str  # type: ignore[import-untyped]

from stricture_server.push.command import add_arguments
from stricture_server.settings import KNOWN_VARIABLES

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
ADAPTERS = ROOT / "adapters"
TEMPLATE = DEPLOY / "aws" / "template.yaml"
SCRIPTS = sorted(DEPLOY.rglob("*.sh"))


def assigned_names(path: Path) -> set[str]:
    """Top-level names a module assigns."""
    tree = ast.parse(path.read_text())
    return {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }


def test_sam_template_passes_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--regions", "us-east-1", "eu-west-1", "--", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_handlers_are_the_lambda_entries() -> None:
    handlers = re.findall(r"^\s+Handler: (\S+)$", TEMPLATE.read_text(), re.MULTILINE)
    assert sorted(handlers) == ["handler.handler", "handler.scheduled"]
    for handler in handlers:
        module, _, name = handler.rpartition(".")
        assert name in assigned_names(ADAPTERS / "aws_lambda" / f"{module}.py")


def test_gcloud_entry_points_are_the_functions_in_main() -> None:
    entries = re.findall(r"--entry-point=(\w+)", (DEPLOY / "gcp" / "deploy.sh").read_text())
    assert entries == ["stricture", "stricture_scheduled"]
    for entry in entries:
        assert entry in assigned_names(ADAPTERS / "gcp_functions" / "main.py")


def test_azure_routes_have_no_prefix() -> None:
    host = json.loads((ADAPTERS / "azure_functions" / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensions"]["http"]["routePrefix"] == ""
    assert "app" in assigned_names(ADAPTERS / "azure_functions" / "function_app.py")


@pytest.mark.parametrize("folder", ["aws_lambda", "gcp_functions", "azure_functions"])
def test_each_platform_folder_installs_the_package_with_its_extra(folder: str) -> None:
    extra = {"aws_lambda": "aws", "gcp_functions": "gcp", "azure_functions": "azure"}[folder]
    requirements = (ADAPTERS / folder / "requirements.txt").read_text().split()
    assert requirements == [f"stricture-server[{extra}]"]


def test_deployments_use_only_known_settings() -> None:
    # Bytecode caches appear next to the entries once a test has imported them.
    found = [*DEPLOY.rglob("*"), *ADAPTERS.rglob("*")]
    files = [p for p in found if p.is_file() and "__pycache__" not in p.parts]
    used = {m for p in files for m in re.findall(r"STRICTURE_SERVER_[A-Z0-9_]+", p.read_text())}
    assert used
    assert used - set(KNOWN_VARIABLES) == set()


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(s.relative_to(DEPLOY)) for s in SCRIPTS])
def test_deploy_scripts_parse(script: Path) -> None:
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_rest_api_front_passes_gzip_json_bodies_as_binary() -> None:
    # A REST API hands a body over unaltered (base64) only if its Content-Type matches one of
    # the binary media types; a gzip body is sent as application/json with Content-Encoding.
    template, problems = decode_str(TEMPLATE.read_text())
    assert not problems
    # SAM writes the "/" of a media type as "~1".
    types = [t.replace("~1", "/") for t in template["Globals"]["Api"]["BinaryMediaTypes"]]
    assert any(fnmatch("application/json", pattern) for pattern in types)


CI_RECIPES = [
    DEPLOY / "github-action" / "action.yml",
    DEPLOY / "gitlab" / "stricture-push.gitlab-ci.yml",
]


@pytest.mark.parametrize("recipe", CI_RECIPES, ids=lambda p: p.parent.name)
def test_ci_recipes_pass_only_options_push_takes(recipe: Path) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    known = {o for action in parser._actions for o in action.option_strings}
    text = recipe.read_text()
    yaml.safe_load(text)  # the file is valid YAML
    # Every option outside the pip line is one the recipe hands to push.
    lines = [line for line in text.splitlines() if "pip install" not in line]
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", "\n".join(lines)))
    assert "--service" in used
    assert used - known == set()
    assert "stricture-server push" in text


def _python_version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """deploy/aws/build.sh run for real, for this interpreter's version (wheels from the index)."""
    copy = tmp_path_factory.mktemp("aws-build") / "project"
    # A copy of the project, so the build writes its build/ there and not in the checkout.
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".venv", "build", ".git", "*_cache", "benchmarks", "tests"),
    )
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "LAMBDA_PYTHON": _python_version(),
        "LAMBDA_COMPILE_PYTHON": sys.executable,
    }
    done = subprocess.run(
        ["bash", str(copy / "deploy" / "aws" / "build.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return zipfile.ZipFile(copy / "build" / "aws" / "function.zip")


@pytest.mark.slow
def test_the_lambda_zip_ships_bytecode_for_the_runtime_python(lambda_zip: zipfile.ZipFile) -> None:
    names = set(lambda_zip.namelist())
    tag = sys.implementation.cache_tag
    sources = {n for n in names if n.endswith(".py")}
    # Every module, the project's, its dependencies' and the entry's, has its bytecode beside it.
    missing = {
        s
        for s in sources
        if f"{s.rpartition('/')[0]}/__pycache__/{Path(s).stem}.{tag}.pyc".lstrip("/") not in names
    }
    assert missing == set()
    for module in (
        "stricture_server/app",
        "botocore/client",
        "mangum/adapter",
        "werkzeug/wrappers/request",
    ):
        assert (
            f"{module.rpartition('/')[0]}/__pycache__/{module.rpartition('/')[2]}.{tag}.pyc"
            in names
        )
    assert f"__pycache__/handler.{tag}.pyc" in names
    # PEP 552 flags: hash-based (bit 0) and not checked against the source (bit 1 clear).
    header = lambda_zip.read(f"stricture_server/__pycache__/app.{tag}.pyc")[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01


def test_the_lambda_build_refuses_a_compiler_of_another_python() -> None:
    env = {**os.environ, "LAMBDA_PYTHON": "3.99", "LAMBDA_COMPILE_PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(DEPLOY / "aws" / "build.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert f"needs Python 3.99 ('{sys.executable}' is {_python_version()})" in done.stderr


def test_snapstart_is_an_option_of_the_template_off_by_default() -> None:
    template, problems = decode_str(TEMPLATE.read_text())
    assert not problems
    parameter = template["Parameters"]["SnapStart"]
    assert parameter["Default"] == "None"
    assert set(parameter["AllowedValues"]) == {"None", "PublishedVersions"}
    function = template["Resources"]["IngestFunction"]["Properties"]
    assert function["SnapStart"]["ApplyOn"] == {"Ref": "SnapStart"}
    # SnapStart snapshots published versions only: the API must invoke one, through an alias.
    assert function["AutoPublishAlias"]
    assert function["Runtime"] in ("python3.12", "python3.13")
