"""The workspace file format: one JSON document holding every category's records.

The embedded demo ships as `connectors/demo_workspace.json`; a user can point
`ESCALATION_WORKSPACE_PATH` at a file of the same shape. When `anchor` is set, every
timestamp is shifted so that `anchor` lands on "now": the demo stays recent forever.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from connectors.models import Account, Article, Comment, Deal, Message, Ticket, TrackerIssue


class WorkspaceError(ValueError):
    """A workspace file that cannot be read or is not a workspace; the message says where it goes wrong."""


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
        days = timedelta(days=delta.days)

        def ticket(t: Ticket) -> Ticket:
            return t.model_copy(
                update={
                    "created_at": t.created_at + delta,
                    "updated_at": t.updated_at + delta if t.updated_at else None,
                    "comments": [comment(c) for c in t.comments],
                }
            )

        def comment(c: Comment) -> Comment:
            return c.model_copy(update={"created_at": c.created_at + delta})

        return Workspace(
            anchor=None,
            accounts=[
                a.model_copy(update={"renewal_date": a.renewal_date + days if a.renewal_date else None})
                for a in self.accounts
            ],
            deals=[
                d.model_copy(update={"close_date": d.close_date + days if d.close_date else None}) for d in self.deals
            ],
            tickets=[ticket(t) for t in self.tickets],
            messages=[m.model_copy(update={"posted_at": m.posted_at + delta}) for m in self.messages],
            issues=[
                i.model_copy(
                    update={
                        "created_at": i.created_at + delta if i.created_at else None,
                        "resolved_at": i.resolved_at + delta if i.resolved_at else None,
                    }
                )
                for i in self.issues
            ],
            articles=[
                a.model_copy(update={"updated_at": a.updated_at + delta if a.updated_at else None})
                for a in self.articles
            ],
        )


def load_workspace(path: Path | None) -> Workspace:
    """Read a workspace file, or the embedded demo when `path` is None; WorkspaceError when it is not one."""
    if path is None:
        text = resources.files("connectors").joinpath("demo_workspace.json").read_text("utf-8")
        return Workspace.model_validate_json(text)
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        raise WorkspaceError(f"{str(path)!r} is not UTF-8 text; save it as UTF-8 JSON") from None
    except OSError as exc:
        raise WorkspaceError(f"{str(path)!r} cannot be read: {exc.strerror or exc}") from None
    try:
        return Workspace.model_validate_json(text)
    except ValidationError as exc:
        raise WorkspaceError(f"{str(path)!r} is not a valid workspace: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    """Where the first problem is (`tickets.3.created_at`) and what it is; record values stay out of it."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where + ': ' if where else ''}{first['msg']}{more}"
