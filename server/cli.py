"""The entry point. Bare `escalation-mcp` (what desktop clients start) serves stdio without loading the CLI
framework, which saves a tenth of the cold start; anything else goes to the commands in `server.commands`."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from server.settings import Settings
from server.startup import configure_logging, connectors_problem, settings_problem


def _serve_stdio() -> None:
    try:
        settings = Settings()
    except ValidationError as exc:
        sys.exit(f"error: {settings_problem(exc)}")
    configure_logging(settings)
    problem = connectors_problem(settings)
    if problem is not None:
        sys.exit(f"error: {problem}")
    from server.app import build_server
    from server.stdio import run_stdio

    run_stdio(build_server(settings))


def main() -> None:
    if len(sys.argv) == 1:
        _serve_stdio()
    else:
        from server.commands import cli

        cli()
