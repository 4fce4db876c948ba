"""The six tools through the in-memory client, on both protocol versions."""

from __future__ import annotations

from typing import Any

from inline_snapshot import snapshot

from tests.server.surface import ENGINEERING_BRIEF, ENGINEERING_FIELDS, HEX_ID, TOOLS, Connect, without_ids

pytest_plugins = ["tests.server.surface"]

ISSUE = "API returning 500 errors intermittently"
HINTS = {"read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"}


async def test_the_client_speaks_the_protocol_version_named_in_the_test_id(
    connect: Connect, protocol_mode: str
) -> None:
    async with connect() as surface:
        version = surface.client.protocol_version

    assert version == {"auto": "2026-07-28", "legacy": "2025-11-25"}[protocol_mode]


# tools/list


async def test_tools_list_offers_exactly_six_tools_with_every_hint_set_explicitly(connect: Connect) -> None:
    async with connect() as surface:
        listed = (await surface.client.list_tools()).tools

    hints = {t.name: t.annotations.model_dump(include=HINTS) if t.annotations else None for t in listed}
    assert [t.name for t in listed] == list(TOOLS)
    assert hints == snapshot(
        {
            "gather_context": {
                "read_only_hint": False,
                "destructive_hint": False,
                "idempotent_hint": False,
                "open_world_hint": True,
            },
            "assess_impact": {
                "read_only_hint": False,
                "destructive_hint": True,
                "idempotent_hint": False,
                "open_world_hint": True,
            },
            "pick_tier": {
                "read_only_hint": False,
                "destructive_hint": True,
                "idempotent_hint": False,
                "open_world_hint": True,
            },
            "draft_brief": {
                "read_only_hint": False,
                "destructive_hint": True,
                "idempotent_hint": False,
                "open_world_hint": True,
            },
            "schedule_followup": {
                "read_only_hint": False,
                "destructive_hint": True,
                "idempotent_hint": False,
                "open_world_hint": True,
            },
            "list_escalations": {
                "read_only_hint": True,
                "destructive_hint": False,
                "idempotent_hint": True,
                "open_world_hint": False,
            },
            "update_escalation": {
                "read_only_hint": False,
                "destructive_hint": True,
                "idempotent_hint": False,
                "open_world_hint": False,
            },
            "draft_customer_update": {
                "read_only_hint": False,
                "destructive_hint": False,
                "idempotent_hint": False,
                "open_world_hint": False,
            },
        }
    )


async def test_every_tool_schema_lists_its_parameters_but_not_the_context(connect: Connect) -> None:
    async with connect() as surface:
        listed = (await surface.client.list_tools()).tools

    inputs = {t.name: (list(t.input_schema["properties"]), t.input_schema.get("required", [])) for t in listed}
    assert inputs == snapshot(
        {
            "gather_context": (["issue", "customer", "since_days", "limit", "cursors", "escalation_id"], ["issue"]),
            "assess_impact": (
                [
                    "escalation_id",
                    "customers",
                    "segment",
                    "flags",
                    "depth",
                    "trend",
                    "started_at",
                    "customers_affected",
                    "arr_at_risk",
                    "public_exposure",
                    "contractual_obligation",
                ],
                [],
            ),
            "pick_tier": (
                ["signals", "escalation_id", "flags", "customers_reporting", "current_tier", "customers"],
                [],
            ),
            "draft_brief": (
                ["escalation_id", "fields", "summary", "targets", "severity", "language", "customer"],
                [],
            ),
            "schedule_followup": (
                ["escalation_id", "severity", "timezone", "country", "start", "count", "customer_update_hours"],
                ["escalation_id"],
            ),
            "list_escalations": (["status", "customer", "severity", "target", "limit", "cursor"], []),
            "update_escalation": (
                ["escalation_id", "action", "note", "severity", "reason", "root_cause", "customer_visible"],
                ["escalation_id", "action", "note"],
            ),
            "draft_customer_update": (["escalation_id", "language"], ["escalation_id"]),
        }
    )


async def test_every_tool_has_an_output_schema_and_a_short_first_description_line(connect: Connect) -> None:
    async with connect() as surface:
        listed = (await surface.client.list_tools()).tools

    outputs = {t.name: list((t.output_schema or {}).get("properties", {})) for t in listed}
    long_lines = {t.name: line for t in listed if len(line := (t.description or "").splitlines()[0]) > 110}
    assert outputs == snapshot(
        {
            "gather_context": [
                "notice",
                "sources",
                "findings",
                "related",
                "account",
                "deals",
                "tickets",
                "messages",
                "issues",
                "articles",
                "escalation_id",
                "case",
                "accounts_total",
            ],
            "assess_impact": [
                "severity",
                "rule",
                "reasons",
                "respond",
                "dimensions",
                "summary",
                "missing",
                "escalation_id",
                "customers",
                "notes",
            ],
            "pick_tier": [
                "escalate",
                "decision",
                "bypasses_tiers",
                "targets",
                "criteria",
                "handle_in_support",
                "notes",
                "escalation_id",
            ],
            "draft_brief": ["escalation_id", "status", "missing", "from_case", "notes", "markdown"],
            "schedule_followup": ["escalation_id", "severity", "team_timezone", "customer_zones", "followups"],
            "list_escalations": ["escalations", "next_cursor"],
            "update_escalation": ["escalation_id", "status", "severity", "cancelled_followups", "checklist"],
            "draft_customer_update": ["escalation_id", "language", "text"],
        }
    )
    assert long_lines == {}


# gather_context


async def test_gather_context_asks_all_five_sources_and_finds_the_customer_and_their_tickets(connect: Connect) -> None:
    async with connect() as surface:
        report = await surface.call("gather_context", {"issue": ISSUE, "customer": "Acme Corp"})

    sources = [{k: s[k] for k in ("category", "adapter", "status", "trust", "found")} for s in report["sources"]]
    assert sources == snapshot(
        [
            {"category": "support", "adapter": "local", "status": "truncated", "trust": "untrusted", "found": 5},
            {"category": "crm", "adapter": "local", "status": "ok", "trust": "internal", "found": 2},
            {"category": "chat", "adapter": "local", "status": "truncated", "trust": "untrusted", "found": 5},
            {"category": "tracker", "adapter": "local", "status": "ok", "trust": "internal", "found": 2},
            {"category": "knowledge", "adapter": "local", "status": "ok", "trust": "internal", "found": 5},
        ]
    )
    assert (report["account"]["name"], report["account"]["arr"]) == ("Acme Corp", 240000.0)
    assert report["findings"] == snapshot(
        {
            "matching_tickets": ["4812", "4818"],
            "distinct_customers": ["Acme Corp"],
            "customer_tickets": ["4812", "4818"],
            "regressions": [],
            "open_issues": ["ENG-2398"],
            "workarounds": [],
        }
    )


async def test_gather_context_reports_progress_once_per_source(connect: Connect) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with connect() as surface:
        result = await surface.client.call_tool(
            "gather_context", {"issue": ISSUE, "customer": "Acme Corp"}, progress_callback=progress
        )

    assert not result.is_error
    assert [(done, total) for done, total, _ in updates] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert sorted((m or "").split(":")[0] for _, _, m in updates) == ["chat", "crm", "knowledge", "support", "tracker"]


async def test_gather_context_with_a_misspelt_customer_suggests_the_account(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail("gather_context", {"issue": ISSUE, "customer": "Acme Crop"})

    assert message == snapshot(
        "Error executing tool gather_context: No CRM account matches customer 'Acme Crop'. "
        "Did you mean: Acme Corp? Pass the account name or domain as the CRM has it, or leave customer out."
    )


async def test_gather_context_refuses_a_limit_out_of_range(connect: Connect) -> None:
    async with connect() as surface:
        too_few = await surface.fail("gather_context", {"issue": ISSUE, "limit": 0})
        too_many = await surface.fail("gather_context", {"issue": ISSUE, "limit": 51})

    assert "limit: Input should be greater than or equal to 1" in too_few
    assert "limit: Input should be less than or equal to 50" in too_many


# assess_impact


async def test_assess_impact_fills_revenue_and_reference_from_the_crm(connect: Connect) -> None:
    async with connect() as surface:
        assessment = await surface.call(
            "assess_impact", {"customers": ["Acme Corp"], "flags": {"production_down": True}}
        )

    assert (assessment["severity"], assessment["rule"]) == ("critical", "production_down")
    assert assessment["summary"] == snapshot(
        "1 customer affected; $240,000 ARR at risk plus $90,000 in pending deals; reference customer"
    )
    assert assessment["dimensions"] == snapshot(
        [
            {"dimension": "breadth", "rating": "minor", "reason": "1 customer affected"},
            {"dimension": "depth", "rating": "unknown", "reason": "blocked or inconvenienced unknown"},
            {"dimension": "duration", "rating": "unknown", "reason": "start time unknown"},
            {
                "dimension": "revenue",
                "rating": "severe",
                "reason": "$240,000 ARR at risk plus $90,000 in pending deals",
            },
            {"dimension": "reputation", "rating": "significant", "reason": "reference customer"},
            {"dimension": "contractual", "rating": "unknown", "reason": "SLA status unknown"},
        ]
    )


async def test_assess_impact_refuses_a_negative_arr_at_risk(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail("assess_impact", {"arr_at_risk": -1})

    assert message == (
        "invalid arguments for assess_impact: arr_at_risk: Input should be greater than or equal to 0. "
        "Fix them and call again."
    )


async def test_assess_impact_refuses_a_start_that_is_not_a_timestamp(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail("assess_impact", {"started_at": "yesterday"})

    assert "started_at: Input should be a valid datetime" in message
    assert "e.g. 2026-11-20T09:00:00Z" in message
    assert "yesterday" not in message


async def test_assess_impact_refuses_a_start_without_utc_offset(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail("assess_impact", {"started_at": "2026-11-20T10:00:00"})

    assert "started_at: Input should have timezone info" in message


# pick_tier


async def test_pick_tier_sends_a_security_concern_straight_to_security_even_from_l1(connect: Connect) -> None:
    async with connect() as surface:
        decision = await surface.call("pick_tier", {"flags": {"security": "concern"}, "current_tier": "l1"})

    assert (decision["escalate"], decision["bypasses_tiers"]) == (True, True)
    assert [t["target"] for t in decision["targets"]] == ["security"]


async def test_pick_tier_sends_churn_and_a_feature_gap_of_a_high_value_customer_to_product_and_leadership(
    connect: Connect,
) -> None:
    async with connect() as surface:
        decision = await surface.call(
            "pick_tier",
            {"signals": ["feature_gap"], "flags": {"churn_threat": True}, "customers": ["Umbrella Health"]},
        )

    assert decision == snapshot(
        {
            "escalate": True,
            "decision": "Escalate to product, leadership",
            "bypasses_tiers": False,
            "targets": [
                {
                    "target": "product",
                    "why": "a missing feature is causing customer pain",
                    "brief_needs": ["use_case", "workflow_impact", "request_frequency"],
                },
                {
                    "target": "leadership",
                    "why": "the customer threatens to churn",
                    "brief_needs": ["description", "revenue_at_risk", "tried", "needed", "deadline"],
                },
            ],
            "criteria": [
                {
                    "group": "business",
                    "signal": "high_value_customer_at_risk",
                    "reason": "a high-value customer is at risk",
                },
                {"group": "business", "signal": "churn_threat", "reason": "the customer threatens to churn"},
                {"group": "product", "signal": "feature_gap", "reason": "a missing feature is causing customer pain"},
            ],
            "handle_in_support": [],
            "notes": [],
            "escalation_id": None,
        }
    )


async def test_pick_tier_refuses_an_unknown_signal(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail("pick_tier", {"signals": ["customer_is_angry"]})

    assert "signals.0: Input should be 'bug_confirmed'," in message


# draft_brief


async def test_draft_brief_with_everything_engineering_needs_is_ready(connect: Connect) -> None:
    async with connect() as surface:
        brief = await surface.call("draft_brief", ENGINEERING_BRIEF)

    assert HEX_ID.match(brief["escalation_id"])
    assert (brief["status"], brief["missing"]) == ("ready", [])
    assert "DRAFT" not in brief["markdown"]
    assert brief["markdown"].startswith("## ESCALATION: Intermittent HTTP 500 on POST /v2/orders\n")


async def test_draft_brief_lacking_fields_is_stored_as_a_draft_listing_them(connect: Connect) -> None:
    fields = {k: v for k, v in ENGINEERING_FIELDS.items() if k not in ("repro_steps", "deadline")}
    incomplete = {**ENGINEERING_BRIEF, "fields": fields}

    async with connect() as surface:
        brief = await surface.call("draft_brief", incomplete)
        stored = await surface.escalation(brief["escalation_id"])

    assert (brief["status"], brief["missing"]) == ("draft", ["deadline", "repro_steps"])
    assert (stored["status"], stored["missing"]) == (brief["status"], brief["missing"])
    assert brief["markdown"].startswith(
        "> **DRAFT: not ready to send.** Missing: deadline (deadline) and repro_steps (reproduction steps)."
    )


async def test_draft_brief_renders_korean_and_japanese_headings(connect: Connect) -> None:
    async with connect() as surface:
        korean = await surface.call("draft_brief", {**ENGINEERING_BRIEF, "language": "ko"})
        japanese = await surface.call("draft_brief", {**ENGINEERING_BRIEF, "language": "ja"})

    def headings(markdown: str) -> list[str]:
        return [line for line in markdown.splitlines() if line.startswith("#")]

    assert headings(korean["markdown"]) == snapshot(
        [
            "## 에스컬레이션: Intermittent HTTP 500 on POST /v2/orders",
            "### 영향 범위",
            "### 이슈 내용",
            "### 지금까지 조치한 내용",
            "### 재현 절차",
            "### 로그 및 오류 메시지",
            "### 고객 소통 현황",
            "### 요청 사항",
            "### 관련 링크",
        ]
    )
    assert headings(japanese["markdown"]) == snapshot(
        [
            "## エスカレーション: Intermittent HTTP 500 on POST /v2/orders",
            "### 影響",
            "### 事象",
            "### これまでの対応",
            "### 再現手順",
            "### ログ・エラーメッセージ",
            "### 顧客対応状況",
            "### 依頼事項",
            "### 関連リンク",
        ]
    )


async def test_draft_brief_in_an_unknown_language_fails_and_stores_nothing(connect: Connect) -> None:
    async with connect() as surface:
        existing = await surface.new_escalation()
        before = await surface.escalation(existing)
        revision = await surface.fail("draft_brief", {**ENGINEERING_BRIEF, "language": "fr", "escalation_id": existing})
        creation = await surface.fail("draft_brief", {**ENGINEERING_BRIEF, "language": "fr"})
        after = await surface.escalation(existing)

    assert "language: Input should be 'en', 'ko' or 'ja'" in revision
    assert "language: Input should be 'en', 'ko' or 'ja'" in creation
    assert after == before
    assert surface.escalation_rows() == 1


async def test_revising_a_brief_keeps_its_id_and_records_the_severity_change(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        revised = await surface.call(
            "draft_brief", {**ENGINEERING_BRIEF, "severity": "critical", "escalation_id": escalation_id}
        )
        stored = await surface.escalation(escalation_id)

    assert revised["escalation_id"] == escalation_id
    assert stored["severity"] == "critical"
    assert [(e["kind"], e["detail"]) for e in stored["timeline"]] == snapshot(
        [
            ("brief_drafted", "brief ready for engineering (high)"),
            ("brief_drafted", "brief ready for engineering (critical)"),
            ("fact_overridden", "brief needed given by the caller"),
            ("fact_overridden", "brief deadline given by the caller"),
            ("severity_changed", "high -> critical: brief"),
        ]
    )
    assert surface.escalation_rows() == 1


async def test_draft_brief_refuses_to_revise_an_unknown_escalation(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail("draft_brief", {**ENGINEERING_BRIEF, "escalation_id": "0" * 32})

    assert message == snapshot(
        "Error executing tool draft_brief: no escalation with id 00000000000000000000000000000000; "
        "use the escalation_id gather_context returned"
    )
    assert surface.escalation_rows() == 0


# schedule_followup

THANKSGIVING_EVE = "2026-11-25T20:00:00Z"  # Wednesday 15:00 in New York


async def test_medium_customer_followups_skip_thanksgiving_in_the_customers_zone(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="medium")
        schedule = await surface.call("schedule_followup", {"escalation_id": escalation_id, "start": THANKSGIVING_EVE})

    customer = [(f["due_at"], f["latest_at"]) for f in schedule["followups"] if f["kind"] == "customer"]
    assert schedule["severity"] == "medium"
    assert schedule["customer_zones"] == [{"timezone": "America/New_York", "country": "US", "customers": ["Acme Corp"]}]
    assert customer[0] == ("2026-11-27T15:00:00-05:00", "2026-11-30T15:00:00-05:00")


async def test_critical_internal_followups_come_every_two_hours(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="critical")
        schedule = await surface.call("schedule_followup", {"escalation_id": escalation_id, "start": THANKSGIVING_EVE})

    internal = [(f["due_at"], f["cadence"]) for f in schedule["followups"] if f["kind"] == "internal"]
    assert internal == snapshot(
        [
            ("2026-11-25T22:00:00Z", "every 2 h"),
            ("2026-11-26T00:00:00Z", "every 2 h"),
            ("2026-11-26T02:00:00Z", "every 2 h"),
        ]
    )


async def test_schedule_followup_errors_say_what_to_fix_and_leave_followups_unchanged(connect: Connect) -> None:
    bad: list[dict[str, Any]] = [{"timezone": "Mars/Olympus"}, {"country": "XX"}, {"start": "next tuesday"}]

    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="medium")
        await surface.call("schedule_followup", {"escalation_id": escalation_id, "start": THANKSGIVING_EVE})
        before = await surface.escalation(escalation_id)
        messages = [await surface.fail("schedule_followup", {"escalation_id": escalation_id, **b}) for b in bad]
        after = await surface.escalation(escalation_id)

    assert messages[:2] == snapshot(
        [
            "Error executing tool schedule_followup: unknown time zone 'Mars/Olympus': "
            "use an IANA name such as 'America/New_York' or 'Asia/Seoul'",
            "Error executing tool schedule_followup: no public-holiday calendar for country 'XX': "
            "use an ISO 3166 alpha-2 code such as 'US', 'DE', 'KR' or 'JP'",
        ]
    )
    assert "start: Input should be a valid datetime" in messages[2]
    assert after == before


# update_escalation


async def test_an_update_appends_to_the_timeline(connect: Connect) -> None:
    note = "Engineering traced it to a connection pool limit"

    async with connect() as surface:
        escalation_id = await surface.new_escalation()
        result = await surface.call(
            "update_escalation", {"escalation_id": escalation_id, "action": "update", "note": note}
        )
        stored = await surface.escalation(escalation_id)

    assert without_ids(result) == snapshot(
        {"escalation_id": "<id>", "status": "ready", "severity": "high", "cancelled_followups": 0, "checklist": []}
    )
    assert stored["timeline"][-1] == snapshot(
        {"at": "2026-11-20T15:00:00Z", "kind": "update", "detail": "Engineering traced it to a connection pool limit"}
    )


async def test_resolving_cancels_pending_followups_and_returns_the_close_the_loop_checklist(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        await surface.call("schedule_followup", {"escalation_id": escalation_id, "count": 2})
        result = await surface.call(
            "update_escalation",
            {
                "escalation_id": escalation_id,
                "action": "resolve",
                "note": "Pool limit raised in 4.18.2",
                "root_cause": "orders-svc pool too small after r1184",
            },
        )
        stored = await surface.escalation(escalation_id)

    assert (result["status"], result["cancelled_followups"]) == ("resolved", 4)
    assert [c["item"] for c in result["checklist"]] == [
        "notify_team",
        "update_ticket",
        "confirm_customer",
        "document_lesson",
    ]
    assert (stored["status"], [f["state"] for f in stored["followups"]]) == ("resolved", ["cancelled"] * 4)
    assert [e["kind"] for e in stored["timeline"][-2:]] == ["resolved", "followups_scheduled"]
    assert "Root cause: orders-svc pool too small" in stored["timeline"][-2]["detail"]


async def test_a_severity_change_re_renders_the_brief_and_restarts_the_cadence(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        await surface.call("schedule_followup", {"escalation_id": escalation_id, "count": 1})
        await surface.call(
            "update_escalation",
            {"escalation_id": escalation_id, "action": "severity", "severity": "critical", "note": "Now all regions"},
        )
        stored = await surface.escalation(escalation_id)

    assert stored["severity"] == "critical"
    assert "**Severity:** Critical" in stored["brief_markdown"]
    pending = [f for f in stored["followups"] if f["state"] == "pending"]
    assert {f["cadence"] for f in pending if f["kind"] == "internal"} == {"every 2 h"}
    assert any(e["kind"] == "severity_changed" and "Now all regions" in e["detail"] for e in stored["timeline"])


async def test_de_escalating_needs_one_of_the_four_reasons(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation()
        message = await surface.fail(
            "update_escalation", {"escalation_id": escalation_id, "action": "de_escalate", "note": "not needed"}
        )
        done = await surface.call(
            "update_escalation",
            {"escalation_id": escalation_id, "action": "de_escalate", "reason": "workaround", "note": "CSV via API"},
        )

    assert "support_resolvable, workaround, resolved_itself, severity_lowered" in message
    assert done["status"] == "de_escalated"


async def test_update_escalation_refuses_an_unknown_escalation(connect: Connect) -> None:
    async with connect() as surface:
        message = await surface.fail(
            "update_escalation", {"escalation_id": "nope", "action": "update", "note": "anything"}
        )

    assert message == snapshot(
        "Error executing tool update_escalation: escalation_id must be the 32-character id a previous tool returned"
    )


# list_escalations and the customer update


async def test_list_escalations_shows_open_work_with_the_overdue_first(connect: Connect) -> None:
    async with connect() as surface:
        first = await surface.new_escalation(severity="high")
        second = await surface.new_escalation(severity="critical")
        await surface.call("schedule_followup", {"escalation_id": first, "start": "2026-11-19T09:00:00Z"})
        await surface.call("schedule_followup", {"escalation_id": second})
        listed = await surface.call("list_escalations", {})
        only_critical = await surface.call("list_escalations", {"severity": "critical"})

    assert [e["id"] for e in listed["escalations"]] == [first, second]
    assert listed["escalations"][0]["overdue"] is True
    assert [e["id"] for e in only_critical["escalations"]] == [second]


async def test_the_customer_update_says_when_they_hear_next_and_nothing_internal(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        await surface.call("schedule_followup", {"escalation_id": escalation_id})
        update = await surface.call("draft_customer_update", {"escalation_id": escalation_id})
        stored = await surface.escalation(escalation_id)

    assert update["language"] == "en"
    assert "$" not in update["text"]
    assert "High" not in update["text"]
    assert stored["timeline"][-1]["kind"] == "customer_update_drafted"


async def test_the_follow_ups_read_as_an_ics_calendar(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        await surface.call("schedule_followup", {"escalation_id": escalation_id, "count": 1})
        ics = await surface.read(f"escalation://escalations/{escalation_id}/calendar.ics")

    assert ics.startswith("BEGIN:VCALENDAR")
    assert ics.count("BEGIN:VEVENT") == 2


async def test_a_resolved_escalation_gets_no_new_followups(connect: Connect) -> None:
    async with connect() as surface:
        escalation_id = await surface.new_escalation(severity="high")
        await surface.call(
            "update_escalation", {"escalation_id": escalation_id, "action": "resolve", "note": "Fixed in 4.18.2"}
        )
        message = await surface.fail("schedule_followup", {"escalation_id": escalation_id})
        stored = await surface.escalation(escalation_id)

    assert (
        message
        == f"Error executing tool schedule_followup: escalation {escalation_id} is resolved: its follow-ups have ended"
    )
    assert stored["followups"] == []


async def test_internal_followups_run_in_the_team_time_zone_and_customer_ones_in_each_customers(
    connect: Connect,
) -> None:
    async with connect() as surface:
        gathered = await surface.call("gather_context", {"issue": "Data export is missing rows"})
        case_id = gathered["escalation_id"]
        await surface.call("assess_impact", {"escalation_id": case_id, "depth": "degraded"})
        schedule = await surface.call("schedule_followup", {"escalation_id": case_id, "count": 1})

    zones = {z["timezone"]: z["customers"] for z in schedule["customer_zones"]}
    assert schedule["team_timezone"] == "UTC"
    assert set(zones) >= {"Europe/Berlin", "America/Chicago", "Australia/Sydney"}
    customer = {f["customer"]: f["due_at"] for f in schedule["followups"] if f["kind"] == "customer"}
    assert customer["Globex"].endswith("+01:00")  # Berlin in November
    assert customer["Wayne Retail"].endswith("+11:00")  # Sydney in summer time
    assert [f["customer"] for f in schedule["followups"] if f["kind"] == "internal"] == [None]
