"""Writes this process already made, by idempotency key: a retried tool call writes once.

Vendors that accept a key of their own (Zendesk's Idempotency-Key, Linear's client-chosen
issue id) are given it as well, which holds across restarts; this table covers the rest
for the life of the process. Concurrent calls with one key wait for the first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

import anyio

from connectors.models import WriteReceipt


class Receipts:
    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._done: OrderedDict[str, WriteReceipt] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}

    async def once(self, key: str, write: Callable[[], Awaitable[WriteReceipt]]) -> WriteReceipt:
        """`write()`'s receipt, or the earlier one marked duplicate when `key` was used already."""
        if not key.strip():
            raise ValueError("idempotency_key must not be empty")
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                if key in self._done:
                    return self._done[key].model_copy(update={"duplicate": True})
                receipt = await write()
                self._done[key] = receipt
                while len(self._done) > self._size:
                    self._done.popitem(last=False)
                return receipt
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)
