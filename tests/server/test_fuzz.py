"""Every tool, fuzzed from the input schema it advertises: valid calls succeed or fail cleanly, invalid ones are
refused in plain words, store nothing, and nothing hangs. The full run is `bench/fuzz_tools.py`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client

from server.app import build_server
from server.settings import Settings
from tests.server.fuzzing import Outcome, call, echoes, fuzz_tool, ledger_rows, open_case, violations
from tests.server.surface import NOW, TOOLS

VALID_CASES = 60
INVALID_CASES = 30


@dataclass
class Fuzzing:
    portal: BlockingPortal
    client: Client
    ledger: Path
    schemas: dict[str, dict[str, Any]]
    ids: list[str]


@pytest.fixture
def fuzzing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fuzzing]:
    """One server (demo workspace, ledger in tmp_path, clock stopped) driven from the test's thread through a
    blocking portal, so hypothesis can run synchronously against it; one real case is open and assessed."""
    for name in [n for n in os.environ if n.startswith("ESCALATION_")]:
        monkeypatch.delenv(name)
    ledger = tmp_path / "ledger.db"
    server = build_server(Settings(ledger_path=ledger), clock=lambda: NOW)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server, cache=None)) as client,
    ):
        schemas = {t.name: t.input_schema for t in portal.call(client.list_tools).tools}
        yield Fuzzing(portal, client, ledger, schemas, [portal.call(open_case, client)])


@pytest.mark.parametrize("tool", TOOLS)
def test_every_generated_call_answers_in_time_and_refuses_bad_arguments_cleanly_without_storing(
    fuzzing: Fuzzing, tool: str
) -> None:
    tally = fuzz_tool(
        fuzzing.portal,
        fuzzing.client,
        fuzzing.ledger,
        tool,
        fuzzing.schemas[tool],
        fuzzing.ids,
        (VALID_CASES, INVALID_CASES),
    )
    assert not tally.problems, "\n".join(tally.problems or [])
    # The generators must reach both sides, or the properties above held vacuously.
    assert tally.valid_ok > 0, tally
    assert tally.invalid_refused > 0, tally


def test_the_fuzzer_advertised_schemas_cover_every_tool(fuzzing: Fuzzing) -> None:
    assert sorted(fuzzing.schemas) == sorted(TOOLS)


def test_a_one_megabyte_note_is_refused_briefly_and_stores_nothing(fuzzing: Fuzzing) -> None:
    arguments = {"escalation_id": fuzzing.ids[0], "action": "update", "note": "a" * 1_000_000}
    before = ledger_rows(fuzzing.ledger)
    outcome = fuzzing.portal.call(call, fuzzing.client, "update_escalation", arguments)
    assert outcome.is_error
    assert "note" in outcome.text
    assert violations(outcome, arguments, False, before, ledger_rows(fuzzing.ledger)) == []


@pytest.mark.parametrize(
    ("message", "leak"),
    [
        ("Traceback (most recent call last):\n  boom", True),
        ("summary: ValueError raised", True),
        ("summary: Input should be a valid string [input_value=3]", True),
        ("see https://errors.pydantic.dev/2.11/v/string_type", True),
        ("summary: give one line of at most 200 characters", False),
        ("Error executing tool draft_brief: severity unknown: pass them, or an escalation_id", False),
    ],
)
def test_the_leak_check_flags_tracebacks_class_names_and_pydantic_internals(message: str, leak: bool) -> None:
    found = violations(Outcome(True, message, None, 0.0), {}, True, (0,), (0,))
    assert bool(found) is leak, found


def test_the_echo_check_flags_more_than_two_hundred_characters_of_an_input() -> None:
    long_input = "".join(chr(ord("a") + i % 26) for i in range(5000))
    assert echoes(f"bad note: {long_input[1000:1201]}!", {"note": long_input})
    assert not echoes(f"bad note: {long_input[1000:1200]}!", {"note": long_input})


@pytest.mark.parametrize("started_at", ["9999-12-31T23:59:59-14:00", "2026-11-20T17:00:00Z", "1970-01-01T00:00:00Z"])
def test_an_impossible_start_time_is_refused_before_anything_is_stored(fuzzing: Fuzzing, started_at: str) -> None:
    # Found by the fuzzer: a start in year 9999 was rated "ongoing for 0 h", one in 1970 "ongoing for 20,000 d".
    arguments = {"escalation_id": fuzzing.ids[0], "started_at": started_at}
    before = ledger_rows(fuzzing.ledger)
    outcome = fuzzing.portal.call(call, fuzzing.client, "assess_impact", arguments)
    assert outcome.is_error
    assert "started_at must be a past time since 2000" in outcome.text
    assert ledger_rows(fuzzing.ledger) == before


def test_a_start_time_in_the_past_still_rates_the_duration(fuzzing: Fuzzing) -> None:
    arguments = {"escalation_id": fuzzing.ids[0], "started_at": "2026-11-17T15:00:00+00:00"}
    outcome = fuzzing.portal.call(call, fuzzing.client, "assess_impact", arguments)
    assert not outcome.is_error, outcome.text
    (duration,) = [d for d in json.loads(outcome.text)["dimensions"] if d["dimension"] == "duration"]
    assert duration == {"dimension": "duration", "rating": "severe", "reason": "ongoing for 3 d 0 h"}


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("gather_context", {"issue": "API returning 500 errors", "limit": True}),
        ("gather_context", {"issue": "API returning 500 errors", "since_days": "5"}),
        ("assess_impact", {"customers_affected": "12"}),
        ("assess_impact", {"arr_at_risk": True}),
        ("assess_impact", {"public_exposure": "yes"}),
        ("assess_impact", {"contractual_obligation": 1}),
        ("pick_tier", {"customers_reporting": True}),
        ("schedule_followup", {"count": True}),
        ("schedule_followup", {"customer_update_hours": "24"}),
        ("assess_impact", {"flags": {"production_down": "yes"}}),
        ("pick_tier", {"flags": {"data_loss": 1}}),
    ],
)
def test_a_value_lax_parsing_would_coerce_is_refused_and_stores_nothing(
    fuzzing: Fuzzing, tool: str, arguments: dict[str, Any]
) -> None:
    # Found by the fuzzer over HTTP: `count: true` scheduled one follow-up of each kind, as if it said 1.
    arguments = {"escalation_id": fuzzing.ids[0], **arguments}
    before = ledger_rows(fuzzing.ledger)
    outcome = fuzzing.portal.call(call, fuzzing.client, tool, arguments)
    assert outcome.is_error, outcome.text
    (name,) = set(arguments) - {"escalation_id", "issue"}
    nested: Any = arguments[name]
    path = f"{name}.{next(iter(cast(dict[str, Any], nested)))}" if isinstance(nested, dict) else name
    assert f"invalid arguments for {tool}: {path}:" in outcome.text
    assert violations(outcome, arguments, False, before, ledger_rows(fuzzing.ledger)) == []


def test_a_whole_number_is_still_a_valid_amount(fuzzing: Fuzzing) -> None:
    assessed = fuzzing.portal.call(call, fuzzing.client, "assess_impact", {"arr_at_risk": 250000})
    assert not assessed.is_error, assessed.text
    assert "$250,000" in assessed.text or "250" in assessed.text
    scheduled = fuzzing.portal.call(
        call, fuzzing.client, "schedule_followup", {"escalation_id": fuzzing.ids[0], "customer_update_hours": 4}
    )
    assert not scheduled.is_error, scheduled.text
    assert "every 4 h (per SLA)" in scheduled.text
