"""The full schema fuzz: every tool, 1,000 valid and 200 invalid generated calls, in memory and over HTTP.

Arguments come from each tool's advertised `inputSchema` (`tests/server/fuzzing.py`, the generator and the
properties `tests/server/test_fuzz.py` runs in a bounded form): valid calls must succeed or fail with a clean
message; invalid ones (wrong types, out of range, too long, unknown enum values, missing fields, 50,000- and
1,000,000-character strings, control characters, odd datetimes, time zones and ids) must be refused in plain
words, echo no more than 200 characters of any input, and leave the ledger's tables as they were. Every call
is bounded (10 s). The HTTP run is `escalation-mcp serve --http` on 127.0.0.1 with a throwaway ledger.

Prints per transport and tool: valid ok / valid refused / invalid refused / violations, the slowest call and
the wall time. Exits non-zero on any violation. Not a timing target: there is no baseline ratio to print.

    uv run python bench/fuzz_tools.py [--valid 1000] [--invalid 200] [--transport memory,http]
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.app import build_server  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.server.fuzzing import Tally, fuzz_tool, open_case  # noqa: E402

HUGE = (50_000, 1_000_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command() -> list[str]:
    script = Path(sys.executable).parent / "escalation-mcp"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from server.cli import main; main()"]


@contextmanager
def spawned_http(ledger: Path) -> Generator[str]:
    """`serve --http` on a free loopback port with the given ledger; its MCP URL once it listens."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")}
    env["ESCALATION_LEDGER_PATH"] = str(ledger)
    process = subprocess.Popen(
        [*server_command(), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode} before listening")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not listen on port {port} within 60 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def memory_client(portal: BlockingPortal, ledger: Path) -> Generator[Client]:
    server = build_server(Settings(ledger_path=ledger))
    with portal.wrap_async_context_manager(Client(server, cache=None)) as client:
        yield client


@contextmanager
def http_client(portal: BlockingPortal, ledger: Path) -> Generator[Client]:
    with spawned_http(ledger) as url:
        http = portal.wrap_async_context_manager(httpx2.AsyncClient(timeout=30))
        with http as session:
            transport: Any = streamable_http_client(url, http_client=session)
            with portal.wrap_async_context_manager(Client(transport, cache=None)) as client:
                yield client


def run(transport: str, cases: tuple[int, int]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    with tempfile.TemporaryDirectory() as folder, start_blocking_portal() as portal:
        ledger = Path(folder) / "ledger.db"
        opened: AbstractContextManager[Client] = (
            memory_client(portal, ledger) if transport == "memory" else http_client(portal, ledger)
        )
        with opened as client:
            schemas = {t.name: t.input_schema for t in portal.call(client.list_tools).tools}
            ids = [portal.call(open_case, client)]
            for tool, schema in schemas.items():
                started = time.perf_counter()
                tallies[tool] = fuzz_tool(portal, client, ledger, tool, schema, ids, cases, HUGE)
                print(f"  {transport:6} {tool:18} {time.perf_counter() - started:6.1f} s", file=sys.stderr, flush=True)
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzz every tool from its advertised input schema.")
    parser.add_argument("--valid", type=int, default=1000)
    parser.add_argument("--invalid", type=int, default=200)
    parser.add_argument("--transport", default="memory,http")
    options = parser.parse_args()
    logging.disable(logging.INFO)  # the in-memory server and the HTTP client log every call at INFO
    started = time.perf_counter()
    failed = 0
    print(
        f"{'transport':9} {'tool':18} {'valid ok':>8} {'refused':>8} {'invalid refused':>15} {'violations':>10} slowest"
    )
    for transport in options.transport.split(","):
        for tool, tally in run(transport, (options.valid, options.invalid)).items():
            problems = tally.problems or []
            failed += len(problems)
            print(
                f"{transport:9} {tool:18} {tally.valid_ok:8} {tally.valid_refused:8} {tally.invalid_refused:15} "
                f"{len(problems):10} {tally.slowest * 1000:6.0f} ms"
            )
            for problem in problems[:5]:
                print(f"    {problem[:500]}")
    print(f"wall time {time.perf_counter() - started:.1f} s; {failed} violations")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
