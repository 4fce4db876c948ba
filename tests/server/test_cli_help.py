"""`escalation-mcp COMMAND --help` shows every option's default, on a narrow terminal and a wide one."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from server.commands import cli


def expected_defaults(command: Any) -> list[str]:
    """The `[default: ...]` each parameter should show: written in its help, or its plain default value."""
    shown: list[str] = []
    for param in command.params:  # typer's own copy of click's Parameter
        help_text = getattr(param, "help", None) or ""
        if "[default:" in help_text:
            shown.append(help_text[help_text.index("[default:") :].split("]")[0] + "]")
        elif param.name != "help" and param.default is not None and not getattr(param, "is_flag", False):
            shown.append(f"[default: {param.default}]")
    return shown


@pytest.mark.parametrize("width", [40, 200])
@pytest.mark.parametrize("name", ["serve", "demo"])
def test_help_shows_every_options_default_however_wide_the_terminal(name: str, width: int):
    command = typer.main.get_command(cli)
    assert isinstance(command, TyperGroup)
    defaults = expected_defaults(command.commands[name])

    result = CliRunner().invoke(cli, [name, "--help"], env={"COLUMNS": str(width)}, terminal_width=width)

    assert result.exit_code == 0
    flowing = " ".join(result.stdout.split())  # a narrow terminal wraps inside the brackets
    assert defaults, "every command here has an option with a default"
    assert [d for d in defaults if d not in flowing] == []
    assert max(len(line) for line in result.stdout.splitlines()) <= width
