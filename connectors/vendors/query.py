"""Turning the assistant's free-text issue description into what a vendor's search can use."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from connectors.errors import NotFoundError
from connectors.local import STOPWORDS

ArticleKind = Literal["known_issue", "workaround", "how_to", "limitation", "reference"]


def keywords(query: str, *, limit: int = 6) -> list[str]:
    """The query's meaningful words, in order, without repeats: vendors AND plain words, so a
    sentence would match nothing; adapters OR these instead (or pass them to a ranked search)."""
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 2 and w not in STOPWORDS]
    return list(dict.fromkeys(words))[:limit]


_KINDS: tuple[tuple[ArticleKind, tuple[str, ...]], ...] = (
    ("workaround", ("workaround", "work around", "work-around")),
    ("known_issue", ("known issue", "known-issue", "known bug")),
    ("limitation", ("limitation", "not supported", "unsupported")),
    ("how_to", ("how to", "how-to", "guide", "tutorial")),
)


def article_kind(title: str, labels: Iterable[str] = ()) -> ArticleKind:
    """What an article is, from its labels or tags first, then its title; `reference` otherwise."""
    for text in [*(label.lower().replace("_", " ") for label in labels), title.lower()]:
        for kind, cues in _KINDS:
            if any(cue in text for cue in cues):
                return kind
    return "reference"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def numeric_id(source: str, record_id: str, *, vendor: str, noun: str = "ticket") -> str:
    """The digits of an id the vendor numbers (`#123` and spaces allowed); NotFoundError, with no
    request sent, for anything else, since no such record can exist."""
    clean = record_id.strip().lstrip("#")
    if not clean.isdigit():
        raise NotFoundError(source, f"no {noun} with id {record_id!r} ({vendor} {noun} ids are numbers)")
    return clean
