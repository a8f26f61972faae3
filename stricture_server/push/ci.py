"""What a CI system says about the running job: run id, commit, time, names, job URL.

Each provider's run id names one attempt of one job: a push retried inside that attempt (a
retry step, the command run again) sends the same run id, so the server answers it as an
identical replay; a re-run of the job is a new attempt and a new run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CiJob:
    """What the environment tells about the current CI job; empty strings where it says nothing."""

    provider: str = ""
    run_id: str = ""
    commit_sha: str = ""
    generated_at: str = ""
    organization: str = ""
    project: str = ""
    url: str = ""


def _joined(env: Mapping[str, str], *names: str) -> str:
    """The variables joined with ``-``, or empty when any is missing (a partial id could clash)."""
    values = [env.get(name, "").strip() for name in names]
    return "-".join(values) if all(values) else ""


def _github(env: Mapping[str, str]) -> CiJob:
    # GITHUB_RUN_ID is the workflow run; GITHUB_RUN_ATTEMPT grows on each re-run of it.
    repository = env.get("GITHUB_REPOSITORY", "")
    owner, _, name = repository.partition("/")
    run = _joined(env, "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB")
    url = ""
    if env.get("GITHUB_SERVER_URL") and repository and env.get("GITHUB_RUN_ID"):
        url = f"{env['GITHUB_SERVER_URL']}/{repository}/actions/runs/{env['GITHUB_RUN_ID']}"
    return CiJob(
        provider="github-actions",
        run_id=f"github-{run}" if run else "",
        commit_sha=env.get("GITHUB_SHA", ""),
        organization=owner,
        project=name,
        url=url,
    )


def _gitlab(env: Mapping[str, str]) -> CiJob:
    # A retried GitLab job gets a new CI_JOB_ID: one id per attempt.
    run = _joined(env, "CI_PIPELINE_ID", "CI_JOB_ID")
    return CiJob(
        provider="gitlab-ci",
        run_id=f"gitlab-{run}" if run else "",
        commit_sha=env.get("CI_COMMIT_SHA", ""),
        generated_at=env.get("CI_JOB_STARTED_AT", ""),
        organization=env.get("CI_PROJECT_NAMESPACE", "").rpartition("/")[2],
        project=env.get("CI_PROJECT_NAME", ""),
        url=env.get("CI_JOB_URL", ""),
    )


def _buildkite(env: Mapping[str, str]) -> CiJob:
    # A retried Buildkite job keeps its step but counts up BUILDKITE_RETRY_COUNT.
    run = _joined(env, "BUILDKITE_BUILD_ID", "BUILDKITE_JOB_ID")
    retry = env.get("BUILDKITE_RETRY_COUNT", "0").strip() or "0"
    return CiJob(
        provider="buildkite",
        run_id=f"buildkite-{run}-{retry}" if run else "",
        commit_sha=env.get("BUILDKITE_COMMIT", ""),
        organization=env.get("BUILDKITE_ORGANIZATION_SLUG", ""),
        project=env.get("BUILDKITE_PIPELINE_SLUG", ""),
        url=env.get("BUILDKITE_BUILD_URL", ""),
    )


def _circleci(env: Mapping[str, str]) -> CiJob:
    # Every CircleCI job run, re-runs included, gets a new CIRCLE_BUILD_NUM.
    run = _joined(env, "CIRCLE_WORKFLOW_ID", "CIRCLE_BUILD_NUM")
    return CiJob(
        provider="circleci",
        run_id=f"circleci-{run}" if run else "",
        commit_sha=env.get("CIRCLE_SHA1", ""),
        organization=env.get("CIRCLE_PROJECT_USERNAME", ""),
        project=env.get("CIRCLE_PROJECT_REPONAME", ""),
        url=env.get("CIRCLE_BUILD_URL", ""),
    )


def _jenkins(env: Mapping[str, str]) -> CiJob:
    # BUILD_TAG is jenkins-${JOB_NAME}-${BUILD_NUMBER}: a replayed build has a new number.
    tag = env.get("BUILD_TAG", "").strip()
    return CiJob(
        provider="jenkins",
        run_id=tag,
        commit_sha=env.get("GIT_COMMIT", ""),
        url=env.get("BUILD_URL", ""),
    )


PROVIDERS: tuple[tuple[str, Callable[[Mapping[str, str]], CiJob]], ...] = (
    ("GITHUB_ACTIONS", _github),
    ("GITLAB_CI", _gitlab),
    ("BUILDKITE", _buildkite),
    ("CIRCLECI", _circleci),
    ("JENKINS_URL", _jenkins),
)
"""Each provider's marker variable and its reader, in the order they are tried."""


def detect(env: Mapping[str, str]) -> CiJob:
    """The job the environment describes; an empty :class:`CiJob` outside a known CI."""
    for marker, read in PROVIDERS:
        if env.get(marker, "").strip():
            return read(env)
    return CiJob()
