"""The entry point. Bare `escalation-mcp` (what desktop clients start) serves stdio without loading the CLI
framework, which saves a tenth of the cold start; anything else goes to the commands in `server.commands`."""

from __future__ import annotations

import sys

from server.startup import check_startup, configure_logging, load_settings


def _serve_stdio() -> None:
    settings = load_settings()
    configure_logging(settings)
    check_startup(settings)
    from server.app import build_server
    from server.stdio import run_stdio

    run_stdio(build_server(settings))


def main() -> None:
    if len(sys.argv) == 1:
        _serve_stdio()
    else:
        from server.commands import cli

        cli()
