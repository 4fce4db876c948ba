"""The workspace file format: one JSON document holding every category's records.

The embedded demo ships as `connectors/demo_workspace.json`; a user can point
`ESCALATION_WORKSPACE_PATH` at a file of the same shape. When `anchor` is set, every
timestamp is shifted so that `anchor` lands on "now": the demo stays recent forever.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter, ValidationError

from connectors.models import Account, Article, Deal, Message, Ticket, TrackerIssue


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
    """Read a workspace file, or the embedded demo when `path` is None; WorkspaceError when it is not one."""
    # Bytes, not text: pydantic parses UTF-8 itself, and a decoded copy of a large file would
    # double what is held while parsing (and quadruple it if one character is outside Latin-1).
    if path is None:
        return Workspace.model_validate_json(resources.files("connectors").joinpath("demo_workspace.json").read_bytes())
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WorkspaceError(f"{str(path)!r} cannot be read: {exc.strerror or exc}") from None
    try:
        return Workspace.model_validate_json(data)
    except ValidationError as exc:
        raise WorkspaceError(f"{str(path)!r} is not a valid workspace: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    """Where the first problem is (`tickets.3.created_at`) and what it is; record values stay out of it."""
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where + ': ' if where else ''}{first['msg']}{more}"


Stored = Account | Deal | Ticket | Message | TrackerIssue | Article
CATEGORIES: dict[str, type[Stored]] = {
    "accounts": Account,
    "deals": Deal,
    "tickets": Ticket,
    "messages": Message,
    "issues": TrackerIssue,
    "articles": Article,
}
_ANCHOR: TypeAdapter[AwareDatetime | None] = TypeAdapter(AwareDatetime | None)  # type: ignore[valid-type]  # a pydantic type


class WorkspaceFileError(WorkspaceError):
    """The workspace file is not a workspace: broken JSON or a record of the wrong shape."""


def read_records(path: Path | None) -> Iterator[datetime | Stored]:
    """The workspace file's records one at a time, in file order, and its anchor where the file has it.

    For files too large to hold as a `Workspace`: only one record, and a few megabytes of the
    file, are in memory at once. Raises `WorkspaceFileError` naming the place of the first problem.
    """
    where = str(path) if path else "the demo workspace"
    with path.open("rb") if path else resources.files("connectors").joinpath("demo_workspace.json").open("rb") as f:
        reader = _JsonReader(f, where)
        for key, index, value in reader.members():
            model = CATEGORIES.get(key)
            try:
                if model is not None:
                    yield model.model_validate(value)
                elif key == "anchor":
                    anchor = _ANCHOR.validate_python(value)
                    if anchor is not None:
                        yield anchor
            except ValidationError as exc:
                place = f"{key}[{index}]" if model is not None else key
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
                raise WorkspaceFileError(f"{where}: {place} is not valid ({problems})") from None


class _JsonReader:
    """Walks a JSON object holding arrays without reading it whole: each array item is parsed on its own.

    The standard library's C decoder parses each value out of a window of the decoded file; a value
    that runs past the window's end makes it read on and try again.
    """

    _SPACE = re.compile(r"[ \t\n\r]*")
    _CHUNK = 1 << 22

    def __init__(self, stream: IO[bytes], where: str) -> None:
        self._stream = stream
        self._where = where
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self._json = json.JSONDecoder()
        self._text = ""
        self._at = 0
        self._read = 0  # characters dropped from the front of the window, for error positions
        self._done = False

    def members(self) -> Iterator[tuple[str, int, Any]]:
        """(key, -1, value) for each member of the top-level object; (key, i, item) for items of array members."""
        self._expect("{")
        if self._peek() == "}":
            self._at += 1
        else:
            while True:
                key = self._value()
                if not isinstance(key, str):
                    raise self._error("expected a member name")
                self._expect(":")
                if key in CATEGORIES:
                    yield from ((key, i, item) for i, item in enumerate(self._items(key)))
                else:
                    yield key, -1, self._value()
                if self._peek() != ",":
                    break
                self._at += 1
            self._expect("}")
        if self._peek():
            raise self._error("unexpected text after the workspace object")

    def _items(self, key: str) -> Iterator[Any]:
        if self._peek() != "[":
            raise self._error(f"expected a list of {key}")
        self._at += 1
        if self._peek() == "]":
            self._at += 1
            return
        while True:
            yield self._value()
            if self._peek() != ",":
                break
            self._at += 1
        self._expect("]")

    def _more(self) -> bool:
        if self._done:
            return False
        data = self._stream.read(self._CHUNK)
        self._done = not data
        self._read += self._at
        self._text = self._text[self._at :] + self._decode(data, final=self._done)
        self._at = 0
        return True

    def _peek(self) -> str:
        """The next character that is not white space ('' at the end of the file)."""
        while True:
            self._at = self._SPACE.match(self._text, self._at).end()  # type: ignore[union-attr]  # matches empty
            if self._at < len(self._text) or not self._more():
                return self._text[self._at : self._at + 1]

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._error(f"expected {char!r}")
        self._at += 1

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self._json.raw_decode(self._text, self._at)
            except json.JSONDecodeError as exc:
                if self._more():
                    continue  # the value may go on past the window
                raise self._error(exc.msg, self._read + exc.pos) from None
            if end == len(self._text) and self._more():
                continue  # a number at the window's edge may have more digits
            self._at = end
            return value

    def _error(self, message: str, position: int | None = None) -> WorkspaceFileError:
        at = self._read + self._at if position is None else position
        return WorkspaceFileError(f"{self._where} is not a workspace file: {message} at character {at}")
