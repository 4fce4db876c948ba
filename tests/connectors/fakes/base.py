"""What every fake vendor shares: the scenario, a request log, queued faults and keyword matching.

A fake serves the scenario workspace in its vendor's documented JSON (pagination and error
bodies included) through `httpx.MockTransport`. Each vendor module under `tests.connectors.fakes`
provides `PORT` (the category it serves) and `make(workspace, *, token)` returning the adapter,
wired to the fake, and the fake itself.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

import httpx

from connectors.http.upstream import Policy
from connectors.local import STOPWORDS
from connectors.workspace import Workspace
from tests.connectors.scenario import TOKEN

# Retries and pacing fast enough for tests; everything else as in production.
FAST = Policy(rate=10_000, burst=1_000, backoff=0.001, backoff_cap=0.005)


def keywords(query: str) -> list[str]:
    return [w for w in dict.fromkeys(re.findall(r"\w+", query.lower())) if len(w) > 2 and w not in STOPWORDS]


def matches(query: str, *texts: str | None) -> bool:
    """A vendor's full-text search, crudely: any of the query's key words in any of the texts."""
    words = keywords(query)
    haystack = " ".join(t for t in texts if t).lower()
    return not words or any(w in haystack for w in words)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json", **(headers or {})}
    )


class FakeVendor:
    """Subclasses implement `handle` (and, where the vendor differs, `authorized` and the error bodies)."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        self.workspace = workspace
        self.token = token
        self.requests: list[httpx.Request] = []
        self._faults: deque[httpx.Response] = deque()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._serve)

    def fail_next(self, *responses: httpx.Response) -> None:
        """Answer the next requests with these, in order, before serving normally again."""
        self._faults.extend(responses)

    def _serve(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._faults:
            return self._faults.popleft()
        if not self.authorized(request):
            return self.unauthorized()
        return self.handle(request)

    def authorized(self, request: httpx.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self) -> httpx.Response:
        return json_response(401, {"error": "unauthorized"})

    def rate_limited(self, retry_after: float) -> httpx.Response:
        """The vendor's own answer when over its limit (a 429 with Retry-After unless it does otherwise)."""
        return json_response(429, {"error": "rate limited"}, {"retry-after": f"{retry_after:g}"})

    def server_error(self) -> httpx.Response:
        return json_response(500, {"error": "internal error"})

    def handle(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content or b"null")
