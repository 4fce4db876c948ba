"""Keep secrets and customer data out of the HTTP libraries' own log lines.

httpx logs every request URL at INFO (`HTTP Request: GET https://...?query=Acme+Corp "HTTP/1.1 200 OK"`),
and httpcore logs each response's headers at DEBUG, so a vendor that echoes a token in a header, or a
search for a customer's name, would reach stderr of any process that embeds this server with logging
turned up. `guard_http_logs` installs one `HttpLogGuard` on each of those loggers (once per logger,
shared by every `Upstream`; the guard lives on the logger, not in this module) that:

- replaces every known secret (and its URL-encoded form) and the value of any credential header
  (Authorization, Cookie, API-key headers) with `[redacted]`, at every level;
- drops the query string from URLs, since it carries search terms (customer names, issue text);
- demotes the per-request URL lines from INFO to DEBUG, so INFO shows no customer data at all.

Logger filters do not apply to child loggers, so each httpcore logger is guarded by name.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

GUARDED_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)

# `(b'Authorization', b'Bearer x')` as httpcore prints header lists, and `Authorization: Bearer x` as text.
_HEADER_PAIR = re.compile(
    r"""(?ix)
    (b?['"](?:proxy-)?authorization|b?['"](?:set-)?cookie|b?['"]x-api-key|b?['"]api-key|b?['"]x-auth-token)
    (['"],\s*b?['"])
    ([^'"]*)
    """
)
_HEADER_LINE = re.compile(
    r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key|api-key|x-auth-token)"
    r"(\s*[:=]\s*)([^\s,;'\"]+(?: [^\s,;'\"]+)?)"
)
_URL_QUERY = re.compile(r"(https?://[^\s?\"'<>]+)\?[^\s\"'<>]*")


class HttpLogGuard(logging.Filter):
    """Redacts secrets and credential headers, strips query strings, and demotes request lines to DEBUG."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: Counter[str] = Counter()  # a secret may be shared by several live upstreams

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.update(s for s in secrets if s)

    def remove(self, secrets: Iterable[str]) -> None:
        self._secrets.subtract(s for s in secrets if s)
        for secret in [s for s, n in self._secrets.items() if n <= 0]:
            del self._secrets[secret]

    def clean(self, text: str) -> str:
        """`text` without secrets, credential header values or URL query strings."""
        variants = {v for s in self._secrets for v in (s, quote_plus(s), quote(s, safe=""))}
        if variants:
            pattern = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
            text = re.sub(pattern, "[redacted]", text)
        text = _HEADER_PAIR.sub(r"\1\2[redacted]", text)
        text = _HEADER_LINE.sub(r"\1\2[redacted]", text)
        return _URL_QUERY.sub(r"\1?[query removed]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed log call: keep only its template
            message = str(record.msg)
        record.msg, record.args = self.clean(message), None
        if record.name == "httpx" and record.levelno == logging.INFO:
            # As if logged at DEBUG: handlers without a level of their own would otherwise still print it.
            record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def guard_for(logger: logging.Logger) -> HttpLogGuard:
    """The guard installed on `logger`, installing one if there is none yet."""
    for existing in logger.filters:
        if isinstance(existing, HttpLogGuard):
            return existing
    guard = HttpLogGuard()
    logger.addFilter(guard)
    return guard


def guard_http_logs(secrets: Iterable[str]) -> None:
    """Guard the HTTP libraries' loggers and teach their guards these secrets."""
    known = [s for s in secrets if s]
    for name in GUARDED_LOGGERS:
        guard_for(logging.getLogger(name)).add(known)


def forget_secrets(secrets: Iterable[str]) -> None:
    """Undo one `guard_http_logs(secrets)` (an upstream closed); the guards stay installed."""
    known = [s for s in secrets if s]
    for name in GUARDED_LOGGERS:
        for existing in logging.getLogger(name).filters:
            if isinstance(existing, HttpLogGuard):
                existing.remove(known)
