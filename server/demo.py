"""The demo's scripted assistant: the seven steps over MCP, in memory, on the embedded workspace.

A real assistant reads the gathered context and decides which signals apply; this script
stands in for it with plain keyword rules over the issue text and the findings, so the
demo runs with no model and no setup. Everything else is the real server, reached through
the SDK's in-memory client exactly as an agent pipeline reaches it.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from mcp import Client
from pydantic import BaseModel

from server.app import build_server
from server.models import Language
from server.routing import Signal
from server.settings import Settings
from server.tools.assess import ImpactResult
from server.tools.brief import BriefResult
from server.tools.gather import GatherResult
from server.tools.route import RouteResult
from server.tools.schedule import Schedule

DEFAULT_ISSUE = "API returning 500 errors intermittently"
DEFAULT_CUSTOMER = "Acme Corp"

# Keyword rules standing in for the assistant's judgement: (pattern, signals it suggests).
_SIGNALS: tuple[tuple[str, tuple[Signal, ...]], ...] = (
    (r"\b5\d\d\b|error|exception|timeout|crash", ("beyond_support_diagnosis",)),
    (r"login|log in|sign.?in|sso|saml", ("beyond_support_diagnosis",)),
    (r"missing .*feature|feature request|\bfeature\b", ("feature_gap",)),
    (r"configur|setting|misconfig|rate.?limit|\b429\b", ("configuration_issue",)),
    (r"how (do|can|to)|is it possible|difference between", ("needs_guidance",)),
)
# And for the flags shared with the impact step: (pattern, flag, value).
_FLAGS: tuple[tuple[str, str, object], ...] = (
    (r"\boutage\b|\bis down\b|production down", "production_down", True),
    (r"data loss|lost data|corrupt|deleted", "data_loss", True),
    (r"leak|exposed|exposure|breach|vulnerab|unauthori[sz]ed", "security", "concern"),
    (r"churn|cancel|not renew|won't renew|threaten", "churn_threat", True),
    (r"lawsuit|legal|press|regulator", "legal_risk", True),
)
_BLOCKING = r"loop|cannot|can't|blocked|nobody|no one|\bdown\b|not renew|blocker|on hold|fails? 100%|missing rows"

# What only a person knows, and the demo cannot: said plainly next to the brief.
PERSON_ONLY: dict[str, str] = {
    "repro_steps": "exact steps from a clean start come from the person who reproduced it",
    "expected": "the expected result is the person's statement of what should happen",
    "actual": "the observed result with exact values comes from the reproduction",
    "environment": "the environment of the reproduction (region, version, client) is the person's",
    "use_case": "the customer's use case comes from talking to them",
    "request_frequency": "how often it is asked for comes from the request tracker or the person",
    "observed": "what security observed first-hand",
    "potentially_affected": "the person's assessment of who may be affected",
    "containment": "containment taken so far",
    "urgency": "the person's urgency assessment",
}


class DemoError(Exception):
    """A step of the demo was refused; the message is the server's."""


class DemoRun(BaseModel):
    issue: str
    customer: str | None
    language: Language
    calls: int
    context: GatherResult
    signals: list[str]
    flags: dict[str, object]
    impact: ImpactResult
    routing: RouteResult
    brief: BriefResult | None
    unfilled: dict[str, str]
    schedule: Schedule | None


def judge(issue: str, report: GatherResult) -> tuple[list[Signal], dict[str, object], str | None]:
    """The scripted assistant's judgement: signals, flags and depth, from the issue and the matching tickets."""
    matching = [t for t in report.tickets if t.id in report.case.tickets]
    corpus = " ".join([issue, *(f"{t.subject} {t.body} {' '.join(t.tags)}" for t in matching)]).lower()
    signals: list[Signal] = []
    for pattern, suggested in _SIGNALS:
        if re.search(pattern, issue.lower()):
            signals.extend(s for s in suggested if s not in signals)
    flags: dict[str, object] = {}
    for pattern, flag, value in _FLAGS:
        if re.search(pattern, corpus):
            flags[flag] = value
    if report.case.open_issues and "feature_gap" not in signals:
        signals.append("bug_confirmed")
    if report.case.workarounds and not {"beyond_support_diagnosis", "bug_confirmed"} & set(signals):
        flags["workaround"] = True
    depth = "blocked" if re.search(_BLOCKING, corpus) else ("degraded" if matching else None)
    return signals, flags, depth


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = result.content[0].text if result.content and result.content[0].type == "text" else "unknown error"
        raise DemoError(f"{tool} failed: {text}")
    assert result.structured_content is not None
    return result.structured_content


async def run(
    issue: str = DEFAULT_ISSUE,
    customer: str | None = DEFAULT_CUSTOMER,
    *,
    language: Language = "en",
    settings: Settings | None = None,
    clock: Callable[[], datetime] | None = None,
) -> DemoRun:
    """The whole workflow for `issue`; the ledger lives in a temporary file unless settings name one."""
    with tempfile.TemporaryDirectory(prefix="escalation-demo-") as scratch:
        settings = settings or Settings(ledger_path=Path(scratch) / "ledger.db")
        server = build_server(settings, clock=clock) if clock else build_server(settings)
        failure: DemoError | None = None
        async with Client(server) as client:
            try:
                return await _steps(client, issue, customer, language)
            except DemoError as exc:
                failure = exc  # raised outside the client's task group, so it is not wrapped in a group
        assert failure is not None
        raise failure


async def _steps(client: Client, issue: str, customer: str | None, language: Language) -> DemoRun:
    # step 2: gather, which opens the case
    args: dict[str, Any] = {"issue": issue}
    if customer:
        args["customer"] = customer
    gathered = GatherResult.model_validate(await _call(client, "gather_context", args))
    case_id = gathered.escalation_id

    # step 3: impact, from the case plus the assistant's reading of it
    signals, flags, depth = judge(issue, gathered)
    impact_args: dict[str, Any] = {"escalation_id": case_id}
    if flags:
        impact_args["flags"] = flags
    if depth:
        impact_args["depth"] = depth
    if gathered.case.customers_reporting >= 3:
        impact_args["trend"] = "growing"
    impact = ImpactResult.model_validate(await _call(client, "assess_impact", impact_args))

    # step 4: target; the flags are already on the case
    routing = RouteResult.model_validate(
        await _call(client, "pick_tier", {"escalation_id": case_id, "signals": signals})
    )
    decided = DemoRun(
        issue=issue,
        customer=customer,
        language=language,
        calls=3,
        context=gathered,
        signals=list(signals),
        flags=flags,
        impact=impact,
        routing=routing,
        brief=None,
        unfilled={},
        schedule=None,
    )
    if not routing.escalate:
        return decided

    # steps 5 and 6: the case fills the brief; what only a person knows is said plainly
    brief = BriefResult.model_validate(
        await _call(
            client,
            "draft_brief",
            {"escalation_id": case_id, "language": language, "fields": {"reported_by": "Support (demo)"}},
        )
    )
    unfilled = {f: PERSON_ONLY.get(f, "nothing in the gathered context says it") for f in brief.missing}

    # step 7: follow-ups
    schedule = Schedule.model_validate(await _call(client, "schedule_followup", {"escalation_id": case_id, "count": 2}))
    return decided.model_copy(update={"brief": brief, "schedule": schedule, "unfilled": unfilled, "calls": 5})
