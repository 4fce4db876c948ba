"""Step 7's writes: post the brief to chat, note the ticket, file the tracker issue.

Every write is two calls. Without `confirm` nothing is stored and nothing is sent: the answer is the
exact payloads (already redacted), where they go, and a preview hash. With `confirm` equal to that
hash the writes go through the outbox (committed with their idempotency key before the vendor call,
the receipt after), so a replayed confirmation returns the first receipts and posts nothing new.
Destinations come only from configuration (ESCALATION_CHANNELS, ESCALATION_TRACKER_PROJECTS) and the
case's own tickets: no parameter names a channel or a project, and text the model wrote is only ever
content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal, cast

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel, Field

from connectors.errors import ConnectorError
from connectors.models import WriteReceipt
from server import formats
from server.followthrough import LoopItem, loop_event
from server.models import Escalation, OutboxEntry, OutboxKind, Target, TimelineEvent
from server.state import AppState
from server.store.outbox import Send, deliver, enqueue, write
from server.tools.common import load_case, state_of

Tool = Literal["post_brief", "add_internal_note", "file_tracker_issue"]
HASH_CHARS = 16  # 64 bits of sha256: enough that a guessed or mistyped hash never matches
TICKETS_LOOKED_AT = 20  # the case's tickets read to find the customer's own, at most
STALE = "the brief changed since the preview; call again without confirm to preview"
ISSUE_KIND: dict[Target, str] = {"engineering": "bug", "product": "feature request", "security": "bug"}
TRACKER_KIND: dict[Target, Literal["bug", "feature"]] = {"engineering": "bug", "product": "feature", "security": "bug"}
# Payload fields holding a vendor document (Block Kit blocks, an ADF document): the outbox stores text
# and lists of text, so these travel through it as JSON text and are read back whole.
STRUCTURED = frozenset({"blocks", "description_adf"})

EscalationId = Annotated[str, Field(max_length=64, description="The escalation_id an earlier step returned.")]
Confirm = Annotated[
    str | None,
    Field(
        max_length=64,
        description="Leave out to preview (nothing is sent); then pass the preview_hash to send exactly that.",
    ),
]


class PlannedWrite(BaseModel):
    kind: OutboxKind
    destination: str = Field(description="From the server's configuration or the case, never from the caller.")
    payload: dict[str, Any] = Field(
        description="Exactly what is sent, already redacted, in the product's own format (blocks, html, ADF)."
    )


class Approval(BaseModel):
    send: bool = Field(description="Yes sends exactly the writes described; no sends nothing.")


class WriteResult(BaseModel):
    escalation_id: str
    sent: bool = Field(description="False for a preview: nothing was stored or sent.")
    preview_hash: str = Field(description="Pass as confirm to send these writes.")
    writes: list[PlannedWrite]
    redacted: dict[str, int] = Field(description="Private data replaced by markers, per kind.")
    receipts: list[WriteReceipt] = Field(default_factory=list[WriteReceipt])
    duplicate: bool = Field(default=False, description="This confirmation was already sent; nothing new was posted.")
    notes: list[str] = Field(default_factory=list[str])


class _Plan(BaseModel):
    writes: list[PlannedWrite]
    redacted: dict[str, int]
    notes: list[str] = Field(default_factory=list[str])

    def digest(self) -> str:
        """sha256 over every destination and payload, in order: what the confirmation vouches for."""
        canonical = json.dumps(
            [[w.kind, w.destination, w.payload] for w in self.writes], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_CHARS]


class _Redactor:
    """Redacts every text of one plan with the same allow list and adds up what it replaced."""

    def __init__(self, allow: Sequence[str]) -> None:
        self.allow = [a for a in allow if a.strip()]
        self.counts: dict[str, int] = {}

    def __call__(self, text: str) -> str:
        from server.redact import redact  # phonenumbers and stdnum load on the first write, not at start-up

        done = redact(text, allow=self.allow)
        for kind, count in done.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        return done.text


# -- the tools ---------------------------------------------------------------------------------------


async def _ask_post(
    escalation_id: str, confirm: str | None, excerpt: str | None, ctx: Context[AppState, Any]
) -> Elicit[Approval] | None:
    if not _can_ask(ctx, confirm):
        return None
    state = state_of(ctx)
    plan = await _chat_plan(state, await load_case(state, escalation_id), excerpt)
    return Elicit(_question(plan), Approval)


async def post_brief(
    escalation_id: EscalationId,
    ctx: Context[AppState, Any],
    approval: Annotated[ElicitationResult[Any], Resolve(_ask_post)],
    confirm: Confirm = None,
    excerpt: Annotated[
        str | None, Field(max_length=4000, description="Post this Markdown instead of the whole stored brief.")
    ] = None,
) -> WriteResult:
    """Post the escalation's brief (or an excerpt) to the chat channel configured for each of its targets.

    A security escalation goes only to the security channel. Two calls: preview, then confirm with the hash
    (a client that can ask the person asks them instead, in one call).
    """
    state = state_of(ctx)
    escalation = await load_case(state, escalation_id)
    plan = await _chat_plan(state, escalation, excerpt)
    return await _run(state, escalation, "post_brief", plan, confirm, approval)


async def _ask_note(
    escalation_id: str,
    kind: Literal["brief", "status", "resolution"],
    text: str | None,
    confirm: str | None,
    ctx: Context[AppState, Any],
) -> Elicit[Approval] | None:
    if not _can_ask(ctx, confirm):
        return None
    state = state_of(ctx)
    plan = await _note_plan(state, await load_case(state, escalation_id), kind, text)
    return Elicit(_question(plan), Approval)


async def add_internal_note(
    escalation_id: EscalationId,
    kind: Annotated[
        Literal["brief", "status", "resolution"],
        Field(description="brief: the stored brief; status: where it stands; resolution: how it ended."),
    ],
    ctx: Context[AppState, Any],
    approval: Annotated[ElicitationResult[Any], Resolve(_ask_note)],
    text: Annotated[
        str | None, Field(max_length=4000, description="The note's Markdown; needed for a resolution.")
    ] = None,
    confirm: Confirm = None,
) -> WriteResult:
    """Add an internal (never public) note to the customer's ticket on this escalation.

    Two calls: preview, then confirm with the hash (a client that can ask the person asks them instead).
    """
    state = state_of(ctx)
    escalation = await load_case(state, escalation_id)
    plan = await _note_plan(state, escalation, kind, text)
    return await _run(state, escalation, "add_internal_note", plan, confirm, approval)


async def _ask_issue(escalation_id: str, confirm: str | None, ctx: Context[AppState, Any]) -> Elicit[Approval] | None:
    if not _can_ask(ctx, confirm):
        return None
    state = state_of(ctx)
    plan = await _tracker_plan(state, await load_case(state, escalation_id))
    return Elicit(_question(plan), Approval)


async def file_tracker_issue(
    escalation_id: EscalationId,
    ctx: Context[AppState, Any],
    approval: Annotated[ElicitationResult[Any], Resolve(_ask_issue)],
    confirm: Confirm = None,
) -> WriteResult:
    """File the escalation in the tracker: a bug for engineering, a feature request for product.

    Title, description, repro steps, expected/actual and environment come from the stored brief.
    Two calls: preview, then confirm with the hash (a client that can ask the person asks them instead).
    """
    state = state_of(ctx)
    escalation = await load_case(state, escalation_id)
    plan = await _tracker_plan(state, escalation)
    return await _run(state, escalation, "file_tracker_issue", plan, confirm, approval)


# -- asking the person -------------------------------------------------------------------------------

QUESTION_TEXT = 1200  # characters of each write's text shown in the question; the preview hash pins the rest


def _can_ask(ctx: Context[AppState, Any], confirm: str | None) -> bool:
    """Ask the person only when no hash was passed and the client can show a form (else the hash path)."""
    if confirm is not None:
        return False
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _question(plan: _Plan) -> str:
    """What the person approves: every destination and the start of what goes there, and the preview hash."""
    parts = [f"Send these {len(plan.writes)} write(s)? Nothing is sent unless you say yes. (preview {plan.digest()})"]
    for w in plan.writes:
        shown = next((str(w.payload[k]) for k in ("text", "body") if k in w.payload), "")
        title = f"{w.payload['title']}\n" if "title" in w.payload else ""
        cut = "…" if len(shown) > QUESTION_TEXT else ""
        parts.append(f"{w.kind.replace('_', ' ')} to {w.destination}:\n{title}{shown[:QUESTION_TEXT]}{cut}")
    return "\n\n".join(parts)


def _answer(approval: ElicitationResult[Any] | None) -> bool | None:
    """True or False when the person was asked and said yes or no (declining or cancelling is no); None if not asked."""
    if approval is None:
        return None
    if isinstance(approval, AcceptedElicitation):
        data = approval.data
        return data.send if isinstance(data, Approval) else None
    return False


# -- the two steps -----------------------------------------------------------------------------------


async def _run(
    state: AppState,
    escalation: Escalation,
    tool: Tool,
    plan: _Plan,
    confirm: str | None,
    approval: ElicitationResult[Any] | None = None,
) -> WriteResult:
    digest = plan.digest()
    result = WriteResult(
        escalation_id=escalation.id,
        sent=False,
        preview_hash=digest,
        writes=plan.writes,
        redacted=plan.redacted,
        notes=[*plan.notes, f"Nothing was sent. To send exactly this, call {tool} again with confirm={digest!r}."],
    )
    if confirm is None:
        answer = _answer(approval)
        if answer is None:
            return result
        if not answer:
            return result.model_copy(update={"notes": ["The person said no when asked; nothing was sent."]})
        # The person approved the question this call rendered from the same plan, hash included.
        confirm = digest
    confirm = confirm.strip().lower()
    batch = _batch(escalation.id, tool, confirm)
    earlier = await state.ledger.batch(batch)
    if earlier and all(e.receipt is not None for e in earlier):
        # The same confirmation again: the first receipts, and nothing new upstream or on the timeline.
        receipts = [e.receipt.model_copy(update={"duplicate": True}) for e in earlier if e.receipt is not None]
        return result.model_copy(
            update={
                "sent": True,
                "preview_hash": confirm,
                "writes": [_planned(e) for e in earlier],
                "receipts": receipts,
                "duplicate": True,
                "notes": ["Already sent with this confirmation; nothing new was posted."],
            }
        )
    if not earlier and confirm != digest:
        raise ToolError(STALE)
    entries = earlier or [
        write(
            f"{batch}@{w.destination}",
            w.kind,
            w.destination,
            _stored(w.payload),
            at=state.clock(),
            escalation_id=escalation.id,
            batch=batch,
            sending=True,
        )
        for w in plan.writes
    ]
    stored = await enqueue(state.ledger, entries)
    fresh = stored == entries and not earlier
    receipts: list[WriteReceipt] = []
    for entry in stored:
        try:
            receipt = await deliver(state.ledger, entry, _sender(state), clock=state.clock, fresh=fresh)
        except ConnectorError as exc:
            done = f" ({len(receipts)} of {len(stored)} already sent)" if receipts else ""
            raise ToolError(
                f"{entry.destination}: the write failed ({exc.detail}){done}; call again with the same confirm "
                "to finish: what was sent is not sent twice"
            ) from exc
        receipts.append(receipt)
        if entry.receipt is None:  # one finished by an earlier call already has its timeline event
            await state.ledger.append(escalation.id, _sent_event(state, entry, receipt))
    return result.model_copy(
        update={
            "sent": True,
            "preview_hash": confirm,
            "writes": [_planned(e) for e in stored],
            "receipts": receipts,
            "duplicate": bool(receipts) and all(r.duplicate for r in receipts),
            "notes": [],
        }
    )


def _batch(escalation_id: str, tool: Tool, digest: str) -> str:
    """The outbox batch of one confirmed call; each write's idempotency key is this plus its destination."""
    return f"{escalation_id}:{tool}:{digest}"


def _stored(payload: dict[str, Any]) -> dict[str, str | list[str]]:
    """A planned payload as the outbox keeps it: vendor documents as JSON text."""
    return {k: json.dumps(v, ensure_ascii=False) if k in STRUCTURED else v for k, v in payload.items()}


def _loaded(payload: dict[str, str | list[str]]) -> dict[str, Any]:
    """An outbox payload as it was planned (and previewed, and hashed)."""
    return {k: json.loads(v) if k in STRUCTURED and isinstance(v, str) else v for k, v in payload.items()}


def _planned(entry: OutboxEntry) -> PlannedWrite:
    return PlannedWrite(kind=entry.kind, destination=entry.destination, payload=_loaded(entry.payload))


def _sender(state: AppState) -> Send:
    async def send(entry: OutboxEntry) -> WriteReceipt:
        wired = state.connectors
        payload = _loaded(entry.payload)
        match entry.kind:
            case "chat_message":
                if wired.chat is None:
                    raise ToolError("no chat is connected now; set ESCALATION_CHAT")
                # Only what the plan carries is passed on, so a chat that renders nothing richer sees the
                # same call it always did.
                rich: dict[str, Any] = {k: payload[k] for k in ("blocks", "html") if k in payload}
                return await wired.chat.post_message(
                    entry.destination, str(payload["text"]), idempotency_key=entry.key, **rich
                )
            case "internal_note":
                if wired.support is None:
                    raise ToolError("no support platform is connected now; set ESCALATION_SUPPORT")
                return await wired.support.add_internal_note(
                    entry.destination, str(payload["body"]), idempotency_key=entry.key
                )
            case "tracker_issue":
                if wired.tracker is None:
                    raise ToolError("no tracker is connected now; set ESCALATION_TRACKER")
                labels = payload.get("labels", [])
                return await wired.tracker.create_issue(
                    str(payload["title"]),
                    str(payload["body"]),
                    labels=[str(x) for x in cast(list[object], labels)] if isinstance(labels, list) else [str(labels)],
                    idempotency_key=entry.key,
                    project=entry.destination,
                    **{k: payload[k] for k in ("description_adf", "kind") if k in payload},
                )

    return send


def _sent_event(state: AppState, entry: OutboxEntry, receipt: WriteReceipt) -> TimelineEvent:
    where = receipt.url or receipt.id
    loop: LoopItem | None = None
    match entry.kind:
        case "chat_message":
            detail, loop = f"chat: brief posted to {entry.destination}: {where}", "notify_team"
        case "internal_note":
            detail, loop = f"ticket: internal note added to {entry.destination}: {where}", "update_ticket"
        case "tracker_issue":
            detail = f"tracker: issue filed in {entry.destination}: {where}"
    if loop is None:
        return TimelineEvent(at=state.clock(), kind="write_sent", detail=detail)
    # write_sent (the audit trail's kind) with loop_event's wording, which ticks the close-the-loop item.
    return loop_event(loop, detail, at=state.clock()).model_copy(update={"kind": "write_sent"})


# -- what each tool would send -------------------------------------------------------------------------


async def _redactor(state: AppState, escalation: Escalation) -> _Redactor:
    """Redaction that keeps the customer's own name and domain (they are the point of the brief)."""
    name = escalation.customer or (escalation.facts.customer if escalation.facts else None)
    allow = [name] if name else []
    crm = state.connectors.crm
    if name and crm is not None:
        with contextlib.suppress(ConnectorError):
            for account in await crm.search_accounts(name, limit=5):
                if account.name.lower() == name.lower() and account.domain:
                    allow.append(account.domain)
                    break
    return _Redactor(allow)


def _stored_brief(escalation: Escalation) -> str:
    if not escalation.brief_markdown:
        raise ToolError("this escalation has no brief yet; call draft_brief first")
    return escalation.brief_markdown


def _targets(escalation: Escalation) -> list[Target]:
    # A security escalation is for the security team alone: no other channel or project sees it.
    return ["security"] if "security" in escalation.targets else list(escalation.targets)


async def _chat_plan(state: AppState, escalation: Escalation, excerpt: str | None) -> _Plan:
    chat = state.connectors.chat
    if chat is None:
        raise ToolError("no chat is connected; set ESCALATION_CHAT to post the brief")
    markdown = excerpt if excerpt is not None and excerpt.strip() else _stored_brief(escalation)
    targets = _targets(escalation)
    if not targets:
        raise ToolError("this escalation has no target yet; call pick_tier first")
    channels = state.settings.channels
    unset = [t for t in targets if t not in channels]
    if unset:
        raise ToolError(
            f"no chat channel is configured for {', '.join(unset)}; set ESCALATION_CHANNELS, e.g. "
            f'{{"{unset[0]}": "#{unset[0].replace("_", "-")}-escalations"}}. Nothing was sent.'
        )
    clean = await _redactor(state, escalation)
    text = clean(markdown)  # redacted before rendering, so no rendering can carry what redaction removed
    payload: dict[str, Any] = {"text": text}
    if chat.name == "slack":
        # mrkdwn text (escaped, so no <!channel> pings) is the notification; the blocks are what people see.
        message = formats.slack_message(text)
        payload = {"text": message["text"], "blocks": message["blocks"]}
    elif chat.name == "teams":
        payload["html"] = formats.teams_message(text)["body"]["content"]
    destinations = list(dict.fromkeys(channels[t] for t in targets))
    writes = [PlannedWrite(kind="chat_message", destination=d, payload=payload) for d in destinations]
    return _Plan(writes=writes, redacted=clean.counts)


async def _note_plan(
    state: AppState, escalation: Escalation, kind: Literal["brief", "status", "resolution"], text: str | None
) -> _Plan:
    support = state.connectors.support
    if support is None:
        raise ToolError("no support platform is connected; set ESCALATION_SUPPORT to note the ticket")
    if text is not None and text.strip():
        body = text
    elif kind == "brief":
        body = _stored_brief(escalation)
    elif kind == "status":
        severity = escalation.severity or "not assessed"
        targets = ", ".join(escalation.targets) or "none yet"
        body = f"Escalation status: {escalation.status}; severity: {severity}; escalated to: {targets}."
    else:
        raise ToolError("a resolution note needs text: say how it was resolved")
    ticket_id = await _customer_ticket(state, escalation)
    clean = await _redactor(state, escalation)
    labelled = f"Escalation {kind} (internal)\n\n{body.strip()}\n\nescalation://escalations/{escalation.id}"
    note = PlannedWrite(kind="internal_note", destination=ticket_id, payload={"body": clean(labelled)})
    return _Plan(writes=[note], redacted=clean.counts)


async def _customer_ticket(state: AppState, escalation: Escalation) -> str:
    """The named customer's first ticket among the case's tickets; a ToolError saying so when there is none."""
    support = state.connectors.support
    facts = escalation.facts
    customer = escalation.customer or (facts.customer if facts else None)
    if support is None or facts is None or not facts.tickets:
        raise ToolError("the case has no ticket to note; run gather_context with the customer first")
    if customer is None:
        raise ToolError("the case names no customer, so no ticket is theirs; run gather_context with the customer")
    for ticket_id in facts.tickets[:TICKETS_LOOKED_AT]:
        try:
            ticket = await support.get_ticket(ticket_id)
        except ConnectorError:
            continue
        if (ticket.customer or "").lower() == customer.lower():
            return ticket.id
    raise ToolError(f"none of the case's tickets is from {customer}; there is no ticket to note")


async def _tracker_plan(state: AppState, escalation: Escalation) -> _Plan:
    tracker = state.connectors.tracker
    if tracker is None:
        raise ToolError("no tracker is connected; set ESCALATION_TRACKER to file the issue")
    markdown = _stored_brief(escalation)
    targets: list[Target] = [t for t in _targets(escalation) if ISSUE_KIND.get(t)]
    if not targets:
        raise ToolError(
            "only an engineering (bug) or product (feature request) escalation is filed in the tracker; "
            f"this one is for {', '.join(escalation.targets) or 'no target yet'}"
        )
    projects = state.settings.tracker_projects
    unset = [t for t in targets if t not in projects]
    if unset:
        raise ToolError(
            f"no tracker project is configured for {', '.join(unset)}; set ESCALATION_TRACKER_PROJECTS, e.g. "
            f'{{"{unset[0]}": "ENG"}}. Nothing was filed.'
        )
    clean = await _redactor(state, escalation)
    title = escalation.summary or formats.title(markdown) or "Escalation"
    body = clean(_issue_body(escalation, markdown))
    if tracker.name == "linear":
        body = formats.linear_description(body)
    writes: list[PlannedWrite] = []
    for target in targets:
        kind = ISSUE_KIND[target]
        payload: dict[str, Any] = {
            "title": clean(f"[{kind.capitalize()}] {title}")[:255],
            "body": body,
            "labels": ["escalation", kind.replace(" ", "-")],
            "kind": TRACKER_KIND[target],
        }
        if tracker.name == "jira":
            payload["description_adf"] = formats.jira_description(body)
        writes.append(PlannedWrite(kind="tracker_issue", destination=projects[target], payload=payload))
    return _Plan(writes=writes, redacted=clean.counts)


def _issue_body(escalation: Escalation, markdown: str) -> str:
    """The issue's Markdown: what engineering acts on first, from the brief's inputs, then the link back."""
    inputs = escalation.brief or {}

    def text(name: str) -> str | None:
        value = inputs.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    parts: list[str] = []
    if description := text("description"):
        parts.append(f"## Description\n\n{description}")
    steps = inputs.get("repro_steps")
    if isinstance(steps, list) and steps:
        numbered = "\n".join(f"{n}. {step}" for n, step in enumerate(cast(list[object], steps), 1))
        parts.append(f"## Steps to reproduce\n\n{numbered}")
    for name, heading in (("expected", "Expected"), ("actual", "Actual"), ("environment", "Environment")):
        if value := text(name):
            parts.append(f"## {heading}\n\n{value}")
    if not parts:  # no structured inputs stored: the brief itself says it all
        parts.append(markdown.strip())
    parts.append(f"## Escalation\n\nescalation://escalations/{escalation.id}")
    return "\n\n".join(parts) + "\n"
