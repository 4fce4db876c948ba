"""Start-up: a configuration the server cannot use stops every entry point with one line and exit status 2.

These run the real entry point in a child process, because what is under test is what a client such as
Claude Desktop sees: the exit status and stderr, with no traceback.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.products import PRODUCTS, ConfigError, load_settings
from server.settings import Settings
from server.startup import PROJECT_LOGGERS, apply_log_level, settings_problem

ENTRY_POINTS = {"stdio": [], "serve": ["serve"], "demo": ["demo", "--json"], "doctor": ["doctor", "--json"]}
ZENDESK = {
    "ESCALATION_SUPPORT": "zendesk",
    "ESCALATION_ZENDESK_SUBDOMAIN": "acme",
    "ESCALATION_ZENDESK_EMAIL": "a@b.co",
}


def run_entry_point(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`escalation-mcp ARGS` as the console script runs it, with only `env` for settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")}
    clean |= {"ESCALATION_LEDGER_PATH": str(tmp_path / "ledger.db"), **env}
    return subprocess.run(
        [sys.executable, "-c", "from server.cli import main; main()", *args],
        env=clean,
        stdin=subprocess.DEVNULL,  # a server that did start would end at end of input, not hang the test
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bad_workspace(tmp_path: Path) -> str:
    path = tmp_path / "workspace.json"
    path.write_text('{"tickets": [{"id": "T-1", "subject": "cut off', "utf-8")
    return str(path)


# (what is wrong, the variables, the text the line must carry besides the variable's name)
PROBLEMS: dict[str, tuple[Callable[[Path], dict[str, str]], str, str]] = {
    "unknown time zone": (
        lambda _: {"ESCALATION_DEFAULT_TIMEZONE": "Europe/Atlantis"},
        "ESCALATION_DEFAULT_TIMEZONE",
        "unknown time zone 'Europe/Atlantis': use an IANA name",
    ),
    "unknown country": (
        lambda _: {"ESCALATION_DEFAULT_COUNTRY": "XQ"},
        "ESCALATION_DEFAULT_COUNTRY",
        "no public-holiday calendar for 'XQ'",
    ),
    "missing workspace": (
        lambda tmp: {"ESCALATION_WORKSPACE_PATH": str(tmp / "nowhere.json")},
        "ESCALATION_WORKSPACE_PATH",
        "does not exist",
    ),
    "malformed workspace": (
        lambda tmp: {"ESCALATION_WORKSPACE_PATH": bad_workspace(tmp)},
        "ESCALATION_WORKSPACE_PATH",
        "is not a valid workspace: Invalid JSON",
    ),
    "empty token": (
        lambda _: {**ZENDESK, "ESCALATION_ZENDESK_TOKEN": ""},
        "ESCALATION_ZENDESK_TOKEN",
        "it is empty",
    ),
    "padded token": (
        lambda _: {**ZENDESK, "ESCALATION_ZENDESK_TOKEN": " zd-token\n"},
        "ESCALATION_ZENDESK_TOKEN",
        "spaces or a line break",
    ),
}


def assert_one_line_naming(stderr: str, variable: str, says: str) -> None:
    assert "Traceback" not in stderr
    [line] = stderr.splitlines()
    assert line.startswith("error: ")
    assert variable in line
    assert says in line
    assert "zd-token" not in line, "a secret never reaches the error line"


@pytest.mark.parametrize("problem", PROBLEMS)
def test_a_bad_setting_stops_the_stdio_server_a_client_starts_with_one_line_and_exit_2(problem: str, tmp_path: Path):
    variables, variable, says = PROBLEMS[problem]

    done = run_entry_point([], variables(tmp_path), tmp_path)

    assert done.returncode == 2, done.stderr
    assert_one_line_naming(done.stderr, variable, says)


# One child process per command proves the real exit path; the rest of the matrix runs in process, which
# costs a tenth as much on a busy machine and goes through the same code from the command line down.
@pytest.mark.parametrize("entry", ["serve", "demo", "doctor"])
def test_a_bad_setting_stops_each_command_process_with_one_line_and_exit_2(entry: str, tmp_path: Path):
    variables, variable, says = PROBLEMS["malformed workspace"]

    done = run_entry_point(ENTRY_POINTS[entry], variables(tmp_path), tmp_path)

    assert done.returncode == 2, done.stderr
    assert_one_line_naming(done.stderr, variable, says)


@pytest.mark.parametrize("entry", ["serve", "demo", "doctor"])
@pytest.mark.parametrize("problem", PROBLEMS)
def test_a_bad_setting_stops_every_command_with_one_line_and_exit_2(
    entry: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from typer.testing import CliRunner

    from server.commands import cli

    variables, variable, says = PROBLEMS[problem]
    for name in list(os.environ):
        if name.startswith("ESCALATION_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ESCALATION_LEDGER_PATH", str(tmp_path / "ledger.db"))

    result = CliRunner().invoke(cli, ENTRY_POINTS[entry], env=variables(tmp_path))

    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert_one_line_naming(result.stderr, variable, says)


def test_version_is_the_installed_packages(tmp_path: Path):
    from importlib.metadata import version

    done = run_entry_point(["--version"], {}, tmp_path)

    assert (done.returncode, done.stdout, done.stderr) == (0, f"escalation-mcp {version('escalation-mcp')}\n", "")


def test_logs_of_the_commands_go_to_stderr_and_leave_stdout_to_the_protocol(tmp_path: Path):
    script = (
        "import logging; from server.settings import Settings; from server.startup import configure_logging; "
        "configure_logging(Settings()); logging.getLogger('connectors.vendors.zendesk').debug('asked zendesk')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESCALATION_")} | {"ESCALATION_LOG_LEVEL": "DEBUG"}

    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=True
    )

    assert done.stdout == ""
    assert done.stderr == "DEBUG connectors.vendors.zendesk: asked zendesk\n"


@pytest.fixture
def project_loggers() -> Iterator[list[logging.Logger]]:
    """This project's loggers, put back as they were: logging is process-wide."""
    loggers = [logging.getLogger(name) for name in PROJECT_LOGGERS]
    saved = [(logger.level, list(logger.handlers)) for logger in loggers]
    root = logging.getLogger()
    root_saved = (root.level, list(root.handlers))
    yield loggers
    for logger, (level, handlers) in zip(loggers, saved, strict=True):
        logger.setLevel(level)
        logger.handlers[:] = handlers
    root.setLevel(root_saved[0])
    root.handlers[:] = root_saved[1]


def test_apply_log_level_sets_this_projects_loggers_and_leaves_the_hosts_handlers_alone(
    project_loggers: list[logging.Logger],
):
    root = logging.getLogger()
    root_before = (root.level, list(root.handlers))

    apply_log_level(Settings(log_level="DEBUG"))

    assert [(logger.level, logger.handlers) for logger in project_loggers] == [(logging.DEBUG, [])] * 2
    assert logging.getLogger("connectors.vendors.slack").getEffectiveLevel() == logging.DEBUG
    assert (root.level, root.handlers) == root_before


def test_a_time_zone_differing_only_in_case_is_refused_with_its_spelling():
    with pytest.raises(ValidationError) as raised:
        Settings(default_timezone="america/new_york")

    assert settings_problem(raised.value) == (
        "invalid settings: ESCALATION_DEFAULT_TIMEZONE: unknown time zone 'america/new_york': "
        "did you mean 'America/New_York'?"
    )


def test_a_country_is_kept_upper_case_and_an_empty_one_means_no_holidays():
    assert Settings(default_country=" kr ").default_country == "KR"
    assert Settings(default_country="").default_country is None


def test_a_workspace_path_from_a_client_config_has_its_home_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ESCALATION_WORKSPACE_PATH", "~/ws.json")
    (tmp_path / "ws.json").write_text("{}", "utf-8")

    assert Settings().workspace_path == tmp_path / "ws.json"


def test_a_rule_across_settings_is_one_clause_without_a_made_up_variable():
    with pytest.raises(ValidationError) as raised:
        Settings(business_hours_start=18, business_hours_end=9)

    assert settings_problem(raised.value) == (
        "invalid settings: ESCALATION_BUSINESS_HOURS_START must be earlier than ESCALATION_BUSINESS_HOURS_END"
    )


@pytest.mark.parametrize("product", PRODUCTS, ids=[p.name for p in PRODUCTS])
@pytest.mark.parametrize(("token", "says"), [(" tok-123", "spaces or a line break"), ("tok-123\n", "spaces")])
def test_every_products_token_with_spaces_around_it_is_refused_naming_its_variable(
    product: object, token: str, says: str, monkeypatch: pytest.MonkeyPatch
):
    from connectors.products import Product

    assert isinstance(product, Product)
    for name in list(os.environ):
        if name.startswith("ESCALATION_"):
            monkeypatch.delenv(name)
    variable = f"ESCALATION_{product.name.upper()}_TOKEN"
    monkeypatch.setenv(variable, token)

    with pytest.raises(ConfigError) as raised:
        load_settings(product.settings_type())

    assert f"{variable} is invalid: it has {says}" in str(raised.value)
    assert "tok-123" not in str(raised.value)


# Salesforce and Teams also sign in with client credentials, so an empty token there is an unset one and the
# rule across their fields names what to set.
TOKEN_REQUIRED = [p for p in PRODUCTS if p.settings_type().model_fields["token"].is_required()]


@pytest.mark.parametrize("product", TOKEN_REQUIRED, ids=[p.name for p in TOKEN_REQUIRED])
def test_every_products_empty_token_is_refused_naming_its_variable(product: object, monkeypatch: pytest.MonkeyPatch):
    from connectors.products import Product

    assert isinstance(product, Product)
    for name in list(os.environ):
        if name.startswith("ESCALATION_"):
            monkeypatch.delenv(name)
    variable = f"ESCALATION_{product.name.upper()}_TOKEN"
    monkeypatch.setenv(variable, "")

    with pytest.raises(ConfigError) as raised:
        load_settings(product.settings_type())

    assert f"{variable} is invalid: it is empty; set it to the token or key itself" in str(raised.value)
