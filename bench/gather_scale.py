"""gather_context end to end on busy workspaces of 1,000, 10,000 and 100,000 tickets: latency and answer size.

For each size a generated workspace (`tests/workspaces.py`: long bodies, log excerpts, several comments)
is served by the real server in memory, and the playbook's four examples are asked through the MCP
`Client` with `limit` at its maximum (50), related reports included. Printed: the server's start-up,
gather_context's p50 at each size as a ratio to the 1,000-ticket p50 measured in the same run (target:
at most 5x at 100,000), and the largest answer (its text content, what a client shows the model) in
characters and approximate tokens against the budget (default 20,000 tokens). Prints; never fails on timing.

    uv run python bench/gather_scale.py [--sizes 1000 10000 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors import Connectors
from connectors.local import LocalWorkspace
from server.app import build_server
from server.budget import CHARS_PER_TOKEN
from server.settings import Settings
from tests.workspaces import busy_workspace

EXAMPLES = (
    ("API returning 500 errors intermittently", "Acme Corp"),
    ("Data export is missing rows", None),
    ("SSO login loop affecting all Enterprise customers", None),
    ("Customer threatening to churn over missing audit log feature", None),
)


async def one_size(size: int, rounds: int, scratch: Path) -> tuple[float, float, int]:
    """(start-up seconds, gather p50 seconds, largest answer in characters)."""
    path = scratch / f"busy-{size}.json"
    path.write_text(busy_workspace(size).model_dump_json(), "utf-8")
    started = time.perf_counter()
    local = LocalWorkspace.open(path)
    startup = time.perf_counter() - started
    settings = Settings(ledger_path=scratch / f"ledger-{size}.db")
    connectors = Connectors(support=local, crm=local, chat=local, tracker=local, knowledge=local)
    times: list[float] = []
    largest = 0
    async with Client(build_server(settings, connectors=connectors)) as client:
        for _ in range(rounds):
            for issue, customer in EXAMPLES:
                arguments: dict[str, object] = {"issue": issue, "limit": 50}
                if customer:
                    arguments["customer"] = customer
                began = time.perf_counter()
                result = await client.call_tool("gather_context", arguments)
                times.append(time.perf_counter() - began)
                if result.is_error:
                    raise RuntimeError(f"gather_context failed at {size}: {result.content}")
                # What the model is shown: the text content (the structured copy beside it says the same).
                (content,) = result.content
                assert content.type == "text"
                largest = max(largest, len(content.text))
    await local.aclose()
    return startup, statistics.median(times), largest


async def main(sizes: list[int], rounds: int) -> None:
    budget = Settings().answer_budget_tokens
    with tempfile.TemporaryDirectory(prefix="gather-scale-") as folder:
        results = {size: await one_size(size, rounds, Path(folder)) for size in sizes}
    base = results[sizes[0]]
    print(f"gather_context on busy workspaces, limit 50, four examples x {rounds} rounds")
    for size, (startup, p50, largest) in results.items():
        tokens = largest // CHARS_PER_TOKEN
        print(
            f"  {size:>7} tickets  start-up {startup:6.2f} s ({startup / base[0]:5.1f}x)  "
            f"gather p50 {p50 * 1000:7.1f} ms ({p50 / base[1]:4.2f}x the {sizes[0]:,}-ticket p50)  "
            f"largest answer {largest:,} chars ~{tokens:,} tokens ({tokens / budget:.2f}x the budget)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.sizes, args.rounds)
