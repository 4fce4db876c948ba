"""Step 6: the escalation brief, rendered from the language's template and checked for completeness.

A brief is complete when it carries what every one of its targets cannot act without
(see `routing.BRIEF_NEEDS`) plus what every brief needs: a description, who is
affected, the ask and a deadline. An incomplete brief renders with a DRAFT banner.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import Field

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
    """`field (what it is)` for each field the brief's targets need and it lacks."""
    needs: dict[str, str] = dict(COMMON_NEEDS)
    for target in brief.targets:
        needs.update(BRIEF_NEEDS[target])
    missing: list[str] = []
    for field, label in needs.items():
        value: Any = getattr(brief, field)
        if value is None or (isinstance(value, str | list) and not value):
            missing.append(f"{field} ({label})")
    return missing


class BriefRenderer:
    """One jinja2 environment over the packaged templates; safe to share.

    Built on first use: importing jinja2 is a tenth of the server's cold start, and a session
    that drafts no brief never pays it.
    """

    @cached_property
    def _env(self) -> Environment:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        return Environment(
            loader=PackageLoader("prompts", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # markdown, not HTML
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

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
        template = self._env.get_template(f"brief.{language}.md.j2")
        return template.render(b=brief, today=today.isoformat(), missing=missing)
