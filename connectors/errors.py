"""The one small error tree every adapter raises, whatever the vendor said.

    ConnectorError
    ├── AuthError            credentials missing, wrong or lacking a scope
    ├── NotFoundError        the record does not exist upstream (or, for a base resource such as the
    │                        API itself, the address built from the settings is wrong: the message
    │                        names the setting to check)
    ├── RateLimitedError     the vendor asked us to slow down (carries retry_after)
    ├── UpstreamError        the vendor failed or answered something unusable
    ├── ConnectorTimeout     no answer within the deadline
    └── InvalidCursorError   the caller passed a cursor this source never issued

Messages name the source and what to do in plain words; they never carry tokens, whole
upstream bodies or the name of a Python class. `kind` says the same in a few words for a
caller that wants a label (use it rather than `type(exc).__name__`).
"""

from __future__ import annotations

from typing import ClassVar

CURSOR_REFUSED = "cursor is not one this source issued; start again without a cursor"


class ConnectorError(Exception):
    """A connector could not do what was asked."""

    kind: ClassVar[str] = "failed"

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.detail = message


class AuthError(ConnectorError):
    kind = "credentials refused"


class NotFoundError(ConnectorError):
    kind = "not found"


class RateLimitedError(ConnectorError):
    kind = "rate limited"

    def __init__(self, source: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after


class UpstreamError(ConnectorError):
    """The vendor failed, could not be reached, or answered something we cannot use.

    `transient` marks a failure worth retrying whatever its status (an unreadable body, a broken
    connection); `never_sent` marks one where the request provably never reached the vendor, so even
    a write that cannot be deduplicated may be sent again.
    """

    kind = "vendor failed"

    def __init__(
        self,
        source: str,
        message: str,
        status: int | None = None,
        *,
        retry_after: float | None = None,
        transient: bool = False,
        never_sent: bool = False,
    ) -> None:
        super().__init__(source, message)
        self.status = status
        self.retry_after = retry_after  # a 503 may say when to come back
        self.transient = transient
        self.never_sent = never_sent


class ConnectorTimeout(ConnectorError):
    kind = "timed out"


class InvalidCursorError(ConnectorError):
    """A cursor that is malformed, made up, or from another source: nothing was fetched."""

    kind = "invalid cursor"

    def __init__(self, source: str, message: str = CURSOR_REFUSED) -> None:
        super().__init__(source, message)
