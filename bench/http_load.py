"""Load over authenticated streamable HTTP: 100 clients x 50 calls, the real server against a bare one.

The real server is `escalation-mcp serve --http` on 127.0.0.1 in OAuth mode (every request carries an
ES256 JWT verified against a JWKS this script serves on loopback) or with a static token (`--auth
static`). The baseline is a bare `MCPServer` with one tool (`_bare_server.py`) on uvicorn with no auth,
under the same load in the same run. Each client opens a session and alternates a pure tool call
(`pick_tier {"signals": ["bug_confirmed"]}`, the bare server's `echo`) with `tools/list`. Both protocol
generations run: 2025-11-25 (`mode="legacy"`) and 2026-07-28. Prints throughput, p50 and p99 per run,
their ratios to the bare server (target: throughput >= 0.7x), the error count (must be 0) and the real
server's RSS before and after the load. Exits non-zero on any error; never asserts a timing.

    uv run python bench/http_load.py [--clients 100] [--calls 50] [--auth oauth|static|none]

`--auth none` runs the real server without authentication: the difference to the default run is
what authentication costs.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BENCH = Path(__file__).resolve().parent
TARGET_RATIO = 0.7
ISSUER = "https://issuer.bench.invalid/"
STATIC_TOKEN = "bench-static-token-" + "x" * 32
MODES = {"2025-11-25": "legacy", "2026-07-28": "auto"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float | None:
    """Resident set size of a process in MiB (Linux /proc), None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_jwks(document: dict[str, Any]) -> tuple[str, Callable[[], None]]:
    """A loopback HTTP server answering every GET with the JWKS; its URL and a stop function."""
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", httpd.shutdown


@dataclass
class Spawned:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    headers: dict[str, str] = field(default_factory=dict[str, str])
    tool: tuple[str, dict[str, Any]] = ("echo", {"text": "hi"})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_until_listening(spawned: Spawned, timeout: float = 60) -> None:
    port = int(spawned.url.rsplit(":", 1)[1].split("/")[0])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if spawned.process.poll() is not None:
            raise RuntimeError(f"{spawned.name} exited with {spawned.process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{spawned.name} did not listen on port {port} within {timeout} s")


def real_command() -> list[str]:
    script = Path(sys.executable).parent / "escalation-mcp"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from server.cli import main; main()"]


def spawn_real(folder: str, auth: str) -> tuple[Spawned, Callable[[], None]]:
    """The real server with authentication on a free port; and what else to stop afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")}
    env.update(ESCALATION_LEDGER_PATH=os.path.join(folder, "ledger.db"), ESCALATION_LOG_LEVEL="WARNING")
    stop_jwks: Callable[[], None] = lambda: None  # noqa: E731
    if auth == "oauth":
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "bench", "use": "sig", "alg": "ES256"}
        jwks_url, stop_jwks = serve_jwks({"keys": [jwk]})
        env.update(ESCALATION_AUTH_ISSUER=ISSUER, ESCALATION_AUTH_JWKS_URL=jwks_url, ESCALATION_HTTP_RESOURCE_URL=url)
        claims = {"iss": ISSUER, "aud": url, "sub": "bench", "exp": int(time.time()) + 3600}
        token = jwt.encode({**claims, "scope": "escalations:read"}, key, algorithm="ES256", headers={"kid": "bench"})
    elif auth == "static":
        env.update(ESCALATION_HTTP_TOKEN=STATIC_TOKEN)
        token = STATIC_TOKEN
    else:  # "none": the same server without authentication, to see what authentication itself costs
        token = ""
    command = [*real_command(), "serve", "--http", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    spawned = Spawned(
        "escalation-mcp",
        url,
        process,
        headers={"authorization": f"Bearer {token}"} if token else {},
        tool=("pick_tier", {"signals": ["bug_confirmed"]}),
    )
    return spawned, stop_jwks


def spawn_bare() -> Spawned:
    port = free_port()
    code = (
        "import logging, sys, uvicorn; sys.path.insert(0, sys.argv[1]); from _bare_server import build; "
        "app = build().streamable_http_app(); logging.getLogger().setLevel(logging.WARNING); "
        "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', log_config=None)"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(BENCH), str(port)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    return Spawned("bare MCPServer", f"http://127.0.0.1:{port}/mcp", process)


@dataclass
class Run:
    wall: float
    latencies: list[float]
    errors: list[str]
    server_cpu: float | None = None  # seconds the server process spent on the run
    client_cpu: float = 0.0  # seconds this process (the clients) spent on the run

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.calls / self.wall

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_client(target: Spawned, mode: str, calls: int, latencies: list[float], errors: list[str]) -> None:
    name, arguments = target.tool
    try:
        async with (
            httpx2.AsyncClient(headers=target.headers, timeout=120) as http,
            Client(streamable_http_client(target.url, http_client=http), mode=mode, cache=None) as client,  # pyright: ignore[reportArgumentType]
        ):
            for i in range(calls):
                started = time.perf_counter()
                if i % 2 == 0:
                    result = await client.call_tool(name, arguments)
                    if result.is_error:
                        errors.append(f"{name}: {result.content}")
                else:
                    listed = await client.list_tools()
                    if not listed.tools:
                        errors.append("tools/list: no tools")
                latencies.append(time.perf_counter() - started)
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")


async def load(target: Spawned, mode: str, clients: int, calls: int) -> Run:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    with anyio.fail_after(600):
        async with anyio.create_task_group() as group:
            for _ in range(clients):
                group.start_soon(one_client, target, mode, calls, latencies, errors)
    return Run(time.perf_counter() - started, latencies, errors)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--auth", choices=["oauth", "static", "none"], default="oauth")
    args = parser.parse_args()
    clients: int = args.clients
    calls: int = args.calls

    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-http-load-") as folder:
        real, stop_jwks = spawn_real(folder, args.auth)
        bare = spawn_bare()
        try:
            wait_until_listening(real)
            wait_until_listening(bare)
            # Warm-up (imports, first JWKS fetch), untimed.
            for target in (real, bare):
                anyio.run(load, target, "legacy", 2, 2)
            rss_before = rss_mib(real.process.pid)
            print(
                f"streamable HTTP on 127.0.0.1: {clients} clients x {calls} calls "
                f"(tool call and tools/list alternating), auth: {args.auth} (real server only)"
            )
            print(
                f"  {'':<36} {'calls/s':>9} {'p50':>11} {'p99':>11} {'server cpu/call':>14} {'client cpu/call':>14}"
                f" {'errors':>7}"
            )
            for version, mode in MODES.items():
                runs: dict[str, Run] = {}
                for target in (bare, real):  # same order every time: the baseline first
                    cpu_before = cpu_seconds(target.process.pid)
                    client_before = time.process_time()
                    run = anyio.run(load, target, mode, clients, calls)
                    run.client_cpu = time.process_time() - client_before
                    cpu_after = cpu_seconds(target.process.pid)
                    if cpu_before is not None and cpu_after is not None:
                        run.server_cpu = cpu_after - cpu_before
                    runs[target.name] = run
                    cpu = f"{run.server_cpu / run.calls * 1000:9.2f} ms" if run.server_cpu and run.calls else "n/a"
                    client = f"{run.client_cpu / run.calls * 1000:9.2f} ms" if run.calls else "n/a"
                    print(
                        f"  {target.name + ' ' + version:<36} {run.throughput:9.0f} {ms(run.quantile(0.5)):>11}"
                        f" {ms(run.quantile(0.99)):>11} {cpu:>14} {client:>14} {len(run.errors):>7}"
                    )
                    for error in sorted(set(run.errors))[:5]:
                        print(f"      {error[:200]}")
                    failed = failed or bool(run.errors) or run.calls != clients * calls
                base, mine = runs[bare.name], runs[real.name]
                ratio = mine.throughput / base.throughput
                verdict = "within target" if ratio >= TARGET_RATIO else "UNDER target"
                p50 = mine.quantile(0.5) / base.quantile(0.5)
                p99 = mine.quantile(0.99) / base.quantile(0.99)
                cpu_ratio = (
                    f", server cpu/call {mine.server_cpu / base.server_cpu:.2f}x"
                    if mine.server_cpu and base.server_cpu
                    else ""
                )
                print(
                    f"  ratio {version}: throughput {ratio:.2f}x (target >= {TARGET_RATIO}x: {verdict}), "
                    f"p50 {p50:.2f}x, p99 {p99:.2f}x{cpu_ratio}"
                )
            rss_after = rss_mib(real.process.pid)
            if rss_before is not None and rss_after is not None:
                print(f"  escalation-mcp RSS: {rss_before:.0f} MiB before the load, {rss_after:.0f} MiB after")
        finally:
            real.stop()
            bare.stop()
            stop_jwks()
    if failed:
        print("errors: see above")
        sys.exit(1)


if __name__ == "__main__":
    main()
