"""Quality of "distinct customers reporting the same problem" on the labelled corpus.

For each of the 26 clusters, the cluster's question goes to `find_related` over the corpus loaded in
the local workspace (the real candidate path); the customers it returns are compared with the labelled
ones, micro-averaged over clusters. Twice: on the paraphrases the lexicon was written alongside, and on
held-out paraphrases written after it was frozen (the honest number). Baselines measured in the same
run, each given every ticket of the window as candidates (more than a search would hand them):

- `context.relevant`: the stemmed word-overlap match `gather_context` uses today;
- n-gram TF-IDF alone: the character n-gram cosine of `server.similarity`, no lexicon, at the
  threshold that scores best on the held-out set (so the baseline is not handicapped by a bad cut).

Also prints regression-detection accuracy (the matched tracker issue was closed as fixed before the
cluster's reports began, or not) and tracker-match accuracy. Prints; exits non-zero only on a crash.

    uv run python bench/patterns_eval.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.context import relevant
from server.similarity import IDF, grams
from tests.server.pattern_corpus import CLUSTERS, Corpus, build, evaluate

Decide = Callable[[str, list[str]], list[bool]]


def _baseline(corpus: Corpus, decide: Decide) -> tuple[float, float]:
    """Precision and recall of customers when `decide` picks matching texts among the window's tickets."""
    window = [t for t in corpus.workspace.tickets if corpus.since <= t.created_at <= corpus.now]
    texts = [f"{t.subject}. {t.body}"[:600] for t in window]
    found = expected = hits = 0
    for cluster in CLUSTERS:
        got = {t.customer for t, same in zip(window, decide(cluster.query, texts), strict=True) if same and t.customer}
        want = corpus.labels.customers[cluster.key]
        found += len(got)
        expected += len(want)
        hits += len(got & want)
    return (hits / found if found else 0.0), (hits / expected if expected else 0.0)


def _word_overlap(query: str, texts: list[str]) -> list[bool]:
    return [relevant(query, text) for text in texts]


def _ngram(threshold: float) -> Decide:
    def decide(query: str, texts: list[str]) -> list[bool]:
        bags = [grams(t) for t in texts]
        target = grams(query)
        idf = IDF([target, *bags])
        return [idf.cosine(target, bag) >= threshold for bag in bags]

    return decide


def _f1(pr: tuple[float, float]) -> float:
    p, r = pr
    return 2 * p * r / (p + r) if p + r else 0.0


async def main() -> None:
    tuned, held = build(), build(held_out=True)
    print(f"corpus: {len(tuned.workspace.tickets):,} tickets, {len(tuned.workspace.accounts)} accounts, ", end="")
    print(f"{len(CLUSTERS)} clusters, window {tuned.since:%Y-%m-%d} to {tuned.now:%Y-%m-%d}")
    print(f"{'method':<44} {'set':<9} {'precision':>9} {'recall':>7} {'regression':>10} {'tracker':>8} {'time':>7}")
    for name, corpus in (("tuned", tuned), ("held-out", held)):
        started = time.perf_counter()
        s = await evaluate(corpus)
        took = time.perf_counter() - started
        print(
            f"{'find_related (lexicon + n-gram TF-IDF)':<44} {name:<9} {s.precision:>9.3f} {s.recall:>7.3f} "
            f"{s.regression_accuracy:>10.3f} {s.tracker_accuracy:>8.3f} {took:>6.1f}s"
        )
        for key, (missed, extra) in s.misses.items():
            print(f"    {key}: missed {sorted(missed)}, wrongly added {sorted(extra)}")
    best = max((t / 100 for t in range(10, 65, 5)), key=lambda t: _f1(_baseline(held, _ngram(t))))
    for label, decide in (
        ("context.relevant (word overlap, today)", _word_overlap),
        (f"n-gram TF-IDF alone (>= {best:.2f})", _ngram(best)),
    ):
        for name, corpus in (("tuned", tuned), ("held-out", held)):
            p, r = _baseline(corpus, decide)
            print(f"{label:<44} {name:<9} {p:>9.3f} {r:>7.3f} {'-':>10} {'-':>8} {'-':>7}")
    print("targets: precision >= 0.9 and recall >= 0.9 on distinct customers; regression accuracy over the 26 clusters")


if __name__ == "__main__":
    anyio.run(main)
