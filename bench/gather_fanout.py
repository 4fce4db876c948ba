"""Fan-out of `gather_context`: five slow sources asked at once cost about the slowest one, not their sum.

Zendesk, HubSpot, Slack, Jira and Notion, the real adapters with their own rate policies, each
talk to its own loopback upstream (tests.connectors.loopback, uvicorn on 127.0.0.1) that holds
every request 200 ms before the vendor fake answers it. Each source is first gathered alone, then
all five together, interleaved over several runs; fresh adapters every time, so no pacing or
connection carries over. The ratio of the fan-out's median to the slowest single source's median
is the number to watch (target <= 1.2x; asking one after another would approach the sum).

A second case makes one source hang under a 1 s deadline (the other four hold each request 50 ms,
so HubSpot's five round trips fit): the wall time, and which four answered.
The script exits non-zero only on a crash or when that case does not bring the other four answers.

    uv run python bench/gather_fanout.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import timedelta

import anyio

from connectors import Category, Connectors
from server.context import ContextReport, gather
from tests.connectors.loopback import (
    VENDORS,
    Delegate,
    Hang,
    Loopback,
    Mode,
    Slow,
    serve_all,
    vendor_adapters,
    vendor_fakes,
)
from tests.connectors.scenario import ANCHOR, SCENARIO

QUERY = "CSV export fails with a timeout"
CUSTOMER = "Globex"
SINCE = ANCHOR - timedelta(days=30)
LATENCY = 0.2  # every request, every vendor
DEADLINE = 10.0  # far beyond any source here: the fan-out case measures, never cuts
HANG_DEADLINE = 1.0
HANG_LATENCY = 0.05  # the healthy four, when one hangs: HubSpot's five round trips must fit in the deadline
HANGING: Category = "tracker"
TARGET_RATIO = 1.2
CATEGORIES: list[Category] = [category for category, _ in VENDORS]


def only(connectors: Connectors, category: Category) -> Connectors:
    """The same adapters with every other category left unconnected."""
    return Connectors(**{category: getattr(connectors, category)})


async def timed_gather(
    urls: Mapping[Category, str], category: Category | None, deadline: float
) -> tuple[float, ContextReport]:
    """Wall seconds of one `gather` over fresh adapters: all five, or `category` alone."""
    connectors = vendor_adapters(urls, policy=None)
    try:
        asked = connectors if category is None else only(connectors, category)
        started = time.perf_counter()
        report = await gather(asked, QUERY, customer=CUSTOMER, since=SINCE, limit=10, deadline=deadline)
        wall = time.perf_counter() - started
    finally:
        await connectors.aclose()
    return wall, report


async def healthy_gather(urls: Mapping[Category, str], category: Category | None) -> float:
    """As `timed_gather` with every source expected to answer; the wall seconds."""
    wall, report = await timed_gather(urls, category, DEADLINE)
    failed = [f"{s.category}: {s.status} {s.error}" for s in report.sources if s.status not in ("ok", "not_connected")]
    if failed:
        raise RuntimeError(f"a healthy source did not answer: {failed}")
    return wall


async def fan_out(runs: int) -> tuple[dict[Category, list[float]], list[float]]:
    """Per-source and all-five wall times, interleaved, after one untimed warm-up of each."""
    fakes = vendor_fakes(SCENARIO.shifted_to(ANCHOR))
    modes: list[Mode] = [Slow(LATENCY, then=Delegate(fakes[c])) for c in CATEGORIES]
    singles: dict[Category, list[float]] = {c: [] for c in CATEGORIES}
    together: list[float] = []
    async with serve_all(*modes) as upstreams:
        urls = urls_of(upstreams)
        warm_up: list[Category | None] = [*CATEGORIES, None]
        for category in warm_up:
            await healthy_gather(urls, category)
        for _ in range(runs):
            for category in CATEGORIES:
                singles[category].append(await healthy_gather(urls, category))
            together.append(await healthy_gather(urls, None))
    return singles, together


async def one_hanging() -> tuple[float, ContextReport]:
    fakes = vendor_fakes(SCENARIO.shifted_to(ANCHOR))
    modes: list[Mode] = [Hang() if c == HANGING else Slow(HANG_LATENCY, then=Delegate(fakes[c])) for c in CATEGORIES]
    async with serve_all(*modes) as upstreams:
        return await timed_gather(urls_of(upstreams), None, HANG_DEADLINE)


def urls_of(upstreams: tuple[Loopback, ...]) -> dict[Category, str]:
    return {c: u.url for c, u in zip(CATEGORIES, upstreams, strict=True)}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs: int = parser.parse_args().runs

    singles, together = anyio.run(fan_out, runs)
    print(f"gather over five loopback vendors, each request held {LATENCY * 1000:.0f} ms: {runs} interleaved runs")
    print(f"  {'':<28} {'wall median':>12} {'min':>10} {'max':>10}")
    rows = [(f"{c} ({name}) alone", singles[c]) for c, name in VENDORS] + [("all five at once", together)]
    for label, walls in rows:
        print(f"  {label:<28} {ms(statistics.median(walls)):>12} {ms(min(walls)):>10} {ms(max(walls)):>10}")
    slowest = max(statistics.median(walls) for walls in singles.values())
    total = sum(statistics.median(walls) for walls in singles.values())
    ratio = statistics.median(together) / slowest
    verdict = "within target" if ratio <= TARGET_RATIO else "OVER target"
    print(
        f"  ratio to the slowest single source: {ratio:.2f}x (target <= {TARGET_RATIO}x: {verdict}); "
        f"one after another would be {total / slowest:.2f}x"
    )

    wall, report = anyio.run(one_hanging)
    answered = [s.category for s in report.sources if s.status == "ok"]
    print(
        f"one source ({HANGING}) hanging, the others holding each request {HANG_LATENCY * 1000:.0f} ms, "
        f"deadline {HANG_DEADLINE:g} s: returned in {ms(wall).strip()}"
    )
    for s in report.sources:
        print(f"  {s.category:<10} {s.adapter or '':<8} {s.status:<10} {s.found:>3} found  {s.error or ''}")
    expected = [c for c in CATEGORIES if c != HANGING]
    if answered != expected:
        sys.exit(f"the four healthy sources did not all answer: {answered} instead of {expected}")
    print(f"  the other four answered: {', '.join(answered)}")


if __name__ == "__main__":
    main()
