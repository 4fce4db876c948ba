"""`escalation-mcp doctor`: one row per category, and a non-zero exit when a configured one is broken."""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import httpx
import pytest
from typer.testing import CliRunner

from server.commands import cli
from server.doctor import diagnose
from server.settings import Settings
from tests.connectors.fakes.zendesk import EMAIL, FakeZendesk
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ESCALATION_") and name != "ESCALATION_LEDGER_PATH":
            monkeypatch.delenv(name)


def doctor(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("[") else result.output


def test_the_embedded_workspace_is_healthy_in_every_category():
    code, rows = doctor()

    assert code == 0
    assert [(r["category"], r["product"], r["verdict"]) for r in rows] == [
        ("support", "local", "ok"),
        ("crm", "local", "ok"),
        ("chat", "local", "ok"),
        ("tracker", "local", "ok"),
        ("knowledge", "local", "ok"),
    ]


def test_a_category_set_to_none_is_reported_but_is_not_broken(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_CHAT", "none")

    code, rows = doctor()

    assert code == 0
    assert rows[2] == {
        "category": "chat",
        "product": "none",
        "verdict": "not_connected",
        "detail": "not connected",
        "headroom": None,
        "elapsed_ms": None,
    }


def test_a_product_missing_its_variables_is_broken_and_the_row_names_them(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_KNOWLEDGE", "notion")

    result = CliRunner().invoke(cli, ["doctor", "--json"])
    rows = json.loads(result.stdout)

    assert result.exit_code == 2, "a configuration the server would refuse to start with is exit 2, as at start-up"
    assert rows[4]["verdict"] == "broken"
    assert "ESCALATION_NOTION_TOKEN is not set" in rows[4]["detail"]
    assert [r["verdict"] for r in rows[:4]] == ["ok"] * 4
    assert result.stderr.splitlines() == [
        "error: ESCALATION_KNOWLEDGE=notion needs: ESCALATION_NOTION_TOKEN is not set (see CONNECTORS.md)"
    ]


def test_a_malformed_workspace_breaks_the_local_rows_and_the_others_are_still_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
):
    workspace = tmp_path / "workspace.json"
    workspace.write_text('{"accounts": [{"name": "Acme"}]}', "utf-8")
    monkeypatch.setenv("ESCALATION_WORKSPACE_PATH", str(workspace))
    monkeypatch.setenv("ESCALATION_CHAT", "none")

    result = CliRunner().invoke(cli, ["doctor", "--json"])
    rows = json.loads(result.stdout)

    assert result.exit_code == 2
    assert [(r["category"], r["verdict"]) for r in rows] == [
        ("support", "broken"),
        ("crm", "broken"),
        ("chat", "not_connected"),
        ("tracker", "broken"),
        ("knowledge", "broken"),
    ]
    assert rows[0]["detail"].startswith("configuration: ESCALATION_WORKSPACE_PATH: ")
    assert "accounts[0] is not valid (id: Field required)" in rows[0]["detail"]
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ESCALATION_WORKSPACE_PATH: ")


def test_the_table_is_printed_for_people():
    result = CliRunner().invoke(cli, ["doctor"])

    assert result.exit_code == 0
    assert "escalation-mcp doctor" in result.output
    assert "embedded workspace" in result.output


def zendesk_settings(monkeypatch: pytest.MonkeyPatch, **extra: str) -> Settings:
    monkeypatch.setenv("ESCALATION_ZENDESK_SUBDOMAIN", "acme")
    monkeypatch.setenv("ESCALATION_ZENDESK_EMAIL", EMAIL)
    monkeypatch.setenv("ESCALATION_ZENDESK_TOKEN", TOKEN)
    return Settings(support="zendesk", **extra)  # pyright: ignore[reportArgumentType]


async def test_a_vendor_that_accepts_its_token_is_ok_and_says_as_whom(monkeypatch: pytest.MonkeyPatch):
    fake = FakeZendesk(SCENARIO.shifted_to(ANCHOR))

    [support, *_] = await diagnose(zendesk_settings(monkeypatch), now=ANCHOR, transport=fake.transport())

    assert support.verdict == "ok"
    assert support.product == "zendesk"
    assert support.detail.startswith("authenticated as ")


async def test_a_vendor_that_rejects_its_token_is_broken_and_the_token_is_not_shown(monkeypatch: pytest.MonkeyPatch):
    fake = FakeZendesk(SCENARIO.shifted_to(ANCHOR), token="another-token")

    [support, *_] = await diagnose(zendesk_settings(monkeypatch), now=ANCHOR, transport=fake.transport())

    assert support.verdict == "broken"
    assert "credentials refused" in support.detail
    assert "ESCALATION_ZENDESK_TOKEN" in support.detail
    assert TOKEN not in support.model_dump_json()


async def test_a_vendor_that_never_answers_is_broken_within_the_source_timeout(monkeypatch: pytest.MonkeyPatch):
    async def hang(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(60)
        raise AssertionError("unreachable")

    started = anyio.current_time()
    [support, *_] = await diagnose(
        zendesk_settings(monkeypatch, source_timeout="0.3"), now=ANCHOR, transport=httpx.MockTransport(hang)
    )

    assert support.verdict == "broken"
    assert "no answer within" in support.detail
    assert anyio.current_time() - started < 5
