"""The MCP surface: tools, resources and the prompt, registered on one MCPServer.

Handlers validate, call the domain and shape the result; the rules live in the domain
modules. Dependencies are opened in the lifespan (or handed in by tests).
"""

from __future__ import annotations

import inspect
import json
import logging
import secrets
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import Completion, PromptReference, ResourceTemplateReference, ToolAnnotations
from pydantic import AwareDatetime, BaseModel, Field

from connectors import CATEGORIES, Category, Connectors
from connectors.errors import ConnectorError
from connectors.models import Account
from server import cadence, context, impact, routing
from server.brief import BriefInput, BriefRenderer, missing_fields
from server.models import (
    Escalation,
    EscalationStatus,
    Followup,
    ImpactAssessment,
    ImpactInput,
    Language,
    RoutingDecision,
    Severity,
    Target,
    Tier,
    TimelineEvent,
)
from server.schema import compact
from server.settings import Settings
from server.store import Ledger, NotFound
from server.wiring import open_connectors

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Runs customer-support escalations: gather context, assess impact, pick the target, draft the brief, "
    "keep the follow-up cadence. The prompt customer-escalation walks through all seven steps."
)

# Connector records in gather_context's output: typed in the result, plain objects in the listing.
RECORDS = frozenset({"Account", "Article", "Comment", "Deal", "Message", "Ticket", "TrackerIssue"})
READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
READ_LOCAL = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE_LEDGER = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)

Clock = Callable[[], datetime]
ToolFn = TypeVar("ToolFn", bound=Callable[..., Any])


@dataclass(frozen=True)
class AppState:
    settings: Settings
    connectors: Connectors
    ledger: Ledger
    renderer: BriefRenderer
    clock: Clock


class BriefResult(BaseModel):
    escalation_id: str
    status: EscalationStatus = Field(description="ready only when nothing is missing for its targets.")
    missing: list[str]
    markdown: str


class Schedule(BaseModel):
    escalation_id: str
    severity: Severity
    timezone: str
    country: str | None
    followups: list[Followup] = Field(description="Pending follow-ups, soonest first, in the customer's time zone.")


class UpdateResult(BaseModel):
    escalation_id: str
    status: EscalationStatus
    severity: Severity
    cancelled_followups: int


def _now() -> datetime:
    return datetime.now(UTC)


def _event(state: AppState, kind: Any, detail: str) -> TimelineEvent:
    return TimelineEvent(at=state.clock(), kind=kind, detail=detail)


async def _account(state: AppState, customer: str | None) -> Account | None:
    """The CRM account named `customer`, None without a customer or CRM; a ToolError when unknown."""
    if customer is None or state.connectors.crm is None:
        return None
    try:
        return await context.find_account(state.connectors.crm, customer)
    except ConnectorError as exc:
        raise ToolError(
            f"could not look up customer {customer!r} in the CRM ({exc}); retry, or leave customer out"
        ) from exc
    except context.UnknownCustomer as exc:
        raise ToolError(str(exc)) from exc


async def _escalation(state: AppState, escalation_id: str) -> Escalation:
    try:
        record = await state.ledger.get(escalation_id)
    except NotFound:
        raise ToolError(
            f"no escalation with id {escalation_id!r}; use the escalation_id draft_brief returned"
        ) from None
    return Escalation.model_validate(record.model_dump(exclude={"timeline", "followups"}))


def build_server(
    settings: Settings | None = None,
    *,
    connectors: Connectors | None = None,
    ledger: Ledger | None = None,
    clock: Clock = _now,
) -> MCPServer[AppState]:
    """The escalation server; anything not handed in is opened from `settings` in the lifespan."""
    settings = settings or Settings()
    started: list[AppState] = []  # the running state, for handlers the SDK gives no context (completion)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncGenerator[AppState]:
        async with AsyncExitStack() as stack:
            wired = connectors
            if wired is None:
                wired = open_connectors(settings, now=clock())
                stack.push_async_callback(wired.aclose)
            store = ledger
            if store is None:
                from server.store.sqlite import SqliteLedger

                store = SqliteLedger(settings.ledger_path)
                stack.push_async_callback(store.close)
            state = AppState(settings, wired, store, BriefRenderer(), clock)
            started.append(state)
            try:
                yield state
            finally:
                started.remove(state)

    tools: list[Tool] = []

    def tool(annotations: ToolAnnotations) -> Callable[[ToolFn], ToolFn]:
        """Register a tool with compact schemas (see `server.schema`)."""

        def register(fn: ToolFn) -> ToolFn:
            registered = Tool.from_function(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)
            registered.parameters = compact(registered.parameters)
            if registered.fn_metadata.output_schema is not None:
                registered.fn_metadata.output_schema = compact(
                    registered.fn_metadata.output_schema, output=True, opaque=RECORDS
                )
            tools.append(registered)
            return fn

        return register

    def app(ctx: Context[AppState, Any]) -> AppState:
        return ctx.request_context.lifespan_context

    def running() -> AppState:
        """The state for handlers the SDK hands no context (static resources, completion)."""
        if not started:
            raise RuntimeError("the server's lifespan has not started")
        return started[-1]

    @tool(READ)
    async def gather_context(
        issue: Annotated[str, Field(min_length=3, description="The problem, in a few words.")],
        ctx: Context[AppState, Any],
        customer: Annotated[str | None, Field(description="Account name or domain.")] = None,
        since_days: Annotated[int, Field(ge=1, le=365, description="Look back this many days.")] = 30,
        limit: Annotated[int, Field(ge=1, le=50, description="Records per source.")] = 5,
        cursors: Annotated[
            dict[Category, str] | None, Field(description="next_cursor values from a truncated source.")
        ] = None,
    ) -> context.ContextReport:
        """Search support, CRM, chat, tracker and knowledge base at once for an issue.

        Each source has its own deadline and status; findings count distinct customers reporting,
        regressions and documented workarounds. Use before assessing or routing.
        """
        state = app(ctx)

        async def progress(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        try:
            return await context.gather(
                state.connectors,
                issue,
                customer=customer,
                since=context.window_start(state.clock(), since_days),
                limit=limit,
                deadline=state.settings.source_timeout,
                cursors=cursors,
                progress=progress,
            )
        except context.UnknownCustomer as exc:
            raise ToolError(str(exc)) from exc

    @tool(READ)
    async def assess_impact(
        ctx: Context[AppState, Any],
        customer: Annotated[str | None, Field(description="Fills ARR, deals, reference status from the CRM.")] = None,
        customers_affected: Annotated[int | None, Field(ge=0)] = None,
        trend: Literal["growing", "stable", "shrinking"] | None = None,
        depth: Literal["blocked", "degraded", "inconvenienced"] | None = None,
        started_at: Annotated[AwareDatetime | None, Field(description="ISO 8601 with offset.")] = None,
        arr_at_risk: Annotated[float | None, Field(ge=0, description="USD.")] = None,
        pending_deals: Annotated[float | None, Field(ge=0, description="USD in open deals affected.")] = None,
        high_value_customers: Annotated[
            int | None, Field(ge=0, description="How many affected are high-value.")
        ] = None,
        reference_customer: bool | None = None,
        public_exposure: Annotated[bool | None, Field(description="Could become public.")] = None,
        sla_status: Literal["ok", "at_risk", "breached"] | None = None,
        contractual_obligation: bool | None = None,
        production_down: bool | None = None,
        data_loss: bool | None = None,
        security_breach: bool | None = None,
        workaround: bool | None = None,
    ) -> ImpactAssessment:
        """Rate breadth, depth, duration, revenue, reputation and contractual impact into a severity.

        Leave unknowns out: the result lists which of them would raise the severity.
        """
        state = app(ctx)
        given = ImpactInput(
            customers_affected=customers_affected,
            trend=trend,
            depth=depth,
            started_at=started_at,
            arr_at_risk=arr_at_risk,
            pending_deals=pending_deals,
            high_value_customers=high_value_customers,
            reference_customer=reference_customer,
            public_exposure=public_exposure,
            sla_status=sla_status,
            contractual_obligation=contractual_obligation,
            production_down=production_down,
            data_loss=data_loss,
            security_breach=security_breach,
            workaround=workaround,
        )
        account = await _account(state, customer)
        if account is not None:
            given = await _with_account(state, given, account)
        return impact.assess(given, now=state.clock(), high_value_arr=state.settings.high_value_arr)

    @tool(READ)
    async def pick_tier(
        signals: Annotated[list[routing.Signal], Field(description="Every signal that applies to the case.")],
        ctx: Context[AppState, Any],
        customers_reporting: Annotated[int, Field(ge=0, description="Distinct customers reporting it.")] = 1,
        current_tier: Annotated[Tier, Field(description="Your tier; from l1, engineering/product go via L2.")] = "l2",
        customer: Annotated[str | None, Field(description="Adds high_value_customer_at_risk from the CRM.")] = None,
    ) -> RoutingDecision:
        """Decide escalate-or-not and the target (L2, engineering, product, security, leadership), with reasons."""
        state = app(ctx)
        account = await _account(state, customer)
        chosen = list(signals)
        if account is not None and _high_value(state, account) and "high_value_customer_at_risk" not in chosen:
            chosen.append("high_value_customer_at_risk")
        return routing.route(chosen, customers_reporting=customers_reporting, current_tier=current_tier)

    @tool(WRITE_LEDGER)
    async def draft_brief(
        summary: Annotated[str, Field(min_length=3, max_length=200, description="One line.")],
        targets: Annotated[list[Target], Field(min_length=1)],
        severity: Severity,
        ctx: Context[AppState, Any],
        language: Language = "en",
        escalation_id: Annotated[str | None, Field(description="Revise this escalation's brief.")] = None,
        customer: str | None = None,
        reported_by: str | None = None,
        customers_affected: Annotated[str | None, Field(description="Who and how many.")] = None,
        workflow_impact: Annotated[str | None, Field(description="What they cannot do.")] = None,
        revenue_at_risk: str | None = None,
        time_in_queue: str | None = None,
        sla_status: str | None = None,
        description: Annotated[str | None, Field(description="3-5 sentences.")] = None,
        tried: Annotated[list[str] | None, Field(description="'step -> result' each.")] = None,
        repro_steps: list[str] | None = None,
        expected: str | None = None,
        actual: str | None = None,
        environment: str | None = None,
        frequency: str | None = None,
        ruled_out: list[str] | None = None,
        evidence: Annotated[list[str] | None, Field(description="Exact error text, log lines.")] = None,
        use_case: str | None = None,
        request_frequency: str | None = None,
        competitive_pressure: str | None = None,
        observed: str | None = None,
        potentially_affected: str | None = None,
        containment: str | None = None,
        urgency: str | None = None,
        last_customer_update: str | None = None,
        customer_expectation: str | None = None,
        escalation_risk: str | None = None,
        needed: Annotated[
            list[str] | None, Field(description="Specific asks: investigate, fix, decide, approve.")
        ] = None,
        deadline: str | None = None,
        links: Annotated[list[str] | None, Field(description="Tickets, threads, logs.")] = None,
    ) -> BriefResult:
        """Write the escalation brief (en, ko, ja), check it is complete for its targets, and store it.

        Returns the escalation id; an incomplete brief is stored as a draft listing what is missing.
        """
        state = app(ctx)
        account = await _account(state, customer)
        previous = await _escalation(state, escalation_id) if escalation_id else None
        brief = BriefInput(
            summary=summary,
            targets=targets,
            severity=severity,
            customer=account.name if account else customer,
            reported_by=reported_by,
            customers_affected=customers_affected,
            workflow_impact=workflow_impact,
            revenue_at_risk=revenue_at_risk,
            time_in_queue=time_in_queue,
            sla_status=sla_status,
            description=description,
            tried=tried or [],
            repro_steps=repro_steps or [],
            expected=expected,
            actual=actual,
            environment=environment,
            frequency=frequency,
            ruled_out=ruled_out or [],
            evidence=evidence or [],
            use_case=use_case,
            request_frequency=request_frequency,
            competitive_pressure=competitive_pressure,
            observed=observed,
            potentially_affected=potentially_affected,
            containment=containment,
            urgency=urgency,
            last_customer_update=last_customer_update,
            customer_expectation=customer_expectation,
            escalation_risk=escalation_risk,
            needed=needed or [],
            deadline=deadline,
            links=links or [],
        )
        missing = missing_fields(brief)
        now = state.clock()
        markdown = state.renderer.render(brief, language=language, today=now.date(), missing=missing)
        status: EscalationStatus = "draft" if missing else "ready"
        escalation = Escalation(
            id=previous.id if previous else secrets.token_hex(16),
            created_at=previous.created_at if previous else now,
            updated_at=now,
            summary=summary,
            customer=brief.customer,
            severity=severity,
            targets=list(dict.fromkeys(targets)),
            status=status,
            language=language,
            brief_markdown=markdown,
            missing=missing,
        )
        detail = f"brief {status} for {', '.join(escalation.targets)} ({severity})"
        if missing:
            detail += f"; missing {len(missing)}"
        if previous is None:
            await state.ledger.create(escalation, _event(state, "created", detail))
        else:
            events = [_event(state, "brief_drafted", detail)]
            if previous.severity != severity:
                events.append(_event(state, "severity_changed", f"{previous.severity} -> {severity}"))
            await state.ledger.update(escalation, *events)
        return BriefResult(escalation_id=escalation.id, status=status, missing=missing, markdown=markdown)

    @tool(WRITE_LEDGER)
    async def schedule_followup(
        escalation_id: str,
        ctx: Context[AppState, Any],
        severity: Annotated[Severity | None, Field(description="Defaults to the escalation's.")] = None,
        timezone: Annotated[str | None, Field(description="IANA zone; defaults to the customer's.")] = None,
        country: Annotated[str | None, Field(description="ISO code for holidays; defaults to the customer's.")] = None,
        start: Annotated[AwareDatetime | None, Field(description="ISO 8601 with offset; default now.")] = None,
        count: Annotated[int, Field(ge=1, le=10, description="Follow-ups of each kind.")] = 3,
        customer_update_hours: Annotated[
            float | None, Field(gt=0, le=168, description="SLA's own customer-update interval.")
        ] = None,
    ) -> Schedule:
        """Schedule internal and customer follow-ups at the cadence the severity demands.

        Medium runs on the customer's business days and holidays. Replaces pending follow-ups.
        """
        state = app(ctx)
        escalation = await _escalation(state, escalation_id)
        if escalation.status in ("resolved", "de_escalated"):
            raise ToolError(f"escalation {escalation_id} is {escalation.status}: its follow-ups have ended")
        account = await _account(state, escalation.customer) if escalation.customer else None
        zone = timezone or (account.timezone if account else None) or state.settings.default_timezone
        nation = country or (account.country if account else None) or state.settings.default_country
        try:
            calendar = cadence.BusinessCalendar.of(
                zone,
                nation,
                opens=state.settings.business_hours_start,
                closes=state.settings.business_hours_end,
            )
        except cadence.CalendarError as exc:
            raise ToolError(str(exc)) from exc
        level = severity or escalation.severity
        plans = cadence.plan(
            level,
            (start or state.clock()).replace(microsecond=0),
            calendar,
            count=count,
            customer_every_hours=customer_update_hours,
        )
        followups = [Followup(id=secrets.token_hex(16), escalation_id=escalation.id, **p.model_dump()) for p in plans]
        events: list[TimelineEvent] = []
        changed: Escalation | None = None
        if level != escalation.severity:
            changed = escalation.model_copy(update={"severity": level, "updated_at": state.clock()})
            events.append(_event(state, "severity_changed", f"{escalation.severity} -> {level}"))
        first = followups[0].due_at.isoformat() if followups else "none"
        events.append(_event(state, "followups_scheduled", f"{level} cadence in {zone}; next due {first}"))
        await state.ledger.schedule(escalation.id, followups, *events, escalation=changed)
        return Schedule(
            escalation_id=escalation.id,
            severity=level,
            timezone=zone,
            country=calendar.country,
            followups=followups,
        )

    @tool(WRITE_LEDGER)
    async def record_update(
        escalation_id: str,
        kind: Annotated[
            Literal["update", "de_escalated", "resolved", "lesson"],
            Field(description="resolved and de_escalated cancel pending follow-ups."),
        ],
        note: Annotated[str, Field(min_length=3, max_length=4000, description="What happened or was learned.")],
        ctx: Context[AppState, Any],
    ) -> UpdateResult:
        """Add an update, de-escalation, resolution or lesson learned to an escalation's audit trail."""
        state = app(ctx)
        escalation = await _escalation(state, escalation_id)
        if kind not in ("de_escalated", "resolved"):
            await state.ledger.append(escalation.id, _event(state, kind, note))
            return UpdateResult(
                escalation_id=escalation.id,
                status=escalation.status,
                severity=escalation.severity,
                cancelled_followups=0,
            )
        before = await state.ledger.get(escalation.id)
        pending = sum(1 for f in before.followups if f.state == "pending")
        closed = escalation.model_copy(update={"status": kind, "updated_at": state.clock()})
        await state.ledger.schedule(
            escalation.id,
            [],
            _event(state, kind, note),
            _event(state, "followups_scheduled", f"{pending} pending follow-ups cancelled ({kind})"),
            escalation=closed,
        )
        return UpdateResult(
            escalation_id=escalation.id,
            status=kind,
            severity=escalation.severity,
            cancelled_followups=pending,
        )

    mcp: MCPServer[AppState] = MCPServer(
        "escalation-mcp", version="0.1.0", instructions=INSTRUCTIONS, lifespan=lifespan, tools=tools
    )

    # resources

    @mcp.resource("escalation://playbook", name="playbook", mime_type="text/markdown")
    def playbook() -> str:
        """How the server decides: escalation criteria, targets, severity, cadence."""
        return resources.files("prompts").joinpath("playbook.md").read_text("utf-8")

    @mcp.resource("escalation://templates/{name}", name="template", mime_type="text/plain")
    def template(name: str) -> str:
        """A brief template (brief.en.md.j2, brief.ko.md.j2, brief.ja.md.j2)."""
        renderer = BriefRenderer()
        try:
            return renderer.source(name)
        except KeyError:
            raise ResourceNotFoundError(
                f"no template {name!r}; available: {', '.join(renderer.template_names())}"
            ) from None

    @mcp.resource("escalation://escalations/{escalation_id}", name="escalation", mime_type="application/json")
    async def escalation(escalation_id: str, ctx: Context[AppState, Any]) -> str:
        """A stored escalation with its brief, timeline and follow-ups."""
        try:
            record = await app(ctx).ledger.get(escalation_id)
        except NotFound:
            raise ResourceNotFoundError(f"no escalation with id {escalation_id!r}") from None
        return record.model_dump_json(indent=2)

    @mcp.resource("escalation://connectors", name="connectors", mime_type="application/json")
    def connectors_resource() -> str:
        """Which source categories are connected, and to which product."""
        wired = running().connectors.wired()
        return json.dumps({c: {"connected": wired[c] is not None, "adapter": wired[c]} for c in CATEGORIES}, indent=2)

    # prompt

    @mcp.prompt(name="customer-escalation", title="Customer escalation")
    def customer_escalation(
        issue_summary: Annotated[str, Field(description="What is wrong, e.g. 'API returning 500s'.")],
        customer: Annotated[str | None, Field(description="Customer name or account.")] = None,
    ) -> str:
        """Package a support issue into an escalation: context, impact, target, brief, follow-ups."""
        text = resources.files("prompts").joinpath("customer_escalation.md.j2").read_text("utf-8")
        from jinja2 import Template  # imported on first use: see BriefRenderer

        return Template(text, trim_blocks=True, lstrip_blocks=True).render(
            issue_summary=issue_summary, customer=customer
        )

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference, argument: Any, _context: Any
    ) -> Completion | None:
        if isinstance(ref, PromptReference) and ref.name == "customer-escalation" and argument.name == "customer":
            crm = running().connectors.crm
            if crm is None:
                return Completion(values=[])
            try:
                accounts = await crm.search_accounts(argument.value, limit=20)
            except ConnectorError:
                return Completion(values=[])
            names = [a.name for a in accounts if a.name.lower().startswith(argument.value.lower())]
            names += [a.name for a in accounts if a.name not in names]
            return Completion(values=names[:20], total=len(names), has_more=False)
        if isinstance(ref, ResourceTemplateReference) and argument.name == "name":
            names = [n for n in BriefRenderer().template_names() if n.startswith(argument.value)]
            return Completion(values=names, total=len(names), has_more=False)
        return None

    return mcp


def _high_value(state: AppState, account: Account) -> bool:
    return account.reference_customer or (account.arr or 0) >= state.settings.high_value_arr


async def _with_account(state: AppState, given: ImpactInput, account: Account) -> ImpactInput:
    """Fill what the caller left unknown from the customer's CRM record."""
    fill: dict[str, object] = {}
    if given.arr_at_risk is None and account.arr is not None:
        fill["arr_at_risk"] = account.arr
    if given.reference_customer is None:
        fill["reference_customer"] = account.reference_customer
    if given.high_value_customers is None:
        fill["high_value_customers"] = int(_high_value(state, account))
    if given.pending_deals is None and state.connectors.crm is not None:
        try:
            deals = await state.connectors.crm.open_deals(account.id)
        except ConnectorError as exc:
            log.warning("open deals for %s unavailable: %s", account.id, exc)
        else:
            fill["pending_deals"] = sum(d.amount or 0 for d in deals)
    return given.model_copy(update=fill)
