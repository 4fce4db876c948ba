"""The workspace file format: one JSON document holding every category's records.

The embedded demo ships as `connectors/demo_workspace.json`; a user can point
`ESCALATION_WORKSPACE_PATH` at a file of the same shape. When `anchor` is set, every
timestamp is shifted so that `anchor` lands on "now": the demo stays recent forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import AwareDatetime, BaseModel, Field

from connectors.models import Account, Article, Deal, Message, Ticket, TrackerIssue


class Workspace(BaseModel):
    anchor: AwareDatetime | None = Field(
        default=None, description="Timestamps are shifted so this instant becomes the load time."
    )
    accounts: list[Account] = []
    deals: list[Deal] = []
    tickets: list[Ticket] = []
    messages: list[Message] = []
    issues: list[TrackerIssue] = []
    articles: list[Article] = []

    def shifted_to(self, now: datetime) -> Workspace:
        """A copy with every timestamp moved by `now - anchor` (unchanged without an anchor)."""
        if self.anchor is None:
            return self
        delta = now - self.anchor
        return Workspace(
            anchor=None,
            accounts=[shifted(a, delta) for a in self.accounts],
            deals=[shifted(d, delta) for d in self.deals],
            tickets=[shifted(t, delta) for t in self.tickets],
            messages=[shifted(m, delta) for m in self.messages],
            issues=[shifted(i, delta) for i in self.issues],
            articles=[shifted(a, delta) for a in self.articles],
        )


Shiftable = TypeVar("Shiftable", bound=Account | Deal | Ticket | Message | TrackerIssue | Article)


def shifted(record: Shiftable, delta: timedelta) -> Shiftable:
    """`record` with its timestamps moved by `delta`, and its calendar dates by the whole days in it.

    One record at a time, so a loader can shift a large workspace as it stores it instead of
    holding a shifted copy of everything.
    """
    days = timedelta(days=delta.days)
    match record:
        case Account():
            return record.model_copy(update={"renewal_date": record.renewal_date and record.renewal_date + days})
        case Deal():
            return record.model_copy(update={"close_date": record.close_date and record.close_date + days})
        case Ticket():
            return record.model_copy(
                update={
                    "created_at": record.created_at + delta,
                    "updated_at": record.updated_at and record.updated_at + delta,
                    "comments": [c.model_copy(update={"created_at": c.created_at + delta}) for c in record.comments],
                }
            )
        case Message():
            return record.model_copy(update={"posted_at": record.posted_at + delta})
        case TrackerIssue():
            return record.model_copy(
                update={
                    "created_at": record.created_at and record.created_at + delta,
                    "resolved_at": record.resolved_at and record.resolved_at + delta,
                }
            )
        case Article():
            return record.model_copy(update={"updated_at": record.updated_at and record.updated_at + delta})


def load_workspace(path: Path | None) -> Workspace:
    """Read a workspace file, or the embedded demo when `path` is None."""
    # Bytes, not text: pydantic parses UTF-8 itself, and a decoded copy of a large file would
    # double what is held while parsing (and quadruple it if one character is outside Latin-1).
    if path is None:
        data = resources.files("connectors").joinpath("demo_workspace.json").read_bytes()
    else:
        data = path.read_bytes()
    return Workspace.model_validate_json(data)
