"""`escalation-mcp doctor`: one row per category, and a non-zero exit when a configured one is broken."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from typer.testing import CliRunner

from server.commands import cli


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("ESCALATION_") and name != "ESCALATION_LEDGER_PATH":
            monkeypatch.delenv(name)


def doctor(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    return result.exit_code, json.loads(result.output) if result.output.startswith("[") else result.output


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

    code, rows = doctor()

    assert code == 1
    assert rows[4]["verdict"] == "broken"
    assert "ESCALATION_NOTION_TOKEN is not set" in rows[4]["detail"]
    assert [r["verdict"] for r in rows[:4]] == ["ok"] * 4


def test_the_table_is_printed_for_people():
    result = CliRunner().invoke(cli, ["doctor"])

    assert result.exit_code == 0
    assert "escalation-mcp doctor" in result.output
    assert "embedded workspace" in result.output
