"""Text written by outsiders: strip what a reader cannot see, cap what costs context."""

from __future__ import annotations

import unicodedata
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

# Control, format (zero-width, bidi overrides, tag characters), private-use, unassigned, surrogates.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})
_KEEP = frozenset("\n\t")


def clean(text: str, *, limit: int | None = None) -> str:
    """`text` without invisible characters, cut to `limit` characters with a visible marker."""
    visible = "".join(ch for ch in text if ch in _KEEP or unicodedata.category(ch) not in _HIDDEN)
    if limit is not None and len(visible) > limit:
        return f"{visible[:limit]}… [+{len(visible) - limit} chars]"
    return visible


def clean_record(record: M, *, limit: int | None = None) -> M:
    """A copy of `record` with every string inside it cleaned."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value, limit=limit)
        if isinstance(value, BaseModel):
            return value.model_copy(update={k: walk(v) for k, v in value.__dict__.items()})
        if isinstance(value, list):
            return [walk(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    cleaned: M = walk(record)
    return cleaned
