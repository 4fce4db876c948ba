"""Step 6: draft_brief renders the brief from the case and what only the caller knows, and stores it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, ValidationError, model_validator

from server import locale_text
from server.brief import BriefInput, missing_fields
from server.models import Escalation, EscalationStatus, Language, Severity, Target
from server.state import AppState
from server.tools.common import event, load_case, new_id, ownership, state_of

TEXT_MAX = 4000
LIST_MAX = 50

# The ask each target gets when the caller names none: what the playbook says that team is for.
DEFAULT_ASK: dict[Language, dict[Target, str]] = {
    "en": {
        "l2_support": "Investigate beyond frontline support and take over the technical diagnosis",
        "engineering": "Investigate the root cause and ship a fix, or a safe workaround first",
        "product": "Decide whether and when this will be built, and what we can promise the customer",
        "security": "Assess the exposure, contain it, and tell us what the customer must be told",
        "leadership": "Decide how we respond to the business risk and who owns the customer conversation",
    },
    "ko": {
        "l2_support": "1차 지원 범위를 넘어선 원인 분석을 맡아 주세요",
        "engineering": "근본 원인을 조사하고 수정 배포(우선 안전한 우회 방법)를 부탁드립니다",
        "product": "개발 여부와 일정, 고객에게 약속할 수 있는 범위를 결정해 주세요",
        "security": "노출 범위를 평가하고 차단한 뒤, 고객에게 안내할 내용을 알려 주세요",
        "leadership": "사업 리스크 대응 방침과 고객 커뮤니케이션 담당을 결정해 주세요",
    },
    "ja": {
        "l2_support": "一次サポートの範囲を超えた原因調査を引き継いでください",
        "engineering": "根本原因を調査し、修正（まずは安全な回避策）をリリースしてください",
        "product": "開発の可否と時期、顧客に約束できる範囲を判断してください",
        "security": "影響範囲を評価して封じ込め、顧客へ伝えるべき内容を教えてください",
        "leadership": "ビジネスリスクへの対応方針と、顧客対応の責任者を決めてください",
    },
}
# How soon the receiving team must act, as a deadline from now.
RESPOND_WITHIN: dict[Severity, timedelta] = {
    "critical": timedelta(hours=2),
    "high": timedelta(hours=8),
    "medium": timedelta(days=5),
}
_DEPTH: dict[Language, dict[str, str]] = {
    "en": {"blocked": "Blocked: cannot do the work", "degraded": "Degraded", "inconvenienced": "Inconvenienced"},
    "ko": {"blocked": "업무 중단(진행 불가)", "degraded": "기능 저하", "inconvenienced": "불편 발생"},
    "ja": {"blocked": "業務停止（作業不可）", "degraded": "機能低下", "inconvenienced": "不便が発生"},
}
_NO_WORKAROUND: dict[Language, str] = {"en": "no workaround", "ko": "우회 방법 없음", "ja": "回避策なし"}
_CUSTOMERS: dict[Language, str] = {
    "en": "{n} account{s}: {names}",
    "ko": "고객사 {n}곳: {names}",
    "ja": "{n}社: {names}",
}
_REPORTING: dict[Language, str] = {"en": "{n} reporting", "ko": "{n}곳에서 접수", "ja": "うち{n}社から報告"}
_DEALS: dict[Language, str] = {
    "en": "{arr} ARR, plus {deals} in open deals",
    "ko": "ARR {arr}, 진행 중인 딜 {deals}",
    "ja": "ARR {arr}、進行中の商談 {deals}",
}
_ARR: dict[Language, str] = {"en": "{arr} ARR", "ko": "ARR {arr}", "ja": "ARR {arr}"}
_SINCE: dict[Language, str] = {"en": "{span} (since {when})", "ko": "{span} ({when}부터)", "ja": "{span}（{when}から）"}
_BY: dict[Language, str] = {"en": "{when} ({respond})", "ko": "{when}까지", "ja": "{when}まで"}


class BriefFields(BaseModel):
    """Each text at most 4000 characters, each list at most 50 items; omitted ones come from the case."""

    reported_by: str | None = None
    customers_affected: str | None = None
    workflow_impact: str | None = Field(default=None, description="What they cannot do.")
    revenue_at_risk: str | None = None
    time_in_queue: str | None = None
    sla_status: str | None = None
    description: str | None = Field(default=None, description="3-5 sentences.")
    tried: list[str] | None = Field(default=None, description="'step -> result' each.")
    repro_steps: list[str] | None = None
    expected: str | None = None
    actual: str | None = None
    environment: str | None = None
    frequency: str | None = None
    ruled_out: list[str] | None = None
    evidence: list[str] | None = Field(default=None, description="Exact error text.")
    use_case: str | None = None
    request_frequency: str | None = None
    competitive_pressure: str | None = None
    observed: str | None = None
    potentially_affected: str | None = None
    containment: str | None = None
    urgency: str | None = None
    last_customer_update: str | None = None
    customer_expectation: str | None = None
    escalation_risk: str | None = None
    needed: list[str] | None = Field(default=None, description="Specific asks: investigate, fix, decide.")
    deadline: str | None = None
    links: list[str] | None = None

    @model_validator(mode="after")
    def _bounded(self) -> BriefFields:
        for name, value in self:
            texts: list[str] = [value] if isinstance(value, str) else cast(list[str], value or [])
            if isinstance(value, list) and len(texts) > LIST_MAX:
                raise ValueError(f"{name} has {len(texts)} items; at most {LIST_MAX}")
            if any(len(t) > TEXT_MAX for t in texts):
                raise ValueError(f"{name} is longer than {TEXT_MAX} characters; shorten it")
        return self


class BriefResult(BaseModel):
    escalation_id: str
    status: EscalationStatus = Field(description="ready only when nothing is missing for its targets.")
    missing: list[str] = Field(description="draft_brief fields still needed.")
    from_case: list[str] = Field(description="Fields filled from the case.")
    notes: list[str]
    markdown: str


async def draft_brief(
    ctx: Context[AppState, Any],
    escalation_id: Annotated[
        str | None, Field(max_length=64, description="The case; fills what you leave out.")
    ] = None,
    fields: BriefFields | None = None,
    summary: Annotated[str | None, Field(min_length=3, max_length=200, description="One line.")] = None,
    targets: Annotated[list[Target] | None, Field(min_length=1, max_length=5)] = None,
    severity: Severity | None = None,
    language: Language = "en",
    customer: Annotated[str | None, Field(max_length=200)] = None,
) -> BriefResult:
    """Write the brief (en, ko, ja), check it is complete for its targets, and store it.

    The case fills what you omit: pass only what it cannot know (e.g. repro_steps, expected, actual).
    """
    state = state_of(ctx)
    stored = await load_case(state, escalation_id) if escalation_id else None
    notes: list[str] = []
    chosen_severity = severity or (stored.impact.severity if stored and stored.impact else None)
    if stored and stored.impact and severity and severity != stored.impact.severity:
        notes.append(f"severity {severity} differs from the assessment's {stored.impact.severity}")
    chosen_targets = targets or (stored.targets if stored and stored.targets else None)
    if stored and stored.routing and targets and set(targets) != {t.target for t in stored.routing.targets}:
        notes.append("targets differ from pick_tier's: " + ", ".join(t.target for t in stored.routing.targets))
    if chosen_severity is None or not chosen_targets:
        what = [w for w, v in (("severity", chosen_severity), ("targets", chosen_targets)) if not v]
        hint = "run assess_impact and pick_tier on the case first" if stored else "pass them, or an escalation_id"
        raise ToolError(f"{' and '.join(what)} unknown: {hint}")
    given = {**(stored.brief_given if stored else {}), **(fields or BriefFields()).model_dump(exclude_none=True)}
    defaults = _from_case(state, stored, language, chosen_severity, chosen_targets) if stored else {}
    from_case = sorted(k for k in defaults if k not in given)
    inputs: dict[str, Any] = {
        **defaults,
        **given,
        "summary": summary or (stored.summary if stored else None),
        "targets": list(dict.fromkeys(chosen_targets)),
        "severity": chosen_severity,
        "customer": customer or (stored.customer if stored else None),
    }
    if inputs["summary"] is None:
        raise ToolError("summary is required without an escalation_id")
    try:
        brief = BriefInput.model_validate(inputs)
    except ValidationError as exc:
        raise ToolError("brief fields invalid: " + "; ".join(str(e["msg"]) for e in exc.errors())) from None
    missing = missing_fields(brief)
    now = state.clock()
    markdown = state.renderer.render(brief, language=language, today=now.date(), missing=missing)
    status: EscalationStatus = "draft" if missing else "ready"
    saved = {
        "summary": brief.summary,
        "customer": brief.customer,
        "severity": chosen_severity,
        "targets": brief.targets,
        "status": status,
        "language": language,
        "brief_markdown": markdown,
        "missing": missing,
        "brief": brief.model_dump(mode="json"),
        "brief_given": given,
        "updated_at": now,
    }
    detail = f"brief {status} for {', '.join(brief.targets)} ({chosen_severity})" + (
        f"; missing {', '.join(missing)}" if missing else ""
    )
    if stored is None:
        owner, team = ownership()
        escalation = Escalation.model_validate(
            {"id": new_id(), "created_at": now, **saved, "owner": owner, "team": team}
        )
        await state.ledger.create(escalation, event(state, "brief_drafted", detail))
    else:
        escalation = stored.model_copy(update=saved)
        events = [event(state, "brief_drafted", detail)]
        fresh = (fields or BriefFields()).model_dump(exclude_none=True)
        events += [event(state, "fact_overridden", f"brief {k} given by the caller") for k in fresh if k in defaults]
        if stored.severity and stored.severity != chosen_severity:
            events.append(event(state, "severity_changed", f"{stored.severity} -> {chosen_severity}: brief"))
        await state.ledger.update(escalation, *events)
    return BriefResult(
        escalation_id=escalation.id,
        status=status,
        missing=missing,
        from_case=from_case,
        notes=notes,
        markdown=markdown,
    )


def _from_case(
    state: AppState, stored: Escalation, language: Language, severity: Severity, targets: list[Target]
) -> dict[str, Any]:
    """The brief fields the case can fill, written in `language`."""
    facts = stored.facts
    now = state.clock()
    out: dict[str, Any] = {}
    if facts is not None:
        if facts.accounts:
            names = [a.name for a in facts.accounts]
            shown = names if len(names) <= 8 else [*names[:8], f"+{len(names) - 8}"]
            text = _CUSTOMERS[language].format(
                n=len(names), s="s" * (len(names) != 1), names=locale_text.items(shown, language)
            )
            if facts.customers_reporting:
                text += f" ({_REPORTING[language].format(n=facts.customers_reporting)})"
            out["customers_affected"] = text
            arr = sum(a.arr or 0 for a in facts.accounts)
            if arr:
                template = _DEALS[language] if facts.pending_deals else _ARR[language]
                out["revenue_at_risk"] = template.format(
                    arr=locale_text.money(arr, language), deals=locale_text.money(facts.pending_deals or 0, language)
                )
        if facts.started_at is not None:
            out["time_in_queue"] = _SINCE[language].format(
                span=locale_text.duration(now - facts.started_at, language),
                when=locale_text.day(facts.started_at, language),
            )
        for name in ("description", "last_customer_update"):
            if getattr(facts, name):
                out[name] = getattr(facts, name)
        for name in ("tried", "evidence", "links"):
            if getattr(facts, name):
                out[name] = list(getattr(facts, name))
    if stored.flags.sla_status:
        out["sla_status"] = locale_text.SLA_STATUS[language][stored.flags.sla_status]
    if stored.impact_input and stored.impact_input.depth:
        text = _DEPTH[language][stored.impact_input.depth]
        if stored.impact_input.workaround is False:
            text += f" ({_NO_WORKAROUND[language]})"
        out["workflow_impact"] = text
    out.setdefault("needed", [DEFAULT_ASK[language][t] for t in targets])
    if "deadline" not in out:
        out["deadline"] = stored.flags.deadline or _deadline(now, severity, language)
    return out


def _deadline(now: datetime, severity: Severity, language: Language) -> str:
    due = now + RESPOND_WITHIN[severity]
    when = f"{locale_text.day(due, language)} {due:%H:%M} UTC"
    respond = {"critical": "act now", "high": "same day", "medium": "this week"}[severity]
    return _BY[language].format(when=when, respond=respond)


def rerender(state: AppState, escalation: Escalation) -> Escalation:
    """`escalation` with its stored brief rendered again at its current severity; unchanged without a brief."""
    if escalation.brief is None or escalation.severity is None:
        return escalation
    brief = BriefInput.model_validate({**escalation.brief, "severity": escalation.severity})
    if brief.severity == escalation.brief.get("severity"):
        return escalation
    markdown = state.renderer.render(
        brief, language=escalation.language, today=state.clock().date(), missing=escalation.missing
    )
    return escalation.model_copy(update={"brief": brief.model_dump(mode="json"), "brief_markdown": markdown})
