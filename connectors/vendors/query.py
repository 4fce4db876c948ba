"""Turning the assistant's free-text issue description into what a vendor's search can use."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from connectors.errors import ConnectorError, InvalidCursorError, NotFoundError, UpstreamError
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


def fitting_chunks(values: Sequence[str], fits: Callable[[Sequence[str]], bool]) -> list[list[str]]:
    """`values` in order, cut into as few runs as `fits` accepts (a request's size limit); a value that
    does not fit even alone is left out, since no request could carry it."""
    chunks: list[list[str]] = []
    current: list[str] = []
    for value in values:
        if fits([*current, value]):
            current.append(value)
            continue
        if current:
            chunks.append(current)
        current = [value] if fits([value]) else []
    if current:
        chunks.append(current)
    return chunks


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


# An opaque vendor cursor as the vendors issue them: base64 (either alphabet), ids, offsets and
# separators; never spaces, slashes into other paths, or text long enough to be a payload.
OPAQUE_CURSOR = re.compile(r"[A-Za-z0-9+=_:.\-]{1,1024}")


def checked_cursor(source: str, cursor: str | None, shape: re.Pattern[str] = OPAQUE_CURSOR) -> str | None:
    """`cursor` when it has the shape this source's cursors have; InvalidCursorError, with nothing sent, if not."""
    if cursor is not None and not shape.fullmatch(cursor):
        raise InvalidCursorError(source)
    return cursor


def refuses_cursor(exc: ConnectorError) -> bool:
    """Whether a vendor's error to a request carrying a caller's cursor means it refused that cursor:
    a 400 or 422 (a malformed cursor) or a 404 (one that points nowhere)."""
    if isinstance(exc, NotFoundError):
        return True
    return isinstance(exc, UpstreamError) and exc.status in (400, 422)
