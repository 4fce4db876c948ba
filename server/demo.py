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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client
from pydantic import BaseModel

from server.app import BriefResult, Schedule, build_server
from server.context import ContextReport
from server.models import ImpactAssessment, Language, RoutingDecision
from server.routing import Signal
from server.settings import Settings

DEFAULT_ISSUE = "API returning 500 errors intermittently"
DEFAULT_CUSTOMER = "Acme Corp"

# Keyword rules standing in for the assistant's judgement: (pattern, signals it suggests).
_RULES: tuple[tuple[str, tuple[Signal, ...]], ...] = (
    (r"\b5\d\d\b|error|exception|timeout|crash", ("beyond_support_diagnosis",)),
    (r"\boutage\b|\bdown\b", ("production_down",)),
    (r"missing rows|data loss|lost data|corrupt|missing data|drops? rows", ("data_integrity_risk",)),
    (r"leak|exposed|exposure|breach|vulnerab|unauthori[sz]ed", ("data_exposure",)),
    (r"churn|cancel|not renew|won't renew|threaten", ("churn_threat",)),
    (r"missing .*feature|feature request|\bfeature\b", ("feature_gap",)),
    (r"login|log in|sign.?in|sso|saml", ("beyond_support_diagnosis",)),
    (r"configur|setting|misconfig|rate.?limit|\b429\b", ("configuration_issue",)),
)
_BLOCKING = r"loop|cannot|can't|blocked|nobody|no one|down|not renew|blocker|on hold|fails? 100%"


class DemoError(Exception):
    """A step of the demo was refused; the message is the server's."""


class DemoRun(BaseModel):
    issue: str
    customer: str | None
    language: Language
    context: ContextReport
    signals: list[str]
    impact: ImpactAssessment
    routing: RoutingDecision
    brief: BriefResult | None
    schedule: Schedule | None


def _signals(issue: str, report: ContextReport) -> list[Signal]:
    text = issue.lower()
    found: list[Signal] = []
    for pattern, signals in _RULES:
        if re.search(pattern, text):
            found.extend(s for s in signals if s not in found)
    findings = report.findings
    if findings.regressions:
        found.append("regression")
    if findings.open_issues and "feature_gap" not in found:
        found.append("bug_confirmed")
    if findings.workarounds and not ({"beyond_support_diagnosis", "production_down"} & set(found)):
        found.append("known_workaround")
    return found


def _sentences(text: str) -> list[str]:
    """Prose sentences of `text`: no greeting line, no indented code or log block."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("  ")]
    if lines and re.match(r"^(hi|hello|dear)\b.{0,30},$", lines[0], re.IGNORECASE):
        lines = lines[1:]
    return re.split(r"(?<=[.!?])\s+", " ".join(lines))


def _first_sentences(text: str, n: int = 3) -> str:
    return " ".join(_sentences(text)[:n])


def _consequence(text: str) -> str | None:
    """The sentences saying what the customer cannot do."""
    hits = [s for s in _sentences(text)[1:] if re.search(r"abort|block|cannot|can't|on hold|stuck|not complete", s)]
    return " ".join(hits[:2]) or None


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
    # step 2: gather
    gathered = ContextReport.model_validate(
        await _call(client, "gather_context", {"issue": issue, "customer": customer})
    )
    findings = gathered.findings
    relevant = [t for t in gathered.tickets if t.id in findings.customer_tickets] or [
        t for t in gathered.tickets if t.customer in findings.distinct_customers
    ]
    customers = max(len(findings.distinct_customers), 1 if customer else 0)
    corpus = " ".join([issue, *(f"{t.subject} {t.body}" for t in relevant)]).lower()

    # step 3: impact
    signals = _signals(issue, gathered)
    impact_args: dict[str, Any] = {"customer": customer, "customers_affected": customers or None}
    if re.search(_BLOCKING, corpus):
        impact_args["depth"] = "blocked"
    elif customers:
        impact_args["depth"] = "degraded"
    if relevant:
        impact_args["started_at"] = min(t.created_at for t in relevant).isoformat()
    if len(findings.distinct_customers) >= 3:
        impact_args["trend"] = "growing"
    if "production_down" in signals:
        impact_args["production_down"] = True
    if "known_workaround" in signals:
        impact_args["workaround"] = True
    impact = ImpactAssessment.model_validate(
        await _call(client, "assess_impact", {k: v for k, v in impact_args.items() if v is not None})
    )

    # step 4: target
    routing = RoutingDecision.model_validate(
        await _call(
            client,
            "pick_tier",
            {"signals": signals, "customers_reporting": customers or 1, "customer": customer},
        )
    )
    decided = DemoRun(
        issue=issue,
        customer=customer,
        language=language,
        context=gathered,
        signals=list(signals),
        impact=impact,
        routing=routing,
        brief=None,
        schedule=None,
    )
    if not routing.escalate:
        return decided

    # steps 5 and 6: what the context supports; the completeness check names the rest
    lead = relevant[0] if relevant else None
    internal = [c for t in relevant for c in t.comments if not c.public]
    public = [c for t in relevant for c in t.comments if c.public]
    evidence = sorted({m for t in relevant for m in re.findall(r"\breq_[0-9a-f]{6,}\b|HTTP \d{3}|ERR_[A-Z_]+", t.body)})
    account = gathered.account
    brief_args: dict[str, Any] = {
        "summary": f"{issue} ({customer})" if customer else issue,
        "targets": [t.target for t in routing.targets],
        "severity": impact.severity,
        "language": language,
        "customer": customer,
        "reported_by": "Support (escalation-mcp demo)",
        "customers_affected": ", ".join(findings.distinct_customers) or customer,
        "workflow_impact": _consequence(lead.body) if lead else None,
        "revenue_at_risk": next((d.reason for d in impact.dimensions if d.dimension == "revenue"), None)
        if account
        else None,
        "time_in_queue": next((d.reason for d in impact.dimensions if d.dimension == "duration"), None),
        "description": _first_sentences(lead.body) if lead else None,
        "tried": [_first_sentences(c.body, 2) for c in internal[:3]],
        "evidence": evidence[:6],
        "last_customer_update": f"{public[-1].created_at:%Y-%m-%d %H:%M} UTC: {_first_sentences(public[-1].body, 1)}"
        if public
        else None,
        "needed": [_ASK[t.target] for t in routing.targets],
        "deadline": _deadline(impact.severity),
        "links": [t.url for t in relevant if t.url]
        + [i.url for i in gathered.issues if i.id in findings.open_issues + findings.regressions and i.url],
    }
    brief = BriefResult.model_validate(
        await _call(client, "draft_brief", {k: v for k, v in brief_args.items() if v not in (None, [], "")})
    )

    # step 7: follow-ups
    schedule = Schedule.model_validate(
        await _call(client, "schedule_followup", {"escalation_id": brief.escalation_id, "count": 2})
    )
    return decided.model_copy(update={"brief": brief, "schedule": schedule})


_ASK = {
    "l2_support": "Take over the investigation at L2",
    "engineering": "Investigate the root cause and ship a fix",
    "product": "Decide whether and when to build it",
    "security": "Assess exposure and direct containment",
    "leadership": "Decide on the customer commitment",
}


def _deadline(severity: str) -> str:
    hours = {"critical": 4, "high": 8, "medium": 72}[severity]
    return f"update within {hours} h (by {datetime.now(UTC) + timedelta(hours=hours):%Y-%m-%d %H:%M} UTC)"
