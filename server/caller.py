"""Who is calling: the authenticated subject and team of the request being handled.

Kept apart from `server.http_auth` so that every tool can ask without importing the JOSE library:
stdio sessions never authenticate, and their start-up should not pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken


@dataclass(frozen=True)
class Caller:
    """The authenticated caller: the token's subject (the owner of what it creates) and its team, if any."""

    subject: str
    team: str | None = None


class CallerToken(AccessToken):
    """An SDK access token that also carries the caller's team, read from the claim the settings name."""

    team: str | None = None


def caller() -> Caller | None:
    """The caller of the request being handled; None over stdio or an HTTP server without authentication."""
    token = get_access_token()
    if token is None or token.subject is None:
        return None
    return Caller(subject=token.subject, team=token.team if isinstance(token, CallerToken) else None)
