"""Step 3: assess_impact rates the six dimensions into a severity, from the case and what the caller adds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import AwareDatetime, Field

from server import impact
from server.models import AffectedAccount, CaseFlags, Escalation, ImpactAssessment, ImpactInput, TimelineEvent
from server.state import AppState
from server.tools.brief import rerender
from server.tools.common import event, load_case, pending_deals, resolve_accounts, segment_accounts, state_of

Name = Annotated[str, Field(min_length=1, max_length=200)]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
START_SKEW = timedelta(hours=1)  # a caller's clock a little ahead of ours is not a mistake worth refusing

# Unknowns worth asking about only when the problem could be of that kind.
_PLAUSIBLE_IF: dict[str, re.Pattern[str]] = {
    "production_down": re.compile(r"down|outage|5\d\d|error|fail|crash|unavailable|timeout|login|sso|cannot", re.I),
    "data_loss": re.compile(r"data|export|import|rows?|records?|missing|lost|delet|corrupt|sync", re.I),
    "security_breach": re.compile(r"secur|leak|expos|breach|unauthori|access|vulnerab|token|password", re.I),
}


class ImpactResult(ImpactAssessment):
    escalation_id: str | None = None
    customers: list[str] = Field(description="Accounts counted as affected.")
    notes: list[str] = Field(default_factory=list[str])


async def assess_impact(
    ctx: Context[AppState, Any],
    escalation_id: Annotated[str | None, Field(max_length=64)] = None,
    customers: Annotated[list[Name] | None, Field(max_length=200, description="Affected accounts by name.")] = None,
    segment: Annotated[
        str | None, Field(max_length=100, description="Plan whose every account is affected (enterprise), or 'all'.")
    ] = None,
    flags: CaseFlags | None = None,
    depth: Literal["blocked", "degraded", "inconvenienced"] | None = None,
    trend: Literal["growing", "stable", "shrinking"] | None = None,
    started_at: Annotated[AwareDatetime | None, Field(description="ISO 8601 with offset.")] = None,
    customers_affected: Annotated[
        int | None, Field(ge=0, le=10_000_000, strict=True, description="If not named.")
    ] = None,
    arr_at_risk: Annotated[float | None, Field(ge=0, le=1e12, strict=True, description="USD.")] = None,
    public_exposure: Annotated[bool | None, Field(strict=True, description="Could become public.")] = None,
    contractual_obligation: Annotated[bool | None, Field(strict=True)] = None,
) -> ImpactResult:
    """Rate breadth, depth, duration, revenue, reputation and contract into a severity.

    The case fills what you omit; missing lists unknowns that could raise it.
    """
    state = state_of(ctx)
    if started_at is not None and not EARLIEST <= started_at <= state.clock() + START_SKEW:
        # A start in the future rated the duration "0 h", one from 1970 "20,000 days": refuse before storing.
        raise ToolError("started_at must be a past time since 2000, with its offset, e.g. 2026-11-20T09:00:00Z")
    stored = await load_case(state, escalation_id) if escalation_id else None
    facts = stored.facts if stored else None
    notes: list[str] = []
    overridden: list[TimelineEvent] = []

    accounts: list[AffectedAccount] | None = None
    if customers:
        accounts = await resolve_accounts(state, customers)
    if segment:
        plan = segment.strip().lower().removeprefix("all ").removesuffix(" customers").strip() or "all"
        seg = await segment_accounts(state, plan)
        accounts = [*(accounts or []), *(a for a in seg if a.name not in {b.name for b in accounts or []})]
    if accounts is not None and facts is not None and {a.name for a in accounts} != {a.name for a in facts.accounts}:
        overridden.append(
            event(state, "fact_overridden", f"accounts: {len(facts.accounts)} from context -> {len(accounts)} given")
        )
    if accounts is None:
        accounts = list(facts.accounts) if facts else []

    merged = (stored.flags if stored else CaseFlags()).merged(flags or CaseFlags())
    if stored is not None and flags is not None:
        changed = {
            k: v for k, v in flags.model_dump(exclude_none=True).items() if getattr(stored.flags, k) not in (None, v)
        }
        if changed:
            overridden.append(event(state, "fact_overridden", f"flags: {changed}"))

    same = facts is not None and [a.name for a in accounts] == [a.name for a in facts.accounts]
    deals = facts.pending_deals if same and facts else await pending_deals(state, accounts)
    arr_known = [a.arr for a in accounts if a.arr is not None]
    given = ImpactInput(
        customers_affected=customers_affected if customers_affected is not None else (len(accounts) or None),
        trend=trend or (facts.trend if facts else None),
        depth=depth,
        started_at=started_at or (facts.started_at if facts else None),
        arr_at_risk=arr_at_risk if arr_at_risk is not None else (sum(arr_known) if arr_known else None),
        pending_deals=deals,
        high_value_customers=sum(a.high_value for a in accounts) if accounts else None,
        reference_customer=any(a.reference_customer for a in accounts) if accounts else None,
        public_exposure=public_exposure,
        sla_status=merged.sla_status,
        contractual_obligation=contractual_obligation,
        production_down=merged.production_down,
        data_loss=merged.data_loss,
        security_breach=None if merged.security is None else merged.security == "breach",
        workaround=merged.workaround,
    )
    if facts and started_at and facts.started_at and started_at != facts.started_at:
        overridden.append(event(state, "fact_overridden", f"started_at: {facts.started_at} -> {started_at}"))
    text = " ".join([facts.issue if facts else "", *(facts.evidence if facts else [])])
    plausible = None if not text.strip() else _plausible(text)
    result = impact.assess(
        given,
        now=state.clock(),
        high_value_arr=state.settings.high_value_arr,
        critical_customers=state.settings.critical_customers,
        plausible=plausible,
    )
    if stored is not None:
        await _store(state, stored, given, result, merged, overridden)
        if stored.severity and stored.severity != result.severity:
            notes.append(f"severity {stored.severity} -> {result.severity}; the stored brief was re-rendered")
    return ImpactResult(
        **result.model_dump(),
        escalation_id=stored.id if stored else None,
        customers=[a.name for a in accounts],
        notes=notes,
    )


def _plausible(text: str) -> set[str]:
    always = {"customers_affected", "depth", "trend", "high_value_customers", "sla_status", "workaround"}
    return always | {field for field, pattern in _PLAUSIBLE_IF.items() if pattern.search(text)}


async def _store(
    state: AppState,
    stored: Escalation,
    given: ImpactInput,
    result: ImpactAssessment,
    flags: CaseFlags,
    overridden: list[TimelineEvent],
) -> None:
    events = [*overridden, event(state, "impact_assessed", f"{result.severity} ({result.rule})")]
    update: dict[str, object] = {"impact": result, "impact_input": given, "flags": flags, "severity": result.severity}
    if stored.severity is not None and stored.severity != result.severity:
        events.append(event(state, "severity_changed", f"{stored.severity} -> {result.severity}: assessed impact"))
    changed = stored.model_copy(update={**update, "updated_at": state.clock()})
    await state.ledger.update(rerender(state, changed), *events)
