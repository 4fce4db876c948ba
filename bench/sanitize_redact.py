"""Sanitizer and redactor: throughput on 1 MB of mixed text, linear time on adversarial input, and the
redactor's precision and recall on the PII corpus.

Baselines measured in the same run on the same text: for `sanitize`, the hidden-character filter it
replaced (one `unicodedata.category` look-up per character); for `redact`, one pass of a single
email regex (the least any regex redactor does). Adversarial inputs (one long line, entity floods,
unclosed and nested markup, digit and separator runs) are timed at n and 2n characters: a ratio
near 2 is linear, near 4 quadratic. Prints, never fails on timing.

    uv run python bench/sanitize_redact.py [--runs 5] [--size 1000000]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import unicodedata
from collections.abc import Callable

from server.redact import redact
from server.untrusted import sanitize
from tests.server.corpora import injection, pii

_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def old_clean(text: str) -> str:
    """The sanitizer before this one: drop control and format characters, nothing else."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in _HIDDEN)


def one_regex(text: str) -> str:
    return _EMAIL.sub("[email]", text)


def redacted(text: str) -> str:
    return redact(text).text


FILLER = [
    "The nightly order sync for Acme Corp has failed three times since the orders-svc r1184 rollout. "
    "Retries with the same Idempotency-Key do not duplicate orders, but about 1 in 20 calls return 500.",
    "결제 페이지에서 간헐적으로 500 오류가 발생합니다. 고객사는 월요일까지 원인과 예상 해결 시점을 요청했습니다.",
    "注文APIで断続的に500エラーが発生しています。月曜日までに原因と対応予定をご連絡ください。",
    "```python\nfor attempt in range(3):\n    response = client.post('/v2/orders', json=body)\n```",
    "| step | result |\n|---|---|\n| POST /v2/orders | 500 |\n| retry | 201 |",
    "Family 👨‍👩‍👧‍👦, technologist 🧑🏽‍💻, flag 🏳️‍🌈, heart ❤️. مرحبا، لدينا مشكلة في الفواتير.",
]


def mixed_text(size: int) -> str:
    """About `size` characters: filler prose and code with the PII and injection corpora mixed in."""
    pieces: list[str] = []
    cases = [c.text for c in pii.corpus()] + [c.text for c in injection.attacks()] + injection.BENIGN
    i = 0
    total = 0
    while total < size:
        piece = FILLER[i % len(FILLER)] if i % 3 else cases[(i // 3) % len(cases)]
        pieces.append(piece)
        total += len(piece) + 2
        i += 1
    return "\n\n".join(pieces)[:size]


def timed(fn: Callable[[str], object], text: str, runs: int) -> float:
    """The fastest of `runs`: on a shared machine the others measure the neighbours."""
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        fn(text)
        samples.append(time.perf_counter() - started)
    return min(samples)


ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "one long line": lambda n: "word " * (n // 5),
    "no spaces at all": lambda n: "a" * n,
    "entity flood": lambda n: "&amp;" * (n // 5),
    "hidden-entity flood": lambda n: "&#8203;" * (n // 7),
    "nested entity halves": lambda n: "&#82" * (n // 8) + "&#8203;" + "03;" * (n // 8),
    "unclosed comments": lambda n: "<!--" * (n // 4),
    "unclosed hidden divs": lambda n: "<div hidden>" * (n // 12),
    "nested hidden divs": lambda n: "<div hidden>" * (n // 24) + "</div>" * (n // 24),
    "unclosed image alts": lambda n: "![" * (n // 2),
    "brackets": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "chat token halves": lambda n: "<|" * (n // 2),
    "fence lines": lambda n: "```system\n" * (n // 10),
    "joiners": lambda n: "\u200d" * n,
    "selector run": lambda n: "😀" + "\U000e0100" * n,
    "digits": lambda n: "1" * n,
    "digit groups": lambda n: "12 " * (n // 3),
    "at signs": lambda n: "a@" * (n // 2),
    "key names": lambda n: "password=" * (n // 9),
    "jwt-ish": lambda n: "eyJ" + "a." * (n // 2),
    "key headers": lambda n: "-----BEGIN PRIVATE KEY-----" * (n // 27),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--adversarial-size", type=int, default=100_000)
    args = parser.parse_args()

    text = mixed_text(args.size)
    megabytes = len(text.encode()) / 1e6
    print(f"mixed text: {len(text):,} characters, {megabytes:.2f} MB UTF-8, median of {args.runs} interleaved runs")
    print(f"{'':<32}{'seconds':>10}{'MB/s':>10}{'vs baseline':>14}")
    rows = [
        ("sanitize", sanitize, "old hidden-character filter", old_clean),
        ("redact", redacted, "one email regex", one_regex),
    ]
    for name, fn, base_name, base in rows:
        # Interleaved so that a busy machine slows both alike.
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.runs):
            ours.append(timed(fn, text, 1))
            theirs.append(timed(base, text, 1))
        mine, baseline = statistics.median(ours), statistics.median(theirs)
        print(f"{name:<32}{mine:>10.3f}{megabytes / mine:>10.1f}{mine / baseline:>13.1f}x")
        print(f"  {base_name:<30}{baseline:>10.3f}{megabytes / baseline:>10.1f}")

    n = args.adversarial_size
    print(f"\nadversarial input: time at {n:,} and {2 * n:,} characters (ratio ~2 linear, ~4 quadratic)")
    print("(rows under 5 ms are dominated by timer and scheduler noise and left out of the worst ratio)")
    print(f"{'':<24}{'sanitize':>26}{'redact':>26}")
    worst = 0.0
    for name, make in ADVERSARIAL.items():
        small, large = make(n), make(2 * n)
        cells: list[str] = []
        for fn in (sanitize, redacted):
            t1, t2 = timed(fn, small, 5), timed(fn, large, 5)
            ratio = t2 / t1 if t1 > 0 else float("nan")
            if t1 >= 0.005:
                worst = max(worst, ratio)
            cells.append(f"{t1 * 1000:>7.1f}→{t2 * 1000:>7.1f} ms {ratio:>4.1f}x")
        print(f"{name:<24}{cells[0]:>26}{cells[1]:>26}")
    print(f"worst 2x/1x ratio: {worst:.1f}")

    result = pii.score(pii.corpus(), redacted)
    print(
        f"\nPII corpus: {len(pii.corpus())} cases; precision {result.precision:.3f}, recall {result.recall:.3f} "
        f"({result.true_positives} caught, {result.false_negatives} missed, {result.false_positives} false alarms)"
    )


if __name__ == "__main__":
    main()
