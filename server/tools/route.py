"""Step 4: pick_tier decides escalate-or-not and the targets, from the case and the assistant's judgement."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from server import routing
from server.models import CaseFlags, RoutingDecision, Tier, TimelineEvent
from server.state import AppState
from server.tools.brief import rerender
from server.tools.common import event, load_case, resolve_accounts, state_of


class RouteResult(RoutingDecision):
    escalation_id: str | None = None


async def pick_tier(
    ctx: Context[AppState, Any],
    signals: Annotated[
        list[routing.Signal], Field(max_length=30, description="Your judgement of the case; facts go in flags.")
    ] = [],  # noqa: B006 (the SDK copies defaults per call; a list keeps the schema an array)
    escalation_id: Annotated[str | None, Field(max_length=64)] = None,
    flags: CaseFlags | None = None,
    customers_reporting: Annotated[
        int | None, Field(ge=0, le=1_000_000, strict=True, description="Distinct customers reporting it.")
    ] = None,
    current_tier: Annotated[Tier, Field(description="Your tier; from l1, engineering/product go via L2.")] = "l2",
    customers: Annotated[
        list[Annotated[str, Field(max_length=200)]] | None, Field(max_length=200, description="Affected accounts.")
    ] = None,
) -> RouteResult:
    """Decide escalate-or-not and the targets, with reasons; security skips the tiers.

    The case fills reporting customers, high-value accounts, regressions and flags.
    """
    state = state_of(ctx)
    stored = await load_case(state, escalation_id) if escalation_id else None
    facts = stored.facts if stored else None
    accounts = await resolve_accounts(state, customers) if customers else (list(facts.accounts) if facts else [])
    merged = (stored.flags if stored else CaseFlags()).merged(flags or CaseFlags())
    blocked = bool(stored and stored.impact_input and stored.impact_input.depth == "blocked")
    reporting = customers_reporting if customers_reporting is not None else (facts.customers_reporting if facts else 1)
    reasons = routing.reasons_for(
        signals,
        merged,
        high_value_accounts=sum(a.high_value for a in accounts),
        regression=bool(facts and facts.regressions),
        severity_rising=bool(facts and facts.severity_rising),
        blocked=blocked,
    )
    decision = routing.route(reasons, customers_reporting=reporting, current_tier=current_tier)
    if stored is not None:
        events: list[TimelineEvent] = []
        if facts and customers_reporting is not None and customers_reporting != facts.customers_reporting:
            events.append(
                event(
                    state,
                    "fact_overridden",
                    f"customers_reporting: {facts.customers_reporting} -> {customers_reporting}",
                )
            )
        targets = [t.target for t in decision.targets]
        update: dict[str, object] = {"routing": decision, "flags": merged, "targets": targets}
        if decision.escalate:
            events.append(event(state, "routed", decision.decision))
            if stored.status == "handled_in_support":
                update["status"] = "assessing"
        else:
            update["status"] = "handled_in_support"
            events.append(event(state, "handled_in_support", decision.decision))
        changed = stored.model_copy(update={**update, "updated_at": state.clock()})
        await state.ledger.update(rerender(state, changed), *events)
    return RouteResult(**decision.model_dump(), escalation_id=stored.id if stored else None)
