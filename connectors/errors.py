"""The one small error tree every adapter raises, whatever the vendor said.

    ConnectorError
    ├── AuthError          credentials missing, wrong or lacking a scope
    ├── NotFoundError      the record does not exist upstream
    ├── RateLimitedError   the vendor asked us to slow down (carries retry_after)
    ├── UpstreamError      the vendor failed or answered something unusable
    └── ConnectorTimeout   no answer within the deadline

Messages name the source and what to do; they never carry tokens or whole
upstream bodies.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """A connector could not do what was asked."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.detail = message


class AuthError(ConnectorError):
    pass


class NotFoundError(ConnectorError):
    pass


class RateLimitedError(ConnectorError):
    def __init__(self, source: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(source, message)
        self.retry_after = retry_after


class UpstreamError(ConnectorError):
    def __init__(
        self, source: str, message: str, status: int | None = None, *, retry_after: float | None = None
    ) -> None:
        super().__init__(source, message)
        self.status = status
        self.retry_after = retry_after  # a 503 may say when to come back


class ConnectorTimeout(ConnectorError):
    pass


class InvalidCursorError(ConnectorError):
    """The cursor was not issued by this source for this search."""
