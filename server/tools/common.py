"""What every tool module shares: the app state from the request, the case by id, CRM look-ups, events."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from connectors import CRM, BulkCRM
from connectors.errors import ConnectorError
from connectors.models import Account, Deal
from server import case, context
from server.caller import caller
from server.models import AffectedAccount, Escalation, EscalationRecord, EventKind, TimelineEvent
from server.state import AppState
from server.store import NotFound

log = logging.getLogger(__name__)

# At most this many CRM look-ups per call: enough for a real multi-customer incident, bounded for a segment.
MAX_ACCOUNTS = 200
_LOOKUPS_AT_ONCE = 5


def state_of(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def event(state: AppState, kind: EventKind, detail: str) -> TimelineEvent:
    return TimelineEvent(at=state.clock(), kind=kind, detail=detail)


def new_id() -> str:
    """A random 128-bit id: unguessable, so knowing one case's id tells nothing of another's."""
    return secrets.token_hex(16)


async def load_case(state: AppState, escalation_id: str) -> Escalation:
    """The stored case; a ToolError the model can act on when there is none."""
    return case_of(await load_record(state, escalation_id))


def case_of(record: EscalationRecord) -> Escalation:
    """The case itself, without the timeline and follow-ups the ledger returned with it."""
    return Escalation.model_validate(record.model_dump(exclude={"timeline", "followups"}))


async def load_record(state: AppState, escalation_id: str) -> EscalationRecord:
    """The stored case with its timeline and follow-ups, if the caller may see it.

    Someone else's escalation answers exactly as a missing one: its existence is not the caller's to know.
    """
    missing = ToolError(f"no escalation with id {escalation_id}; use the escalation_id gather_context returned")
    if not _looks_like_id(escalation_id):
        raise ToolError("escalation_id must be the 32-character id a previous tool returned")
    try:
        record = await state.ledger.get(escalation_id)
    except NotFound:
        raise missing from None
    if not visible(record):
        raise missing
    return record


def visible(escalation: Escalation) -> bool:
    """Whether the caller owns `escalation` or shares its team; everything is visible without authentication."""
    who = caller()
    if who is None:
        return True
    return escalation.owner == who.subject or (who.team is not None and escalation.team == who.team)


def ownership() -> tuple[str | None, str | None]:
    """The owner and team a new case records: the authenticated caller's, none without authentication."""
    who = caller()
    return (who.subject, who.team) if who else (None, None)


def _looks_like_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


async def find_account(state: AppState, name: str) -> Account | None:
    """The CRM account named `name`; None without a CRM; a ToolError naming near misses when unknown."""
    crm = state.connectors.crm
    if crm is None:
        return None
    try:
        return await context.find_account(crm, name)
    except ConnectorError as exc:
        raise ToolError(f"could not look up customer {name!r} in the CRM ({exc.detail}); retry later") from exc
    except context.UnknownCustomer as exc:
        raise ToolError(str(exc)) from exc


async def resolve_accounts(state: AppState, names: Sequence[str]) -> list[AffectedAccount]:
    """Each named customer through the CRM; one ToolError naming every unknown name, with suggestions."""
    crm = state.connectors.crm
    if crm is None:
        return [AffectedAccount(name=n) for n in dict.fromkeys(names)]
    found = await _named_at_once(crm, names)
    problems: list[str] = []
    limiter = anyio.CapacityLimiter(_LOOKUPS_AT_ONCE)

    async def one(name: str) -> None:
        async with limiter:
            try:
                found[name] = await context.find_account(crm, name)
            except context.UnknownCustomer as exc:
                problems.append(str(exc))
            except ConnectorError as exc:
                problems.append(f"could not look up {name!r} in the CRM ({exc.detail})")

    async with anyio.create_task_group() as group:
        for name in dict.fromkeys(names):
            if name not in found:  # one at a time: the near misses of an unknown name come from here too
                group.start_soon(one, name)
    if problems:
        raise ToolError(" ".join(sorted(problems)) + " Nothing was changed.")
    accounts = {found[n].id: found[n] for n in dict.fromkeys(names)}
    return [case.affected(a, high_value_arr=state.settings.high_value_arr) for a in accounts.values()]


async def _named_at_once(crm: CRM, names: Sequence[str]) -> dict[str, Account]:
    """Each of `names` a CRM that answers in bulk has as an account's exact name or domain (a name
    before a domain, as `context.find_account` prefers them); {} for any other CRM or a failed request."""
    if not isinstance(crm, BulkCRM) or not names:
        return {}
    try:
        accounts = await crm.accounts_named(list(dict.fromkeys(names)))
    except ConnectorError as exc:
        log.info("bulk account look-up failed, looking up one by one: %s", exc.kind)
        return {}
    by_key: dict[str, Account] = {}
    for account in accounts:
        by_key.setdefault(account.name.lower(), account)
    for account in accounts:
        if account.domain:
            by_key.setdefault(account.domain.lower(), account)
    return {n: by_key[n.lower()] for n in names if n.lower() in by_key}


async def segment_accounts(state: AppState, segment: str) -> list[AffectedAccount]:
    """Every account of a plan, or every account for "all", through the CRM (at most MAX_ACCOUNTS)."""
    crm = state.connectors.crm
    if crm is None:
        raise ToolError("a segment needs a CRM to resolve it; connect one or name the customers")
    accounts: list[Account] = []
    try:
        if segment == "all":
            accounts = await crm.search_accounts("", limit=MAX_ACCOUNTS)
        else:
            cursor: str | None = None
            while len(accounts) < MAX_ACCOUNTS:
                page = await crm.accounts_on_plan(segment, limit=min(100, MAX_ACCOUNTS - len(accounts)), cursor=cursor)
                accounts.extend(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
    except ConnectorError as exc:
        raise ToolError(f"could not list the {segment!r} accounts in the CRM ({exc.detail}); retry later") from exc
    if not accounts:
        raise ToolError(
            f"no CRM account is on plan {segment!r}; give a plan the CRM uses (e.g. enterprise) or name the customers"
        )
    return [case.affected(a, high_value_arr=state.settings.high_value_arr) for a in accounts]


async def pending_deals(state: AppState, accounts: Sequence[AffectedAccount]) -> float | None:
    """USD in the open deals of `accounts`, renewals left out (their ARR is already counted)."""
    crm = state.connectors.crm
    if crm is None or not accounts:
        return None
    total = 0.0
    failed = False
    limiter = anyio.CapacityLimiter(_LOOKUPS_AT_ONCE)
    distinct = list({a.name: a for a in accounts}.values())[:MAX_ACCOUNTS]
    known: dict[str, list[Deal]] = {}

    def add(deals: Sequence[Deal]) -> None:
        nonlocal total
        total += sum(d.amount or 0 for d in deals if not d.renewal)

    async def one(account: AffectedAccount) -> None:
        nonlocal failed
        async with limiter:
            try:
                account_id = account.id or (await context.find_account(crm, account.name)).id
                deals = await crm.open_deals(account_id)
            except (ConnectorError, context.UnknownCustomer) as exc:
                log.warning("open deals unavailable for one account: %s", type(exc).__name__)
                failed = True
                return
            add(deals)

    with anyio.move_on_after(state.settings.source_timeout):
        ids = [a.id for a in distinct if a.id]
        if isinstance(crm, BulkCRM) and ids:
            try:
                known = await crm.open_deals_of(ids)
            except ConnectorError as exc:
                log.info("bulk deals look-up failed, looking up one by one: %s", exc.kind)
        for deals in known.values():
            add(deals)
        async with anyio.create_task_group() as group:
            for account in distinct:
                if account.id not in known:
                    group.start_soon(one, account)
    return None if failed and not total else total
