"""The credential a push sends: a token from an environment variable, or a GitHub OIDC token.

Neither is ever printed: errors name the variable or the audience, not the value.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

import orjson

OIDC_REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
OIDC_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105 (a variable's name)


class CredentialError(Exception):
    """No credential could be had the way the command line asked for one."""


def token_from_env(env: Mapping[str, str], name: str) -> str:
    """The token in variable ``name``; empty when it is unset (the server may need none)."""
    return env.get(name, "").strip()


def github_oidc_token(env: Mapping[str, str], audience: str, timeout: float = 30) -> str:
    """An OIDC ID token for ``audience``, asked of the GitHub Actions runner.

    The runner sets both variables only for a job with ``permissions: id-token: write``; see
    https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
    """
    url = env.get(OIDC_REQUEST_URL, "")
    bearer = env.get(OIDC_REQUEST_TOKEN, "")
    if not url or not bearer:
        raise CredentialError(
            f"no OIDC token: {OIDC_REQUEST_URL} and {OIDC_REQUEST_TOKEN} are not set "
            "(on GitHub Actions, give the job `permissions: id-token: write`)"
        )
    separator = "&" if urllib.parse.urlsplit(url).query else "?"
    full = f"{url}{separator}{urllib.parse.urlencode({'audience': audience})}"
    request = urllib.request.Request(full, headers={"Authorization": f"Bearer {bearer}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            value = orjson.loads(response.read()).get("value", "")
    except (urllib.error.URLError, OSError, orjson.JSONDecodeError, AttributeError) as exc:
        reason = getattr(exc, "reason", None) or type(exc).__name__
        raise CredentialError(f"the runner gave no OIDC token for {audience!r}: {reason}") from None
    if not isinstance(value, str) or not value:
        raise CredentialError(f"the runner gave no OIDC token for {audience!r}")
    return value
