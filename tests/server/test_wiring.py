"""Choosing products per category: the settings, the registry and the startup checks agree."""

from __future__ import annotations

import importlib
import typing
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from connectors import CATEGORIES
from connectors.products import PRODUCTS, ConfigError, VendorSettings
from server.commands import cli
from server.settings import Settings
from server.wiring import open_connectors, vendor_products

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No vendor variable from the machine running the tests may leak into them."""
    import os

    for name in list(os.environ):
        if name.startswith("ESCALATION_") and name != "ESCALATION_LEDGER_PATH":
            monkeypatch.delenv(name)


def test_every_product_a_setting_accepts_is_registered_and_every_registered_one_is_accepted():
    hints = typing.get_type_hints(Settings)
    accepted = {c: set(typing.get_args(hints[c])) - {"local", "none"} for c in CATEGORIES}

    assert accepted == {c: {p.name for p in PRODUCTS if p.category == c} for c in CATEGORIES}


@pytest.mark.parametrize("product", PRODUCTS, ids=[p.name for p in PRODUCTS])
def test_every_product_module_names_its_settings_under_its_own_prefix(product: typing.Any):
    module = importlib.import_module(product.module)

    assert issubclass(module.SETTINGS, VendorSettings)
    assert module.SETTINGS.model_config.get("env_prefix") == f"ESCALATION_{product.name.upper()}_"
    assert module.ADAPTER.name == product.name


@pytest.mark.parametrize("product", PRODUCTS, ids=[p.name for p in PRODUCTS])
def test_a_chosen_product_without_its_token_fails_naming_the_variables_to_set(product: typing.Any):
    settings = Settings(**{product.category: product.name})

    with pytest.raises(ConfigError) as raised:
        vendor_products(settings)

    message = str(raised.value)
    assert f"ESCALATION_{product.category.upper()}={product.name} needs:" in message
    assert f"ESCALATION_{product.name.upper()}_" in message
    assert "is not set" in message


def test_local_and_none_need_no_vendor_configuration():
    connectors = open_connectors(Settings(chat="none"), now=NOW)

    assert connectors.wired() == {
        "support": "local",
        "crm": "local",
        "chat": None,
        "tracker": "local",
        "knowledge": "local",
    }


def test_serving_with_an_unconfigured_product_exits_before_serving_and_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("ESCALATION_TRACKER", "jira")

    result = CliRunner().invoke(cli, ["serve"])

    assert result.exit_code == 2
    assert "ESCALATION_TRACKER=jira needs:" in result.output
    assert "ESCALATION_JIRA_TOKEN is not set" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_product_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ESCALATION_SUPPORT", "servicenow")

    result = CliRunner().invoke(cli, ["serve"])

    assert result.exit_code == 2
    assert "ESCALATION_SUPPORT" in result.output
    assert "zendesk" in result.output


@pytest.mark.parametrize("product", PRODUCTS, ids=[p.name for p in PRODUCTS])
def test_every_variable_of_every_product_is_documented_in_connectors_md(product: typing.Any):
    from pathlib import Path

    documented = (Path(__file__).parents[2] / "CONNECTORS.md").read_text("utf-8")
    settings = product.settings_type()

    missing = [settings.variable(f) for f in settings.model_fields if settings.variable(f) not in documented]

    assert missing == []
