"""A circuit breaker per upstream, so a dead vendor is asked once per cooldown, not on every call.

Closed: calls go through; consecutive failed calls are counted. A call is counted once however
many attempts its retries made, and the concurrent requests of one operation (a sentence searched
word by word) share one key, so one failed operation is one failure, not a dozen: otherwise a single
bad moment would keep a recovered vendor shut out for the whole cooldown. At `failures` in a row it
opens: calls fail at once, without touching the network, for `cooldown` seconds. Then
one trial call goes through (half-open): success closes it, failure opens it again.

Hand-written rather than a library: the async breakers on PyPI are either unmaintained
(aiobreaker) or bring storage backends we do not need (purgatory), and the state machine
is twenty lines that must also agree with the per-call deadline and the retry loop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Literal

from connectors.errors import UpstreamError

State = Literal["closed", "open", "half_open"]


class CircuitOpen(UpstreamError):
    """The upstream failed too often lately; it was not called."""


class CircuitBreaker:
    def __init__(
        self, source: str, *, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._counted: deque[Hashable] = deque(maxlen=max(1, failures))  # keys of the latest failed calls
        self._opened_at: float | None = None
        self._trial_running = False
        self._last = ""

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._cooldown:
            return "half_open"
        return "open"

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go out now."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._trial_running:
            self._trial_running = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self._cooldown - (self._clock() - self._opened_at))
        raise CircuitOpen(
            self._source,
            f"not called: {self._failures} failures in a row (the last: {self._last}); "
            f"the next attempt goes out in {wait:.0f} s",
        )

    def succeeded(self) -> None:
        self._failures = 0
        self._counted.clear()
        self._opened_at = None
        self._trial_running = False

    def failed(self, what: str = "", key: Hashable | None = None) -> None:
        """One more failure, unless the call or operation `key` has failed since the last success already."""
        self._last = what or "unknown"
        trial = self._trial_running
        self._trial_running = False
        if key is not None and key in self._counted and not trial:
            return
        if key is not None:
            self._counted.append(key)
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()

    def released(self) -> None:
        """A call ended with neither verdict (say, a 404): a half-open trial slot is free again."""
        self._trial_running = False
