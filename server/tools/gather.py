"""Step 2: gather_context asks every source at once and opens the case with what it found."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from connectors import Category
from connectors.errors import ConnectorError
from connectors.models import Ticket
from server import budget, case, context
from server.models import AffectedAccount, CaseFacts, Escalation
from server.patterns import RelatedReports
from server.state import AppState
from server.tools.common import (
    MAX_ACCOUNTS,
    event,
    load_case,
    new_id,
    ownership,
    pending_deals,
    resolve_accounts,
    segment_accounts,
    state_of,
)

MAX_LINKS = 12
CONVERSATIONS_FETCHED = 5  # tickets fetched whole for their comments when a search left them out
SHOWN_ACCOUNTS = 25


class GatherResult(context.ContextReport):
    escalation_id: str = Field(description="The case: pass it to every later step.")
    case: CaseFacts = Field(description="What later steps will use unless you pass otherwise.")
    accounts_total: int = Field(description="Accounts on the case; case.accounts lists the first ones.")


async def gather_context(
    issue: Annotated[str, Field(min_length=3, max_length=500, description="The problem, in a few words.")],
    ctx: Context[AppState, Any],
    customer: Annotated[str | None, Field(max_length=200, description="Account name or domain.")] = None,
    since_days: Annotated[int, Field(ge=1, le=365, strict=True, description="Look back this many days.")] = 30,
    limit: Annotated[int, Field(ge=1, le=50, strict=True, description="Records per source.")] = 5,
    cursors: Annotated[
        dict[Category, Annotated[str, Field(max_length=2000)]] | None,
        Field(description="next_cursor values from a truncated source."),
    ] = None,
    escalation_id: Annotated[str | None, Field(max_length=64, description="Refresh this case.")] = None,
) -> GatherResult:
    """Search support, CRM, chat, tracker and knowledge base at once, and open the case.

    Returns the escalation_id every later step takes, and the case facts they default to.
    """
    # The sanitizer's patterns compile on the first call, not at start-up: tools/list never needs them.
    from server.untrusted import new_nonce

    state = state_of(ctx)
    previous = await load_case(state, escalation_id) if escalation_id else None

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message)

    try:
        report = await context.gather(
            state.connectors,
            issue,
            customer=customer,
            since=context.window_start(state.clock(), since_days),
            limit=limit,
            deadline=state.settings.source_timeout,
            cursors=cursors,
            progress=progress,
            budget_chars=state.settings.answer_budget_tokens * budget.CHARS_PER_TOKEN,
            now=state.clock(),
            patterns=state.settings.patterns(),
            lockdown=state.settings.lockdown,
            redact=state.settings.redact_context,
        )
    except (context.UnknownCustomer, budget.CursorError) as exc:
        raise ToolError(str(exc)) from exc
    facts = await _facts(state, issue, report)
    now = state.clock()
    detail = (
        f"{len(facts.accounts)} account(s), {facts.customers_reporting} reporting, "
        f"{len(facts.tickets)} matching ticket(s); sources: "
        + ", ".join(f"{s.category} {s.status}" for s in report.sources)
    )
    if previous is None:
        owner, team = ownership()
        opened = Escalation(
            id=new_id(),
            created_at=now,
            updated_at=now,
            summary=issue[:200],
            customer=facts.customer,
            facts=facts,
            owner=owner,
            team=team,
        )
        await state.ledger.create(opened, event(state, "context_gathered", detail))
        case_id = opened.id
    else:
        await state.ledger.update(
            previous.model_copy(
                update={"facts": facts, "customer": facts.customer or previous.customer, "updated_at": now}
            ),
            event(state, "context_gathered", "refreshed: " + detail),
        )
        case_id = previous.id
    nonce = new_nonce()
    # A whole segment can be hundreds of accounts: the case keeps them all, the answer shows the first.
    shown = facts.model_copy(update={"accounts": facts.accounts[:SHOWN_ACCOUNTS]})

    def answer(records: context.ContextReport) -> GatherResult:
        return GatherResult(
            **dict(context.enveloped(records, nonce)),
            escalation_id=case_id,
            case=shown,
            accounts_total=len(facts.accounts),
        )

    result = answer(report)
    budget_chars = state.settings.answer_budget_tokens * budget.CHARS_PER_TOKEN
    for _ in range(4):  # the case and the envelope come on top of the records: make room for them
        over = context.shown_size(result) - budget_chars
        if over <= 0:
            break
        room = max(context.shown_size(report) - over - 256, 0)
        report = context.fit(report, room, query=issue, customer=customer, cursors=cursors)
        result = answer(report)
    return result


async def _facts(state: AppState, issue: str, report: context.ContextReport) -> CaseFacts:
    """The case as the records tell it: who is affected, since when, what was said and tried."""

    findings = report.findings
    related = report.related
    matching = [t for t in report.tickets if t.id in findings.matching_tickets]
    named = report.account.name if report.account else None
    if related is not None and named:
        # The named customer's own reports carry the evidence and the last word: fetch those not on this page.
        have = {t.id for t in matching}
        wanted = [r.id for r in related.reports if r.source == "support" and r.customer == named and r.id not in have][
            :3
        ]
        fetched = await _whole_tickets(state, wanted)
        matching += [fetched[i] for i in wanted if i in fetched]
    own = [t for t in matching if named and (t.customer or "").lower() == named.lower()]
    primary = await _with_conversations(state, own or matching)
    segment = case.segment_in(issue)
    accounts: list[AffectedAccount] = []
    if segment is not None and state.connectors.crm is not None:
        try:
            accounts = await segment_accounts(state, segment)
        except ToolError:
            segment = None  # not a plan the CRM knows: fall back to who reported it
    names = [n for n in [named, *findings.distinct_customers] if n]
    if state.connectors.crm is not None and names:
        known = {a.name.lower() for a in accounts}
        try:
            accounts += [a for a in await resolve_accounts(state, names) if a.name.lower() not in known]
        except ToolError:
            # A ticket's customer the CRM does not know still counts as affected, without CRM facts.
            accounts += [AffectedAccount(name=n) for n in names if n.lower() not in known]
    elif names:
        accounts = [AffectedAccount(name=n) for n in dict.fromkeys(names)]
    accounts = accounts[:MAX_ACCOUNTS]
    deals = await pending_deals(state, accounts)
    texts = [text for t in primary for text in (t.body, *(c.body for c in t.comments))]
    evidence = [block for text in texts for block in case.evidence_in(text)]
    # With no customer named, a problem only one account reports is that account's.
    sole = accounts[0].name if named is None and len(accounts) == 1 and segment is None else None
    return CaseFacts(
        issue=issue,
        customer=named or sole,
        accounts=accounts,
        segment=segment,
        pending_deals=deals,
        started_at=(related.timeline.first_seen if related else None) or case.earliest(matching),
        customers_reporting=len(findings.distinct_customers),
        trend=_trend(related),
        severity_rising=bool(related and related.severity_rising),
        description=case.summary_of(primary[0].body) if primary else None,
        tried=case.tried_on(primary),
        evidence=list(dict.fromkeys(evidence))[:6],
        last_customer_update=case.last_customer_update(primary),
        links=_links(report, matching),
        tickets=[t.id for t in matching],
        regressions=findings.regressions,
        open_issues=findings.open_issues,
        workarounds=findings.workarounds,
    )


async def _with_conversations(state: AppState, tickets: list[Ticket]) -> list[Ticket]:
    """`tickets`, the first few fetched whole where a search returned them without their comments.

    Vendor search APIs return tickets without their conversation, and the conversation holds what the
    team tried and what it last told the customer.
    """
    fetched = await _whole_tickets(state, [t.id for t in tickets if not t.comments][:CONVERSATIONS_FETCHED])
    return [fetched.get(t.id, t) for t in tickets]


async def _whole_tickets(state: AppState, ticket_ids: list[str]) -> dict[str, Ticket]:
    """The tickets of `ticket_ids` with their comments, fetched at once within the source deadline;
    one that fails or is late is left out."""
    from server.untrusted import clean_record  # on first use: see gather_context

    support = state.connectors.support
    fetched: dict[str, Ticket] = {}
    if support is None or not ticket_ids:
        return fetched

    async def one(ticket_id: str) -> None:
        with contextlib.suppress(ConnectorError):
            fetched[ticket_id] = clean_record(await support.get_ticket(ticket_id))

    with anyio.move_on_after(state.settings.source_timeout):
        async with anyio.create_task_group() as group:
            for ticket_id in ticket_ids:
                group.start_soon(one, ticket_id)
    return fetched


def _trend(related: RelatedReports | None) -> Literal["growing", "stable"] | None:
    if related is None or not related.report_count:
        return None
    return "growing" if related.timeline.growing else "stable"


def _links(report: context.ContextReport, matching: list[Ticket]) -> list[str]:
    wanted = set(report.findings.regressions) | set(report.findings.open_issues)
    links = [f"#{t.id} ({t.customer}): {t.url}" for t in matching if t.url]
    links += [f"{i.id} ({i.status}): {i.url}" for i in report.issues if i.id in wanted and i.url]
    links += [f"{i.id} ({i.status})" for i in report.issues if i.id in wanted and not i.url]
    links += [f"{a.title}: {a.url}" for a in report.articles if a.id in report.findings.workarounds and a.url]
    return links[:MAX_LINKS]
