"""Cold start over stdio: spawn, initialize, tools/list, exit; the real server against a bare one.

Both servers run on this interpreter (the project's venv under `uv run`), the real one through its
console script rather than `uv run`, so uv's own start-up is not measured. Runs are interleaved so
machine noise hits both alike; the ratio of medians is the number to watch, never an assertion.
Wall time is what a user waits; the server process's CPU time (user + system) is steadier on a
busy machine, so both are printed.

    uv run python bench/cold_start.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process reaped so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def cold_start(server: StdioServerParameters) -> Sample:
    """Spawn the server, initialize, list its tools and let it exit; wall and server CPU seconds."""
    cpu, started = children_cpu(), time.perf_counter()
    async with Client(server, mode="legacy") as client:
        listed = await client.list_tools()
    wall = time.perf_counter() - started
    if not listed.tools:
        raise RuntimeError(f"{server.command} listed no tools")
    return Sample(wall, children_cpu() - cpu)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f} ms"


def report(rows: list[tuple[str, list[Sample]]]) -> tuple[float, float]:
    """Print median, min and max wall and CPU time per row; return the last row's ratios to the first."""
    print(f"  {'':<26} {'wall median':>12} {'min':>10} {'max':>10} {'cpu median':>12}")
    for name, samples in rows:
        walls = [s.wall for s in samples]
        print(
            f"  {name:<26} {ms(statistics.median(walls)):>12} {ms(min(walls)):>10} {ms(max(walls)):>10}"
            f" {ms(statistics.median(s.cpu for s in samples)):>12}"
        )
    (_, base), (_, last) = rows[0], rows[-1]
    wall = statistics.median(s.wall for s in last) / statistics.median(s.wall for s in base)
    cpu = statistics.median(s.cpu for s in last) / statistics.median(s.cpu for s in base)
    return wall, cpu


def measure(runs: int, folder: str) -> tuple[list[Sample], list[Sample]]:
    """Interleaved cold starts of (bare, real) after one untimed warm-up each (bytecode caches)."""
    env = ledger_env(folder)
    bare, real = params(bare_command(), env), params(real_command(), env)
    anyio.run(cold_start, bare)
    anyio.run(cold_start, real)
    bare_samples: list[Sample] = []
    real_samples: list[Sample] = []
    for _ in range(runs):
        bare_samples.append(anyio.run(cold_start, bare))
        real_samples.append(anyio.run(cold_start, real))
    return bare_samples, real_samples


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs: int = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as folder:
        bare, real = measure(runs, folder)
    print(f"cold start over stdio (spawn, initialize, tools/list, exit): {runs} interleaved runs each")
    wall, cpu = report([("bare MCPServer", bare), ("escalation-mcp", real)])
    verdict = "within target" if wall <= TARGET_RATIO else "OVER target"
    print(f"  ratio of medians: wall {wall:.2f}x (target <= {TARGET_RATIO}x: {verdict}), server cpu {cpu:.2f}x")


if __name__ == "__main__":
    main()
