"""Step 6: the brief's completeness check per target, and its rendering in each language."""

from __future__ import annotations

from datetime import date

import pytest
from inline_snapshot import snapshot

from server.brief import COMMON_NEEDS, FIELD_LABELS, BriefInput, BriefRenderer, missing_fields
from server.models import Language, Target
from server.routing import BRIEF_NEEDS
from server.tools.brief import BriefFields

TODAY = date(2026, 11, 20)
RENDERER = BriefRenderer()

COMMON = ["description", "customers_affected", "needed", "deadline"]


def engineering_brief() -> BriefInput:
    return BriefInput(
        summary="Intermittent HTTP 500 on POST /v2/orders for Acme Corp",
        targets=["engineering"],
        severity="high",
        customer="Acme Corp",
        reported_by="Priya Natarajan (L2)",
        customers_affected="1 enterprise customer (Acme Corp), nightly order sync",
        workflow_impact="Order sync blocked: 74 orders a night fail after retries",
        revenue_at_risk="$240,000 ARR plus a $90,000 expansion deal",
        time_in_queue="2 days",
        sla_status="at risk",
        description="About 1 in 20 POST /v2/orders calls return 500 since the orders-svc r1184 rollout.",
        tried=["Retried with the same Idempotency-Key: no duplicates, still failing", "Tried sandbox: no repro"],
        repro_steps=["POST /v2/orders with a valid body 100 times", "Count the 500 responses"],
        expected="Every call returns 201",
        actual="About 5 calls return 500 internal_error",
        environment="Production, enterprise workspace acme-prod",
        frequency="Intermittent, about 5%",
        ruled_out=["Sandbox: not reproducible"],
        evidence=["upstream connect error or disconnect/reset before headers"],
        last_customer_update="2026-11-19: acknowledged, investigating",
        customer_expectation="An ETA by Monday",
        escalation_risk="Exec escalation if no ETA by Monday",
        needed=["Investigate root cause", "Prioritize the fix"],
        deadline="2026-11-23",
        links=["ENG-2398", "ticket 4812"],
    )


@pytest.mark.parametrize("target", ["l2_support", "engineering", "product", "security", "leadership"])
def test_an_empty_brief_misses_the_common_needs_and_everything_its_target_needs(target: Target):
    brief = BriefInput(summary="Something broke", targets=[target], severity="medium")

    needs = {**COMMON_NEEDS, **BRIEF_NEEDS[target]}
    assert missing_fields(brief) == list(needs)


def test_an_empty_engineering_brief_lists_each_missing_field_by_its_draft_brief_name():
    brief = BriefInput(summary="Orders fail", targets=["engineering"], severity="high")

    assert missing_fields(brief) == [
        *COMMON,
        "repro_steps",
        "expected",
        "actual",
        "environment",
        "evidence",
        "workflow_impact",
        "time_in_queue",
    ]


def test_several_targets_need_the_union_of_their_fields_each_listed_once():
    brief = BriefInput(summary="Audit log missing", targets=["product", "leadership"], severity="high")

    missing = missing_fields(brief)

    assert len(missing) == len(set(missing))
    assert missing == [
        *COMMON,
        "use_case",
        "workflow_impact",
        "request_frequency",
        "revenue_at_risk",
        "tried",
    ]


def test_empty_strings_and_empty_lists_count_as_missing():
    brief = engineering_brief().model_copy(update={"environment": "", "evidence": []})

    assert missing_fields(brief) == ["environment", "evidence"]


def test_a_complete_brief_renders_without_a_draft_banner():
    brief = engineering_brief()

    assert missing_fields(brief) == []
    text = RENDERER.render(brief, language="en", today=TODAY, missing=[])
    assert "DRAFT" not in text
    assert text.startswith("## ESCALATION: Intermittent HTTP 500 on POST /v2/orders for Acme Corp\n")


def test_an_incomplete_brief_renders_a_draft_banner_listing_what_is_missing():
    brief = engineering_brief().model_copy(update={"repro_steps": [], "deadline": None})

    text = RENDERER.render(brief, language="en", today=TODAY, missing=missing_fields(brief))

    assert text.splitlines()[0] == (
        "> **DRAFT: not ready to send.** Missing: deadline (deadline) and repro_steps (reproduction steps)."
    )


def test_the_english_brief_follows_the_playbook_layout():
    assert RENDERER.render(engineering_brief(), language="en", today=TODAY, missing=[]) == snapshot("""\
## ESCALATION: Intermittent HTTP 500 on POST /v2/orders for Acme Corp

**Severity:** High  \n\
**Target team:** Engineering  \n\
**Reported by:** Priya Natarajan (L2)  \n\
**Date:** November 20, 2026  \n\
**Customer:** Acme Corp

### Impact
- **Customers affected:** 1 enterprise customer (Acme Corp), nightly order sync
- **Workflow impact:** Order sync blocked: 74 orders a night fail after retries
- **Revenue at risk:** $240,000 ARR plus a $90,000 expansion deal
- **Time in queue:** 2 days
- **SLA status:** at risk

### Issue Description
About 1 in 20 POST /v2/orders calls return 500 since the orders-svc r1184 rollout.

### What's Been Tried
1. Retried with the same Idempotency-Key: no duplicates, still failing
2. Tried sandbox: no repro

### Reproduction Steps
1. POST /v2/orders with a valid body 100 times
2. Count the 500 responses

**Expected:** Every call returns 201  \n\
**Actual:** About 5 calls return 500 internal_error  \n\
**Environment:** Production, enterprise workspace acme-prod  \n\
**Frequency:** Intermittent, about 5%  \n\
**Ruled out:** Sandbox: not reproducible

### Evidence
```text
upstream connect error or disconnect/reset before headers
```

### Customer Communication
- **Last update to customer:** 2026-11-19: acknowledged, investigating
- **Customer expectation:** An ETA by Monday
- **Escalation risk:** Exec escalation if no ETA by Monday

### What's Needed
- Investigate root cause
- Prioritize the fix
- **Deadline:** 2026-11-23

### Supporting Context
- ENG-2398
- ticket 4812
""")


def test_a_security_brief_renders_its_assessment_section():
    brief = BriefInput(
        summary="API key visible in a public repository",
        targets=["security"],
        severity="critical",
        observed="Key rk_live_… committed to a public GitHub repo",
        potentially_affected="Globex workspace",
        containment="Key revoked",
        urgency="Immediate",
    )

    text = RENDERER.render(brief, language="en", today=TODAY, missing=missing_fields(brief))

    assert "### Security Assessment\n- **Observed:** Key rk_live_… committed to a public GitHub repo\n" in text
    assert "**Target team:** Security" in text


@pytest.mark.parametrize(
    ("language", "headings"),
    [
        (
            "ko",
            [
                "## 에스컬레이션:",
                "**심각도:** 높음",
                "**작성일:** 2026년 11월 20일",
                "### 영향 범위",
                "### 재현 절차",
                "### 요청 사항",
                "### 관련 링크",
            ],
        ),
        (
            "ja",
            [
                "## エスカレーション:",
                "**重要度:** 高",
                "**起票日:** 2026年11月20日",
                "### 影響",
                "### 再現手順",
                "### 依頼事項",
                "### 関連リンク",
            ],
        ),
    ],
)
def test_korean_and_japanese_briefs_translate_the_headings(language: Language, headings: list[str]):
    text = RENDERER.render(engineering_brief(), language=language, today=TODAY, missing=[])

    for heading in headings:
        assert heading in text
    assert "## ESCALATION" not in text
    assert "Intermittent HTTP 500 on POST /v2/orders for Acme Corp" in text


@pytest.mark.parametrize(
    ("language", "banner"),
    [
        ("ko", "> **초안: 아직 전달할 수 없습니다.** 빠진 항목: 기한(deadline) 및 재현 절차(repro_steps)"),
        ("ja", "> **下書き（未完成のため送付不可）** 未記入の項目: 期限（deadline）、再現手順（repro_steps）"),
    ],
)
def test_korean_and_japanese_drafts_name_what_is_missing_in_their_own_language(language: Language, banner: str):
    brief = BriefInput(summary="Something broke", targets=["engineering"], severity="medium")

    text = RENDERER.render(brief, language=language, today=TODAY, missing=["deadline", "repro_steps"])

    assert text.splitlines()[0] == banner


def test_error_text_reaches_the_brief_whole_in_a_code_block():
    body = '{"error":{"type":"internal_error","message":"An unexpected error occurred","request_id":"req_8c1f"}}'
    trace = 'Traceback (most recent call last):\n  File "sync.py", line 12, in push\nValueError: bad ```fence```'
    brief = engineering_brief().model_copy(update={"evidence": [body, trace]})

    text = RENDERER.render(brief, language="en", today=TODAY, missing=[])

    assert f"```text\n{body}\n```" in text
    assert f"````text\n{trace}\n````" in text


def test_every_language_has_a_template():
    assert RENDERER.template_names() == ["brief.en.md.j2", "brief.ja.md.j2", "brief.ko.md.j2"]


def test_source_returns_the_raw_template_text():
    source = RENDERER.source("brief.en.md.j2")

    assert "## ESCALATION: {{ b.summary }}" in source


def test_source_of_an_unknown_template_is_a_key_error():
    with pytest.raises(KeyError):
        RENDERER.source("brief.fr.md.j2")


def test_the_tool_takes_every_brief_field_the_renderer_knows_and_no_other() -> None:
    # The tool's argument model and the domain's brief are written out separately (their defaults and
    # descriptions differ); a field added to one and not the other would be silently dropped.
    header = {"summary", "targets", "severity", "customer"}

    assert set(BriefFields.model_fields) == set(BriefInput.model_fields) - header
    assert set(FIELD_LABELS["en"]) <= set(BriefInput.model_fields)
