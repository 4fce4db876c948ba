"""Wall time of `escalation-mcp demo --json` against the bare server's cold start, measured in the same run.

The demo runs the whole seven-step workflow in memory; the bare server's spawn-to-exit time is the
floor of starting Python with the SDK, so the ratio says how much the workflow itself costs.

    uv run python bench/demo_wall_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import anyio
from cold_start import bare_command, cold_start, ledger_env, ms, params, real_command


def demo_once(env: dict[str, str]) -> float:
    """Seconds for one `escalation-mcp demo --json`; its output must be one JSON document."""
    started = time.perf_counter()
    done = subprocess.run([*real_command(), "demo", "--json"], env=env, capture_output=True, timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"demo exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    json.loads(done.stdout)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs: int = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        env = {**os.environ, **ledger_env(folder)}
        bare = params(bare_command(), ledger_env(folder))
        anyio.run(cold_start, bare)
        demo_once(env)
        bare_times: list[float] = []
        demo_times: list[float] = []
        for _ in range(runs):
            bare_times.append(anyio.run(cold_start, bare))
            demo_times.append(demo_once(env))
    ratio = statistics.median(demo_times) / statistics.median(bare_times)
    print(f"demo wall time (`escalation-mcp demo --json`): {runs} interleaved runs each")
    print(f"  {'run':<26} {'median':>10} {'min':>10} {'max':>10}")
    for name, times in (("bare MCPServer cold start", bare_times), ("escalation-mcp demo", demo_times)):
        print(f"  {name:<26} {ms(statistics.median(times)):>10} {ms(min(times)):>10} {ms(max(times)):>10}")
    print(f"  ratio of medians: {ratio:.2f}x the bare cold start")


if __name__ == "__main__":
    main()
