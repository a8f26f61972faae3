"""Object-store settings: what s3, r2 and mirror need, checked at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stricture_server import Settings
from stricture_server.settings import ConfigError

from .objectstore import object_env

P = "STRICTURE_SERVER_"
ACCOUNT = "0123456789abcdef0123456789abcdef"

REFUSED = [
    ({f"{P}STORAGE_DRIVER": "s3"}, f"{P}STORAGE_DRIVER='s3' needs {P}OBJECT_BUCKET"),
    ({f"{P}STORAGE_DRIVER": "s3", f"{P}OBJECT_BUCKET": "Bad_Bucket"}, "'Bad_Bucket': not a valid"),
    ({f"{P}STORAGE_DRIVER": "s3", f"{P}OBJECT_BUCKET": "ab"}, "'ab': not a valid bucket"),
    ({f"{P}STORAGE_DRIVER": "r2", f"{P}OBJECT_BUCKET": "lineage"}, f"needs {P}R2_ACCOUNT_ID"),
    (
        {f"{P}STORAGE_DRIVER": "r2", f"{P}OBJECT_BUCKET": "lineage", f"{P}R2_ACCOUNT_ID": "a/b"},
        f"{P}R2_ACCOUNT_ID='a/b': not a Cloudflare account id",
    ),
    ({f"{P}STORAGE_DRIVER": "mirror", f"{P}OBJECT_BUCKET": "lineage"}, f"needs {P}MIRROR_TARGET"),
    (
        {f"{P}STORAGE_DRIVER": "mirror", f"{P}MIRROR_TARGET": "gcs", f"{P}OBJECT_BUCKET": "x1x"},
        f"{P}MIRROR_TARGET='gcs': expected one of s3, r2",
    ),
    ({f"{P}STORAGE_DRIVER": "mirror", f"{P}MIRROR_TARGET": "s3"}, f"needs {P}OBJECT_BUCKET"),
    (
        {f"{P}STORAGE_DRIVER": "mirror", f"{P}MIRROR_TARGET": "r2", f"{P}OBJECT_BUCKET": "x1x"},
        f"needs {P}R2_ACCOUNT_ID",
    ),
    ({f"{P}OBJECT_MAX_ATTEMPTS": "0"}, f"{P}OBJECT_MAX_ATTEMPTS='0': must be a positive"),
    ({f"{P}OBJECT_READ_TIMEOUT_SECONDS": "soon"}, f"{P}OBJECT_READ_TIMEOUT_SECONDS='soon'"),
]


@pytest.mark.parametrize(("env", "message"), REFUSED)
def test_refused_at_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_r2_endpoint_from_the_account_id() -> None:
    env = {f"{P}STORAGE_DRIVER": "r2", f"{P}OBJECT_BUCKET": "lineage", f"{P}R2_ACCOUNT_ID": ACCOUNT}
    settings = Settings.from_env(env)
    assert settings.object_endpoint == f"https://{ACCOUNT}.r2.cloudflarestorage.com"


@pytest.mark.parametrize(
    ("endpoints", "expected"),
    [
        ({"AWS_ENDPOINT_URL": "http://a:9000"}, "http://a:9000"),
        (
            {"AWS_ENDPOINT_URL": "http://a:9000", "AWS_ENDPOINT_URL_S3": "http://b:9000"},
            "http://b:9000",
        ),
    ],
)
def test_standard_endpoint_variables_override(endpoints: dict[str, str], expected: str) -> None:
    for driver in ("s3", "r2"):
        env = {f"{P}STORAGE_DRIVER": driver, f"{P}OBJECT_BUCKET": "lineage", **endpoints}
        env[f"{P}R2_ACCOUNT_ID"] = ACCOUNT
        assert Settings.from_env(env).object_endpoint == expected


def test_mirror_settings() -> None:
    env = {
        f"{P}STORAGE_DRIVER": "mirror",
        f"{P}MIRROR_TARGET": "R2",
        f"{P}OBJECT_BUCKET": "lineage",
        f"{P}R2_ACCOUNT_ID": ACCOUNT,
        f"{P}MIRROR_RETRY_MAX_SECONDS": "30",
    }
    settings = Settings.from_env(env)
    assert (settings.storage_driver, settings.mirror_target) == ("mirror", "r2")
    assert settings.object_endpoint.endswith(".r2.cloudflarestorage.com")
    assert settings.mirror_retry_max_seconds == 30


def test_object_settings_are_ignored_by_fs() -> None:
    settings = Settings.from_env({f"{P}OBJECT_BUCKET": "whatever_name"})
    assert settings.storage_driver == "fs"
    assert settings.object_endpoint == ""


def test_fs_never_loads_the_aws_sdk(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from stricture_server import Settings, create_app\n"
        "import stricture_server.commands.cli\n"
        f"create_app(Settings.from_env({{'STRICTURE_SERVER_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
    assert done.stdout.strip() == b"[]"


def test_the_object_deadline_must_be_under_the_worker_timeout() -> None:
    env = {
        **object_env("s3", "lineage-records", "http://127.0.0.1:9"),
        f"{P}OBJECT_DEADLINE_SECONDS": "60",
    }
    with pytest.raises(ConfigError, match=f"{P}OBJECT_DEADLINE_SECONDS=60: must be less than"):
        Settings.from_env(env)
    settings = Settings.from_env({**env, f"{P}OBJECT_DEADLINE_SECONDS": "59"})
    assert (settings.object_deadline_seconds, settings.object_cooldown_seconds) == (59, 1)
