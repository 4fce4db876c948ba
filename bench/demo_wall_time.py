"""Wall time of `escalation-mcp demo --json` against the bare server's cold start, measured in the same run.

The demo runs the whole seven-step workflow in memory; the bare server's spawn-to-exit time is the
floor of starting Python with the SDK, so the ratio says how much the workflow itself costs.

    uv run python bench/demo_wall_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time

import anyio
from cold_start import Sample, bare_command, children_cpu, cold_start, ledger_env, params, real_command, report


def demo_once(env: dict[str, str]) -> Sample:
    """One `escalation-mcp demo --json`, wall and CPU seconds; its output must be one JSON document."""
    cpu, started = children_cpu(), time.perf_counter()
    done = subprocess.run([*real_command(), "demo", "--json"], env=env, capture_output=True, timeout=120, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"demo exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
    json.loads(done.stdout)
    return Sample(wall, children_cpu() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs: int = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as folder:
        env = {**os.environ, **ledger_env(folder)}
        bare = params(bare_command(), ledger_env(folder))
        anyio.run(cold_start, bare)
        demo_once(env)
        bare_samples: list[Sample] = []
        demo_samples: list[Sample] = []
        for _ in range(runs):
            bare_samples.append(anyio.run(cold_start, bare))
            demo_samples.append(demo_once(env))
    print(f"demo wall time (`escalation-mcp demo --json`): {runs} interleaved runs each")
    wall, cpu = report([("bare MCPServer cold start", bare_samples), ("escalation-mcp demo --json", demo_samples)])
    print(f"  ratio of medians: wall {wall:.2f}x the bare cold start, cpu {cpu:.2f}x")


if __name__ == "__main__":
    main()
