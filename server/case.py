"""What the gathered records say about a case, as the facts later steps default to.

Pure functions over normalized records: which text is the customer's own error output (kept whole,
as evidence), which comment is the team's last word to the customer, what the team already tried,
and how a phrase such as "all Enterprise customers" names a segment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from connectors.models import Account, Comment, Ticket
from server.models import AffectedAccount

# Abbreviations after which a full stop does not end a sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "approx.", "vs.", "no.", "cf.", "fig.", "mr.", "ms.", "dr.", "inc.", "ltd.")
_GREETING = re.compile(r"^(hi|hello|dear|hey)\b[^.!?\n]{0,40}[,!]?$", re.IGNORECASE)
_LEADING_GREETING = re.compile(r"^(hi|hello|dear|hey)( team| all| there)?,\s+", re.IGNORECASE)
_SIGN_OFF = re.compile(r"^(thanks|thank you|regards|best|cheers)\b", re.IGNORECASE)
_CODE_LINE = re.compile(
    r"^\s*([{\[]|at [\w$.]+\(|Traceback|File \"|[\w.]+(Error|Exception)\b|\d{4}-\d\d-\d\dT|[A-Z]+ /|`)"
)
_SEGMENT = re.compile(
    r"\ball (?:of )?(?:our |the )?(?:(?P<plan>[\w-]+) )?(?:customers|accounts|tenants|clients)"
    r"(?: on (?:the )?(?:plan )?(?P<plan2>[\w-]+)(?: plan)?)?",
    re.IGNORECASE,
)


def segment_in(text: str) -> str | None:
    """The segment a phrase names: a plan ("all Enterprise customers" -> "enterprise") or "all"."""
    match = _SEGMENT.search(text)
    if match is None:
        return None
    plan = match.group("plan2") or match.group("plan")
    if plan is None or plan.lower() in ("our", "the", "affected", "other", "these", "those", "paying"):
        return "all"
    return plan.lower()


def _blocks(text: str) -> list[tuple[bool, str]]:
    """`text` as (is_code, block) pairs: fenced or indented blocks and lone error lines are code."""
    blocks: list[tuple[bool, str]] = []
    fenced: list[str] | None = None
    for line in text.splitlines():
        if line.strip().startswith("```"):
            if fenced is None:
                fenced = []
            else:
                blocks.append((True, "\n".join(fenced)))
                fenced = None
            continue
        if fenced is not None:
            fenced.append(line)
            continue
        code = (line.startswith(("  ", "\t")) and bool(line.strip())) or bool(_CODE_LINE.match(line))
        if blocks and blocks[-1][0] == code and line.strip():
            blocks[-1] = (code, blocks[-1][1] + "\n" + (line.rstrip() if code else line.strip()))
        elif line.strip():
            blocks.append((code, line.rstrip() if code else line.strip()))
        else:
            blocks.append((False, ""))
    if fenced:
        blocks.append((True, "\n".join(fenced)))
    return [(code, _dedent(block) if code else block) for code, block in blocks if block]


def _dedent(block: str) -> str:
    lines = block.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)


def evidence_in(text: str) -> list[str]:
    """The exact error output in `text`: JSON bodies, stack traces, log lines, quoted log excerpts, each whole."""
    blocks = [block for code, block in _blocks(text) if code]
    quoted = [span for span in re.findall(r"`([^`\n]{12,})`", text) if not any(span in b for b in blocks)]
    return blocks + quoted


def sentences(text: str) -> list[str]:
    """The prose sentences of `text`, without greeting, sign-off, signature or code blocks.

    A sentence never ends inside parentheses or after an abbreviation such as "e.g.".
    """
    prose: list[str] = []
    for code, block in _blocks(text):
        if code:
            if prose and prose[-1].endswith(":"):
                # Keep the sentence whole: a short error inline, a long one elided (it is quoted in full as evidence).
                short = block if len(block) <= 160 and "\n" not in block else "…"
                prose[-1] = f"{prose[-1]} `{short}`." if short != "…" else f"{prose[-1]} (…)."
            continue
        if _GREETING.match(block) or _SIGN_OFF.match(block):
            continue
        prose.append(_LEADING_GREETING.sub("", block))
    found: list[str] = []
    for paragraph in prose:
        found.extend(_split(paragraph))
    return [s[0].upper() + s[1:] for s in _without_signature(found)]


def _split(paragraph: str) -> list[str]:
    out: list[str] = []
    start, depth, quoted = 0, 0, False
    for index, char in enumerate(paragraph):
        if char == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth = max(depth - 1, 0)
        elif char in ".!?" and depth == 0:
            after = paragraph[index + 1 : index + 2]
            if after and not after.isspace():
                continue
            candidate = paragraph[start : index + 1].strip()
            if candidate.lower().endswith(_ABBREVIATIONS) or re.search(r"\b\w\.$", candidate):
                continue
            out.append(candidate)
            start = index + 1
    rest = paragraph[start:].strip()
    if rest:
        out.append(rest)
    return [s for s in out if s]


def _without_signature(found: list[str]) -> list[str]:
    # A trailing line of a name and a title ("Dana Whitfield Platform Engineering Lead, Acme Corp").
    while found and not found[-1].endswith((".", "!", "?", ":")) and len(found[-1].split()) <= 10:
        found.pop()
    return found


def summary_of(text: str, *, most: int = 4) -> str | None:
    """The first `most` sentences of `text`, whole."""
    chosen = sentences(text)[:most]
    return " ".join(chosen) or None


def team_updates(ticket: Ticket) -> list[Comment]:
    """The team's public replies on `ticket`: what the customer was told, oldest first."""
    return [c for c in ticket.comments if c.public and c.author != ticket.requester]


def last_customer_update(tickets: Iterable[Ticket]) -> str | None:
    """The last thing the team told the customer across `tickets`, with its date; None if nothing was."""
    latest = max(((c, t) for t in tickets for c in team_updates(t)), key=lambda pair: pair[0].created_at, default=None)
    if latest is None:
        return None
    comment, ticket = latest
    text = summary_of(comment.body, most=3) or comment.body.strip()
    return f"{comment.created_at:%Y-%m-%d %H:%M} UTC, #{ticket.id}, {comment.author}: {text}"


def tried_on(tickets: Iterable[Ticket], *, most: int = 6) -> list[str]:
    """What the team did on `tickets`, from its internal notes, one action a line."""
    steps: list[str] = []
    for ticket in tickets:
        for note in (c for c in ticket.comments if not c.public and c.author != ticket.requester):
            steps.extend(s for s in sentences(note.body) if not s.endswith("?"))
    return steps[:most]


def earliest(tickets: Sequence[Ticket]) -> datetime | None:
    return min((t.created_at for t in tickets), default=None)


def affected(account: Account, *, high_value_arr: float) -> AffectedAccount:
    """The CRM account as the case records it, with whether it counts as high-value."""
    return AffectedAccount(
        name=account.name,
        id=account.id,
        arr=account.arr,
        plan=account.plan,
        renewal_date=account.renewal_date,
        reference_customer=account.reference_customer,
        high_value=account.reference_customer or (account.arr or 0) >= high_value_arr,
        timezone=account.timezone,
        country=account.country,
        owner=account.owner,
    )
