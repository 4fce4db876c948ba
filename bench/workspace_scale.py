"""How the local workspace scales: start-up time, peak memory and search latency at 1k, 10k and 100k tickets.

For each size a realistic workspace (`tests.workspaces.busy_workspace`) is written to a file, then a fresh
subprocess opens it with `LocalWorkspace.open` (as the server does at start-up), reports the wall and CPU
time that took and its peak RSS (`ru_maxrss`, with the interpreter's own footprint before loading), then
times rounds of the five searches `gather_context` makes, run concurrently: tickets in the last 30 days
(limit 5), chat, tracker, knowledge, and the CRM account lookup with its open deals. Figures are printed
as ratios to the 1,000-ticket run of the same invocation.

Targets: start-up from 10k to 100k within 12x (linear); search p50 at 100k within 5x of p50 at 1k.
It prints and exits 0 whatever the timings; only a crash fails it.

    uv run python bench/workspace_scale.py [--sizes 1000,10000,100000] [--rounds 40]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import anyio

from connectors.local import LocalWorkspace
from tests.workspaces import ANCHOR, busy_workspace

QUERIES = [
    "API returning 500 errors since the deploy",
    "nightly export timing out",
    "admins get permission denied on sso",
    "webhooks creating duplicate records",
    "dashboard very slow to load reports",
    "billing totals do not match the invoice",
]
CUSTOMERS = ["Acme Corp", "Globex", "initech"]


def child(path: Path, rounds: int) -> dict[str, float]:
    """Open the workspace in `path` and time it and its searches; runs in a fresh process."""
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    workspace = LocalWorkspace.open(path, now=ANCHOR)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    since = ANCHOR - timedelta(days=30)

    async def gather(query: str, customer: str) -> None:
        async def crm() -> None:
            [account, *_] = await workspace.search_accounts(customer, limit=5)
            await workspace.open_deals(account.id)

        async with anyio.create_task_group() as group:
            group.start_soon(lambda: workspace.search_tickets(query, since=since, limit=5))
            group.start_soon(lambda: workspace.search_messages(query, limit=5))
            group.start_soon(lambda: workspace.search_issues(query, limit=5))
            group.start_soon(lambda: workspace.search_articles(query, limit=5))
            group.start_soon(crm)

    async def measure() -> list[float]:
        for query in QUERIES[:3]:  # warm the caches and the worker threads
            await gather(query, CUSTOMERS[0])
        times: list[float] = []
        for i in range(rounds):
            started = time.perf_counter()
            await gather(QUERIES[i % len(QUERIES)], CUSTOMERS[i % len(CUSTOMERS)])
            times.append(time.perf_counter() - started)
        return times

    times = anyio.run(measure)
    workspace.close()
    return {
        "startup_s": wall,
        "startup_cpu_s": cpu,
        "base_mb": base_kb / 1024,
        "peak_mb": peak_kb / 1024,
        "p50_ms": statistics.median(times) * 1000,
        "p90_ms": statistics.quantiles(times, n=10)[-1] * 1000,
    }


def run(size: int, folder: Path, rounds: int) -> dict[str, float]:
    path = folder / f"workspace-{size}.json"
    started = time.perf_counter()
    # Generated in a process of its own: on Linux a child's ru_maxrss starts from its parent's RSS at
    # fork, so the parent must stay small for the loading child's peak to be its own.
    subprocess.run([sys.executable, __file__, "--generate", str(size), str(path)], check=True)
    made = time.perf_counter() - started
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--rounds", str(rounds)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    result["file_mb"] = path.stat().st_size / 2**20
    result["generate_s"] = made
    path.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="How the local workspace scales with its size.")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        size, path = args.generate
        Path(path).write_text(busy_workspace(int(size)).model_dump_json(), "utf-8")
        return
    if args.child:
        print(json.dumps(child(args.child, args.rounds)))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"local workspace scale, {os.cpu_count()} CPUs, {args.rounds} search rounds per size")
    header = (
        f"{'tickets':>8} {'file MB':>8} {'start s':>8} {'cpu s':>7} {'x 1k':>6} {'peak MB':>8} {'+load MB':>9} "
        f"{'p50 ms':>7} {'p90 ms':>7} {'x 1k':>6}"
    )
    print(header)
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="workspace-scale-") as folder:
        for size in sizes:
            r = results[size] = run(size, Path(folder), args.rounds)
            first = results[sizes[0]]
            print(
                f"{size:>8} {r['file_mb']:>8.1f} {r['startup_s']:>8.2f} {r['startup_cpu_s']:>7.2f} "
                f"{r['startup_s'] / first['startup_s']:>6.1f} {r['peak_mb']:>8.0f} {r['peak_mb'] - r['base_mb']:>9.0f} "
                f"{r['p50_ms']:>7.1f} {r['p90_ms']:>7.1f} {r['p50_ms'] / first['p50_ms']:>6.1f}",
                flush=True,
            )
    if 10_000 in results and 100_000 in results:
        ten, hundred = results[10_000], results[100_000]
        print(
            f"start-up 10k -> 100k: {hundred['startup_s'] / ten['startup_s']:.1f}x wall, "
            f"{hundred['startup_cpu_s'] / ten['startup_cpu_s']:.1f}x CPU (target within 12x)"
        )
    if 100_000 in results:
        ratio = results[100_000]["p50_ms"] / results[sizes[0]]["p50_ms"]
        print(f"search p50 at 100k: {ratio:.1f}x the p50 at {sizes[0]:,} (target within 5x)")


if __name__ == "__main__":
    main()
