"""Latency of `find_related` at 1,000, 10,000 and 100,000 tickets in the local workspace.

Each size runs in its own process (so peak memory is that size's): build the labelled corpus scaled
up with background tickets, load it into the local workspace (the index build, timed), then ask every
cluster's question and time it. The baseline, measured in the same process, is the candidate fetch
alone (the same searches and pages through the same adapter, no similarity): the ratio says what
deciding costs on top of asking. Prints; never fails on timing.

    uv run python bench/patterns_latency.py [--sizes 1000 10000 100000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors import Connectors
from connectors.local import LocalWorkspace
from server.patterns import PatternConfig, find_related
from server.similarity import profile, search_queries
from tests.server.pattern_corpus import CLUSTERS, build


async def _fetch_only(workspace: LocalWorkspace, issue: str, since: object, config: PatternConfig) -> int:
    """The searches `find_related` makes, page by page, without deciding anything: the baseline."""
    from datetime import datetime

    assert isinstance(since, datetime)
    queries = search_queries(profile(issue), issue)
    count = 0
    for query, budget in [("", config.browse_budget), *((q, config.search_budget) for q in queries)]:
        cursor: str | None = None
        got = 0
        while got < budget:
            page = await workspace.search_tickets(query, since=since, limit=config.page_size, cursor=cursor)
            got += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        count += got
    for query in queries:
        count += len((await workspace.search_messages(query, limit=config.message_budget)).items)
        count += len((await workspace.search_issues(query, limit=config.issue_budget)).items)
    return count


def _one_size(size: int, runs: int) -> dict[str, float]:
    noise = max(0, size - 400)  # the clusters, stale reports and near-misses are about 400 tickets
    corpus = build(noise=noise, days=60 if size <= 1000 else 365)
    started = time.perf_counter()
    workspace = LocalWorkspace(corpus.workspace)
    load_s = time.perf_counter() - started
    connectors = Connectors(support=workspace, chat=workspace, tracker=workspace)
    config = PatternConfig()

    async def main() -> dict[str, float]:
        await find_related(connectors, CLUSTERS[0].query, customer=None, since=corpus.since, now=corpus.now)  # warm
        ours: list[float] = []
        base: list[float] = []
        for _ in range(runs):
            for cluster in CLUSTERS:
                t0 = time.perf_counter()
                await _fetch_only(workspace, cluster.query, corpus.since, config)
                t1 = time.perf_counter()
                await find_related(connectors, cluster.query, customer=None, since=corpus.since, now=corpus.now)
                t2 = time.perf_counter()
                base.append(t1 - t0)
                ours.append(t2 - t1)
        tracemalloc.start()
        await find_related(connectors, CLUSTERS[0].query, customer=None, since=corpus.since, now=corpus.now)
        _, call_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {
            "tickets": len(corpus.workspace.tickets),
            "window": sum(1 for t in corpus.workspace.tickets if t.created_at >= corpus.since),
            "load_s": load_s,
            "p50_ms": statistics.median(ours) * 1000,
            "p95_ms": statistics.quantiles(ours, n=20)[-1] * 1000,
            "fetch_p50_ms": statistics.median(base) * 1000,
            "call_peak_mib": call_peak / 2**20,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }

    return anyio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=1, help="passes over the 26 cluster questions")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_one_size(args.child, args.runs)))
        return
    header = (
        f"{'tickets':>8} {'in window':>9} {'index build':>11} {'p50':>9} {'p95':>9} "
        f"{'fetch p50':>9} {'ratio':>6} {'call peak':>9} {'peak RSS':>9}"
    )
    print(header)
    for size in args.sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--runs", str(args.runs)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{r['tickets']:>8,} {r['window']:>9,} {r['load_s']:>10.1f}s {r['p50_ms']:>7.1f}ms {r['p95_ms']:>7.1f}ms "
            f"{r['fetch_p50_ms']:>7.1f}ms {r['p50_ms'] / r['fetch_p50_ms']:>5.2f}x "
            f"{r['call_peak_mib']:>7.1f}MiB {r['peak_rss_mib']:>7.0f}MiB",
            flush=True,
        )
    print("ratio: find_related p50 / the same searches without deciding (fetch p50), same process, same data")


if __name__ == "__main__":
    main()
