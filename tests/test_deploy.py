"""The deployment artifacts under ``deploy/`` and ``adapters/``, checked offline."""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
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
