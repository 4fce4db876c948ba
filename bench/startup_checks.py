"""What checking the configuration at start-up costs, against what the server does at start-up anyway.

With `ESCALATION_WORKSPACE_PATH` set, start-up reads and validates the workspace file once before serving
(so a bad file is one line and exit 2, not a traceback inside a client's session) and the server then loads
it again into its index. This prints the check's time as a share of loading that same workspace, on a
generated workspace of `--tickets` tickets with long bodies, plus the settings check alone. A ratio, never
an assertion.

    uv run python bench/startup_checks.py [--tickets 3000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from connectors.local import LocalWorkspace
from server.settings import Settings
from server.startup import connectors_problem

TARGET_SHARE = 0.25  # the check may add at most a quarter of the load it guards


def workspace(tickets: int) -> dict[str, object]:
    """The demo workspace's accounts, with `tickets` tickets of about 2 KB each spread over them."""
    demo = json.loads((Path(__file__).resolve().parents[1] / "connectors" / "demo_workspace.json").read_text())
    template = demo["tickets"][0]
    names = [a["name"] for a in demo["accounts"]]
    body = "The export job stops at the 10,000th row and the CSV ends without a trailer. " * 25
    demo["tickets"] = [
        template | {"id": str(100_000 + i), "customer": names[i % len(names)], "body": f"{i}: {body}", "comments": []}
        for i in range(tickets)
    ]
    return demo


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=3_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "workspace.json"
        path.write_text(json.dumps(workspace(options.tickets)), "utf-8")
        megabytes = path.stat().st_size / 1e6
        settings = Settings(workspace_path=path, ledger_path=Path(folder) / "ledger.db")
        now = datetime.now(UTC)

        settings_alone = median_seconds(lambda: Settings(ledger_path=Path(folder) / "l.db"), options.runs)
        check = median_seconds(lambda: connectors_problem(settings), options.runs)
        load = median_seconds(lambda: LocalWorkspace.open(path, now=now), options.runs)

    print(f"workspace: {options.tickets} tickets ({megabytes:.1f} MB), median of {options.runs} runs")
    print(f"  settings with every validator:  {settings_alone * 1000:8.1f} ms")
    print(f"  start-up check of the workspace: {check * 1000:8.1f} ms")
    print(f"  loading it into the index:       {load * 1000:8.1f} ms")
    share = check / load
    verdict = "within" if share <= TARGET_SHARE else "OVER"
    print(f"check / load = {share:.2f}x ({verdict} the {TARGET_SHARE:.2f}x target)")


if __name__ == "__main__":
    main()
