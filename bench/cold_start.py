"""Cold start over stdio: spawn, initialize, tools/list, exit; the real server against a bare one.

Both servers run on this interpreter (the project's venv under `uv run`), the real one through its
console script rather than `uv run`, so uv's own start-up is not measured. Runs are interleaved so
machine noise hits both alike; the ratio of medians is the number to watch, never an assertion.

    uv run python bench/cold_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters

BENCH = Path(__file__).resolve().parent
TARGET_RATIO = 1.3


def ledger_env(folder: str) -> dict[str, str]:
    """Variables for a spawned server: a throwaway ledger, never the user's data dir."""
    return {"ESCALATION_LEDGER_PATH": os.path.join(folder, "ledger.db")}


def real_command() -> list[str]:
    """The installed `escalation-mcp` console script beside this interpreter, or its entry point."""
    script = Path(sys.executable).parent / ("escalation-mcp.exe" if os.name == "nt" else "escalation-mcp")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from server.cli import main; main()"]


def bare_command() -> list[str]:
    return [sys.executable, str(BENCH / "_bare_server.py")]


def params(command: list[str], env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=command[0], args=command[1:], env=env)


async def cold_start(server: StdioServerParameters) -> float:
    """Seconds from spawning the server to its exit, with an initialize handshake and a tools/list between."""
    started = time.perf_counter()
    async with Client(server, mode="legacy") as client:
        listed = await client.list_tools()
    elapsed = time.perf_counter() - started
    if not listed.tools:
        raise RuntimeError(f"{server.command} listed no tools")
    return elapsed


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f} ms"


def measure(runs: int, folder: str) -> tuple[list[float], list[float]]:
    """Interleaved cold starts of (bare, real) after one untimed warm-up each (bytecode caches)."""
    env = ledger_env(folder)
    bare, real = params(bare_command(), env), params(real_command(), env)
    anyio.run(cold_start, bare)
    anyio.run(cold_start, real)
    bare_times: list[float] = []
    real_times: list[float] = []
    for _ in range(runs):
        bare_times.append(anyio.run(cold_start, bare))
        real_times.append(anyio.run(cold_start, real))
    return bare_times, real_times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs: int = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as folder:
        bare, real = measure(runs, folder)
    ratio = statistics.median(real) / statistics.median(bare)
    print(f"cold start over stdio (spawn, initialize, tools/list, exit): {runs} interleaved runs each")
    print(f"  {'server':<16} {'median':>10} {'min':>10} {'max':>10}")
    for name, times in (("bare MCPServer", bare), ("escalation-mcp", real)):
        print(f"  {name:<16} {ms(statistics.median(times)):>10} {ms(min(times)):>10} {ms(max(times)):>10}")
    verdict = "within target" if ratio <= TARGET_RATIO else "OVER target"
    print(f"  ratio of medians: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict})")


if __name__ == "__main__":
    main()
