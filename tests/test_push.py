"""``stricture-server push`` against the real server process: the CI upload client."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from stricture_server.push.ci import PROVIDERS, CiJob, detect

from . import factory
from .deliveries import ROOT, free_port, http_send, server_process
from .objectstore import fault_proxy, new_bucket, object_env
from .relays import cutting_relay, oidc_runner

pytestmark = pytest.mark.slow

TOKEN = "push-token-0123456789"
OIDC_TOKEN = "eyJ.oidc-id-token.sig"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FAST = ("--attempts", "4", "--max-delay", "0.05")
"""Retry quickly: the server's Retry-After (5 s) is capped by --max-delay."""
_CI_MARKERS = {marker for marker, _ in PROVIDERS}


def push_env(env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without server settings or CI markers, plus ``env``."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRICTURE_", "GITHUB_", "CI_", "ACTIONS_")) and k not in _CI_MARKERS
    }
    clean.update(env)
    return clean


def push_command(*args: str) -> list[str]:
    """The command line of ``stricture-server push``."""
    return [sys.executable, "-m", "stricture_server", "push", *args]


def push(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``stricture-server push`` as a CI job would; its exit code and output."""
    return subprocess.run(
        push_command(*args),
        env=push_env(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The real server in token mode; it also takes the token the OIDC runner hands out."""
    env = {
        "STRICTURE_SERVER_DATA_DIR": str(tmp_path_factory.mktemp("push-data")),
        "STRICTURE_SERVER_INGEST_TOKEN": f"{TOKEN},{OIDC_TOKEN}",
        "STRICTURE_SERVER_LOG_LEVEL": "warning",
    }
    with server_process(env) as (port, _):
        yield port


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """An artifact, a diff and a summary as a CI job leaves them."""
    paths = {
        "artifact": tmp_path / "lineage.json",
        "diff": tmp_path / "lineage-diff.json",
        "summary": tmp_path / "summary.txt",
    }
    paths["artifact"].write_bytes(orjson.dumps(factory.artifact(3)))
    paths["diff"].write_bytes(orjson.dumps(factory.diff(4)))
    paths["summary"].write_text("2 high, 2 medium\n")
    return paths


def names(organization: str) -> tuple[str, ...]:
    """The naming arguments for ``organization``'s checkout api service."""
    return ("--organization", organization, "--project", "checkout", "--service", "api")


def read(port: int, location: str) -> Any:
    """The stored record at ``location`` (a full URL or a path)."""
    path = "/" + location.split("/", 3)[3] if location.startswith("http") else location
    reply = http_send(port, "GET", path, AUTH)
    assert reply.status == 200, reply.body
    return reply.json()


GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "9876543210",
    "GITHUB_RUN_ATTEMPT": "2",
    "GITHUB_JOB": "lineage",
    "GITHUB_SHA": "3f2a9c1d" * 5,
    "GITHUB_REPOSITORY": "acme/checkout",
    "GITHUB_SERVER_URL": "https://github.com",
}


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            GITHUB,
            CiJob(
                "github-actions",
                "github-9876543210-2-lineage",
                "3f2a9c1d" * 5,
                "",
                "acme",
                "checkout",
                "https://github.com/acme/checkout/actions/runs/9876543210",
            ),
        ),
        (
            {
                "GITLAB_CI": "true",
                "CI_PIPELINE_ID": "77",
                "CI_JOB_ID": "1234",
                "CI_COMMIT_SHA": "abcdef1",
                "CI_JOB_STARTED_AT": "2026-03-01T10:00:00Z",
                "CI_PROJECT_NAMESPACE": "acme/platform",
                "CI_PROJECT_NAME": "checkout",
                "CI_JOB_URL": "https://gitlab.example/acme/platform/checkout/-/jobs/1234",
            },
            CiJob(
                "gitlab-ci",
                "gitlab-77-1234",
                "abcdef1",
                "2026-03-01T10:00:00Z",
                "platform",
                "checkout",
                "https://gitlab.example/acme/platform/checkout/-/jobs/1234",
            ),
        ),
        (
            {
                "BUILDKITE": "true",
                "BUILDKITE_BUILD_ID": "b-1",
                "BUILDKITE_JOB_ID": "j-2",
                "BUILDKITE_RETRY_COUNT": "1",
                "BUILDKITE_COMMIT": "abcdef2",
                "BUILDKITE_ORGANIZATION_SLUG": "acme",
                "BUILDKITE_PIPELINE_SLUG": "checkout",
                "BUILDKITE_BUILD_URL": "https://buildkite.com/acme/checkout/builds/5",
            },
            CiJob(
                "buildkite",
                "buildkite-b-1-j-2-1",
                "abcdef2",
                "",
                "acme",
                "checkout",
                "https://buildkite.com/acme/checkout/builds/5",
            ),
        ),
        (
            {
                "CIRCLECI": "true",
                "CIRCLE_WORKFLOW_ID": "w-9",
                "CIRCLE_BUILD_NUM": "41",
                "CIRCLE_SHA1": "abcdef3",
                "CIRCLE_PROJECT_USERNAME": "acme",
                "CIRCLE_PROJECT_REPONAME": "checkout",
                "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/checkout/41",
            },
            CiJob(
                "circleci",
                "circleci-w-9-41",
                "abcdef3",
                "",
                "acme",
                "checkout",
                "https://circleci.com/gh/acme/checkout/41",
            ),
        ),
        (
            {
                "JENKINS_URL": "https://ci.example/",
                "BUILD_TAG": "jenkins-checkout-api-17",
                "GIT_COMMIT": "abcdef4",
                "BUILD_URL": "https://ci.example/job/checkout/17/",
            },
            CiJob(
                "jenkins",
                "jenkins-checkout-api-17",
                "abcdef4",
                url="https://ci.example/job/checkout/17/",
            ),
        ),
        ({"GITHUB_ACTIONS": "true"}, CiJob("github-actions")),
        ({"CI": "true"}, CiJob()),
    ],
    ids=["github", "gitlab", "buildkite", "circleci", "jenkins", "github-partial", "unknown"],
)
def test_ci_environment_gives_the_job_attempt(env: dict[str, str], expected: CiJob) -> None:
    assert detect(env) == expected


def test_push_sends_the_files_with_the_ci_identity_and_a_retry_replays(
    server: int, files: dict[str, Path]
) -> None:
    env = {**GITHUB, "STRICTURE_URL": f"http://127.0.0.1:{server}", "STRICTURE_TOKEN": TOKEN}
    organization = factory.unique("org")
    args = (
        str(files["artifact"]),
        "--diff",
        str(files["diff"]),
        "--summary",
        str(files["summary"]),
        "--organization",
        organization,
        "--service",
        "api",
        "--metadata",
        "team=orders",
    )
    first = push(env, *args)
    assert first.returncode == 0, first.stderr
    location = first.stdout.strip()
    assert location == (
        f"http://127.0.0.1:{server}/v1/artifacts/{organization}/checkout/api/"
        "github-9876543210-2-lineage"
    )
    record = read(server, location)
    assert record["commit_sha"] == GITHUB["GITHUB_SHA"]
    assert record["artifact"] == factory.artifact(3)
    assert record["diff"] == factory.diff(4)
    assert record["summary"] == "2 high, 2 medium\n"
    assert record["metadata"] == {
        "ci": "github-actions",
        "ci_url": "https://github.com/acme/checkout/actions/runs/9876543210",
        "team": "orders",
    }
    assert TOKEN not in first.stdout + first.stderr

    replay = push(env, *args)
    assert (replay.returncode, replay.stdout) == (0, first.stdout)
    assert read(server, location) == record


def test_push_conflict_exits_3_with_the_stored_location(
    server: int, files: dict[str, Path], tmp_path: Path
) -> None:
    env = {"STRICTURE_URL": f"http://127.0.0.1:{server}", "STRICTURE_TOKEN": TOKEN}
    organization = factory.unique("org")
    first = push(env, str(files["artifact"]), *names(organization), "--run-id", "r1")
    assert first.returncode == 0, first.stderr
    other = tmp_path / "other.json"
    other.write_bytes(orjson.dumps(factory.artifact(5)))
    conflict = push(env, str(other), *names(organization), "--run-id", "r1")
    assert conflict.returncode == 3
    assert first.stdout.strip() in conflict.stderr
    assert read(server, first.stdout.strip())["artifact"] == factory.artifact(3)


@pytest.mark.parametrize("token", ["wrong-token-secret", ""])
def test_push_without_a_valid_token_exits_4_and_never_prints_it(
    server: int, files: dict[str, Path], token: str
) -> None:
    env = {"STRICTURE_URL": f"http://127.0.0.1:{server}", "CI_PUSH_TOKEN": token}
    result = push(env, str(files["artifact"]), *names("acme"), "--token-env", "CI_PUSH_TOKEN")
    assert result.returncode == 4
    assert "401" in result.stderr
    if token:
        assert token not in result.stdout + result.stderr


def test_push_refused_content_exits_5_with_the_servers_problems(
    server: int, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps({"schema_version": "1", "fields": [{"field_id": 7}]}))
    env = {"STRICTURE_URL": f"http://127.0.0.1:{server}", "STRICTURE_TOKEN": TOKEN}
    result = push(env, str(bad), *names(factory.unique("org")))
    assert result.returncode == 5
    assert "/artifact/fields/0" in result.stderr


def test_dry_run_checks_the_files_with_the_servers_schemas_and_sends_nothing(
    files: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps({"schema_version": "1", "fields": [{"field_id": 7}]}))
    # No server anywhere: a dry run needs none.
    valid = push(
        {}, str(files["artifact"]), "--diff", str(files["diff"]), *names("acme"), "--dry-run"
    )
    assert valid.returncode == 0, valid.stderr
    invalid = push({}, str(bad), *names("acme"), "--commit-sha", "xyz", "--dry-run")
    assert invalid.returncode == 5
    assert "/artifact/fields/0" in invalid.stderr
    assert "/commit_sha" in invalid.stderr


def test_unreadable_input_is_a_usage_error(tmp_path: Path) -> None:
    missing = push({}, str(tmp_path / "none.json"), *names("acme"), "--dry-run")
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert push({}, str(garbage), *names("acme"), "--dry-run").returncode == 2
    no_url = push({}, str(tmp_path / "none.json"), *names("acme"))
    assert no_url.returncode == 2


def test_no_server_exits_6_after_its_attempts(files: dict[str, Path]) -> None:
    env = {"STRICTURE_URL": f"http://127.0.0.1:{free_port()}"}
    result = push(env, str(files["artifact"]), *names("acme"), *FAST)
    assert result.returncode == 6
    assert result.stderr.count("retrying") == 3


def test_push_retries_a_503_until_the_store_recovers(
    files: dict[str, Path], tmp_path: Path
) -> None:
    with fault_proxy() as proxy:
        env = object_env(
            "s3",
            new_bucket(),
            proxy.url,
            STRICTURE_SERVER_INGEST_TOKEN=TOKEN,
            STRICTURE_SERVER_LOG_LEVEL="error",
        )
        with server_process(env) as (port, _):
            proxy.mode = "error"
            organization = factory.unique("org")
            client = subprocess.Popen(
                push_command(
                    str(files["artifact"]),
                    *names(organization),
                    "--attempts",
                    "50",
                    "--max-delay",
                    "0.05",
                ),
                env=push_env(
                    {"STRICTURE_URL": f"http://127.0.0.1:{port}", "STRICTURE_TOKEN": TOKEN}
                ),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            assert client.stderr is not None
            # The store recovers once the client has seen the outage.
            first = client.stderr.readline()
            proxy.mode = "pass"
            out, rest = client.communicate(timeout=120)
            assert "HTTP 503" in first
            assert client.returncode == 0, first + rest
            assert read(port, out.strip())["organization"] == organization


def test_push_sends_again_after_the_connection_is_cut_mid_upload(
    server: int, files: dict[str, Path]
) -> None:
    organization = factory.unique("org")
    with cutting_relay(server, cuts=2) as relay:
        env = {"STRICTURE_URL": f"http://127.0.0.1:{relay.port}", "STRICTURE_TOKEN": TOKEN}
        result = push(env, str(files["artifact"]), *names(organization), "--run-id", "cut", *FAST)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("connection failed") == 2
    assert relay.connections == 3
    record = read(server, f"/v1/artifacts/{organization}/checkout/api/cut")
    assert record["artifact"] == factory.artifact(3)


def test_push_on_github_sends_the_runners_oidc_token(server: int, files: dict[str, Path]) -> None:
    with oidc_runner(OIDC_TOKEN) as (url, seen):
        env = {
            "STRICTURE_URL": f"http://127.0.0.1:{server}",
            "ACTIONS_ID_TOKEN_REQUEST_URL": url,
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token",
        }
        organization = factory.unique("org")
        result = push(
            env, str(files["artifact"]), *names(organization), "--oidc-audience", "stricture"
        )
    assert result.returncode == 0, result.stderr
    assert seen == [
        {
            "path": "/token?api-version=2.0&audience=stricture",
            "authorization": "Bearer runner-request-token",
        }
    ]
    assert OIDC_TOKEN not in result.stdout + result.stderr
    no_runner = push(
        {"STRICTURE_URL": f"http://127.0.0.1:{server}"},
        str(files["artifact"]),
        *names(organization),
        "--oidc-audience",
        "stricture",
    )
    assert no_runner.returncode == 4
    assert "id-token: write" in no_runner.stderr


def test_push_imports_no_object_store_sdk(files: dict[str, Path]) -> None:
    script = (
        "import sys; from stricture_server.commands.cli import main; "
        f"code = main(['push', {str(files['artifact'])!r}, '--service', 'api', "
        "'--organization', 'acme', '--project', 'checkout', '--dry-run']); "
        "assert code == 0, code; assert 'boto3' not in sys.modules, 'boto3 imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=push_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
