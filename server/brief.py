"""Step 6: the escalation brief, rendered from the language's template and checked for completeness.

A brief is complete when it carries what every one of its targets cannot act without
(see `routing.BRIEF_NEEDS`) plus what every brief needs: a description, who is
affected, the ask and a deadline. An incomplete brief renders with a DRAFT banner.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import Field

from server import locale_text
from server.models import Frozen, Language, Severity, Target
from server.routing import BRIEF_NEEDS

if TYPE_CHECKING:
    from jinja2 import Environment

COMMON_NEEDS: dict[str, str] = {
    "description": "issue description",
    "customers_affected": "customers affected",
    "needed": "the specific ask",
    "deadline": "deadline",
}


class BriefInput(Frozen):
    summary: str = Field(min_length=3, max_length=200)
    targets: list[Target] = Field(min_length=1)
    severity: Severity
    customer: str | None = None
    reported_by: str | None = None
    customers_affected: str | None = None
    workflow_impact: str | None = None
    revenue_at_risk: str | None = None
    time_in_queue: str | None = None
    sla_status: str | None = None
    description: str | None = None
    tried: list[str] = Field(default_factory=list[str])
    repro_steps: list[str] = Field(default_factory=list[str])
    expected: str | None = None
    actual: str | None = None
    environment: str | None = None
    frequency: str | None = None
    ruled_out: list[str] = Field(default_factory=list[str])
    evidence: list[str] = Field(default_factory=list[str])
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
    needed: list[str] = Field(default_factory=list[str])
    deadline: str | None = None
    links: list[str] = Field(default_factory=list[str])


def missing_fields(brief: BriefInput) -> list[str]:
    """The draft_brief fields the brief's targets need and it lacks."""
    needs: dict[str, str] = dict(COMMON_NEEDS)
    for target in brief.targets:
        needs.update(BRIEF_NEEDS[target])
    missing: list[str] = []
    for field in needs:
        value: Any = getattr(brief, field)
        if value is None or (isinstance(value, str | list) and not value):
            missing.append(field)
    return missing


# What each field is, in each brief language, for the DRAFT banner.
FIELD_LABELS: dict[Language, dict[str, str]] = {
    "en": {
        **COMMON_NEEDS,
        **{field: label for needs in BRIEF_NEEDS.values() for field, label in needs.items()},
        "description": "issue description",
    },
    "ko": {
        "description": "이슈 내용",
        "customers_affected": "영향 고객",
        "needed": "요청 사항",
        "deadline": "기한",
        "tried": "지금까지 조치한 내용",
        "repro_steps": "재현 절차",
        "expected": "기대 결과",
        "actual": "실제 결과",
        "environment": "환경",
        "evidence": "로그 및 오류 메시지",
        "workflow_impact": "업무 영향",
        "time_in_queue": "경과 시간",
        "use_case": "사용 사례",
        "request_frequency": "요청 빈도",
        "observed": "확인된 현상",
        "potentially_affected": "영향 가능 범위",
        "containment": "차단 조치",
        "urgency": "긴급도",
        "revenue_at_risk": "매출 리스크",
    },
    "ja": {
        "description": "事象",
        "customers_affected": "影響を受けている顧客",
        "needed": "依頼事項",
        "deadline": "期限",
        "tried": "これまでの対応",
        "repro_steps": "再現手順",
        "expected": "期待される結果",
        "actual": "実際の結果",
        "environment": "環境",
        "evidence": "ログ・エラーメッセージ",
        "workflow_impact": "業務への影響",
        "time_in_queue": "発生からの経過時間",
        "use_case": "ユースケース",
        "request_frequency": "要望の頻度",
        "observed": "確認された事象",
        "potentially_affected": "影響が及ぶ可能性のある範囲",
        "containment": "封じ込め",
        "urgency": "緊急度",
        "revenue_at_risk": "売上への影響",
    },
}


def _lookup(key: str, mapping: dict[str, str]) -> str:
    return mapping[key]


def fenced(text: str) -> str:
    """`text` as a fenced code block whose fence no line of it can close."""
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}text\n{text}\n{fence}"


class BriefRenderer:
    """One jinja2 environment over the packaged templates; safe to share.

    Built on first use: importing jinja2 is a tenth of the server's cold start, and a session
    that drafts no brief never pays it.
    """

    @cached_property
    def _env(self) -> Environment:
        from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
        from jinja2.runtime import Context

        @pass_context
        def items(context: Context, values: list[str]) -> str:
            return locale_text.items(list(values), context["language"])

        env = Environment(
            loader=PackageLoader("prompts", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # markdown, not HTML
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        filters: dict[str, Any] = env.filters  # pyright: ignore[reportAssignmentType]  # jinja2 types it narrowly
        filters.update(fenced=fenced, items=items, lookup=_lookup)
        return env

    def template_names(self) -> list[str]:
        return sorted(self._env.list_templates())

    def source(self, name: str) -> str:
        """The raw text of one template; KeyError when there is no such template."""
        if name not in self.template_names():
            raise KeyError(name)
        loader = self._env.loader
        assert loader is not None
        return loader.get_source(self._env, name)[0]

    def render(self, brief: BriefInput, *, language: Language, today: date, missing: list[str]) -> str:
        """The brief in `language`; `missing` (field names) becomes the DRAFT banner, in that language."""
        template = self._env.get_template(f"brief.{language}.md.j2")
        labels = FIELD_LABELS[language]
        pattern = {"en": "{field} ({label})", "ko": "{label}({field})", "ja": "{label}（{field}）"}[language]
        shown = [pattern.format(field=f, label=labels.get(f, f)) for f in missing]
        return template.render(b=brief, today=locale_text.day(today, language), missing=shown, language=language)
