"""Answers that fit the model's tool-result budget, with nothing dropped silently.

Long text is clipped at a sentence or line boundary with a visible marker saying how much was left
out; a code block (error text, a log excerpt) is kept whole where it fits. When whole records still
do not fit, the last ones of the largest source are left out and that source says `truncated` with
a cursor that resumes exactly there.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

CHARS_PER_TOKEN = 4  # a conservative average for English prose and JSON


def marker(left_out: int) -> str:
    return f"[… {left_out:,} more characters]"


def clip(text: str, limit: int) -> str:
    """`text` within about `limit` characters, cut at a line or sentence, never mid-word, with a marker.

    A code block (error text, a log excerpt) that opens inside the window is kept whole when it ends
    within a quarter past it, and otherwise left out whole rather than cut.
    """
    from server.untrusted import clip as cut_at_boundary

    if len(text) <= limit:
        return text
    head = text[:limit]
    if head.count("```") % 2 == 1:
        start = head.rfind("```")
        close = text.find("```", start + 3)
        if close != -1 and close + 3 <= limit * 1.25:
            kept = text[: close + 3]
            return text if len(kept) == len(text) else f"{kept}\n{marker(len(text) - len(kept))}"
        if start > 0:
            return cut_at_boundary(text, start)
    return cut_at_boundary(text, limit)


@dataclass(frozen=True)
class Cursor:
    """Where a source's next page starts: the adapter's own cursor plus records to skip on that page."""

    source: str
    binding: str
    upstream: str | None
    skip: int = 0


class CursorError(ValueError):
    """A cursor this server did not issue for this source and search."""


def binding(*parts: object) -> str:
    """A short digest tying a cursor to the search that issued it."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def encode(cursor: Cursor) -> str:
    raw = json.dumps([cursor.source, cursor.binding, cursor.upstream, cursor.skip], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class _Decoded(BaseModel):
    parts: tuple[str, str, str | None, int]


def decode(token: str, *, source: str, expected: str) -> Cursor:
    """The cursor in `token`; CursorError when it is malformed, another source's, or another search's."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parts = _Decoded.model_validate({"parts": json.loads(raw)}).parts
    except (ValueError, ValidationError, UnicodeDecodeError):
        raise CursorError(f"the {source} cursor is not one this server issued; start again without a cursor") from None
    cursor = Cursor(*parts)
    if cursor.source != source:
        raise CursorError(f"that cursor belongs to {cursor.source}, not {source}; pass each source's own next_cursor")
    if cursor.binding != expected or cursor.skip < 0:
        raise CursorError(
            f"the {source} cursor was issued for another search; repeat the same issue and customer, "
            "or start again without a cursor"
        )
    return cursor
