"""A fake chat server on a real loopback socket that counts every post, and a minimal chat adapter for it.

The server (stdlib `ThreadingHTTPServer` in a thread, so it outlives any event loop and serves worker
subprocesses) stores every post it receives, duplicates included, and answers after `delay` seconds:

    POST /post    {"channel", "text", "key"}  -> {"id"}   every post counts, even a repeated key
    GET  /lookup?channel=&key=                -> {"id"} or 404: was a post with this key stored?

`LoopbackChat` is the chat port over it, with `find_message` (the lookup a restarted worker asks
before posting again). It does NOT dedupe on the key: only the outbox and the lookup keep a post from
landing twice, which is what the checks that use it measure.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from connectors.models import Message, Page, WriteReceipt


@dataclass
class Posts:
    """Everything the server was sent, in arrival order."""

    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[tuple[str, str, str]] = field(default_factory=list[tuple[str, str, str]])  # channel, key, text

    def by_key(self) -> Counter[str]:
        with self.lock:
            return Counter(key for _, key, _ in self.received)

    def texts(self) -> list[str]:
        with self.lock:
            return [text for _, _, text in self.received]


class _Handler(BaseHTTPRequestHandler):
    @property
    def posts(self) -> Posts:
        server = self.server
        assert isinstance(server, _Server)
        return server.posts

    def log_message(self, format: str, *args: object) -> None:  # the stdlib's parameter name
        return None

    def _answer(self, status: int, body: dict[str, str]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length))
        posts = self.posts
        if posts.delay:
            time.sleep(posts.delay)
        with posts.lock:
            posts.received.append((body["channel"], body["key"], body["text"]))
            ident = str(len(posts.received))
        self._answer(200, {"id": ident})

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        channel, key = query["channel"][0], query["key"][0]
        posts = self.posts
        with posts.lock:
            found = [i for i, (c, k, _) in enumerate(posts.received, 1) if c == channel and k == key]
        if found:
            self._answer(200, {"id": str(found[0])})
        else:
            self._answer(404, {"error": "not found"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    posts: Posts


@contextmanager
def chat_server(delay: float = 0.0) -> Generator[tuple[str, Posts]]:
    """A running fake chat server: its base URL and what it received."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.posts = Posts(delay=delay)
    thread = threading.Thread(target=server.serve_forever, name="loopback-chat", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.posts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class LoopbackChat:
    """The chat port over the fake server: posts, and looks a post up by its idempotency key."""

    name = "loopback"

    def __init__(self, base_url: str) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def search_messages(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[Message]:
        return Page[Message](items=[])

    async def post_message(
        self,
        channel: str,
        text: str,
        *,
        idempotency_key: str,
        blocks: list[dict[str, Any]] | None = None,
        html: str | None = None,
    ) -> WriteReceipt:
        answer = await self._http.post("/post", json={"channel": channel, "text": text, "key": idempotency_key})
        answer.raise_for_status()
        return WriteReceipt(id=answer.json()["id"])

    async def find_message(self, channel: str, idempotency_key: str) -> WriteReceipt | None:
        answer = await self._http.get("/lookup", params={"channel": channel, "key": idempotency_key})
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return WriteReceipt(id=answer.json()["id"])

    async def aclose(self) -> None:
        await self._http.aclose()
