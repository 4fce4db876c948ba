"""Start-up checks and logging shared by the stdio entry point and the commands.

A configuration problem ends the process with exit status 2 and one line on stderr naming each variable at
fault and what to do about it, before anything is served: a client such as Claude Desktop shows that line,
where a traceback would bury it.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

from pydantic import ValidationError

from server.settings import Settings

# The loggers this project owns; a host that embeds the server keeps its own handlers and root level.
PROJECT_LOGGERS = ("server", "connectors")
CONFIGURATION_ERROR = 2  # the usual exit status for a usage or configuration error (typer/click use it too)


def settings_problem(exc: ValidationError) -> str:
    """One line naming each variable at fault and what is wrong with it."""
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = "_".join(str(part) for part in error["loc"])
        # A rule across fields has no location and names its variables itself.
        problems.append(f"ESCALATION_{field.upper()}: {message}" if field else message)
    return f"invalid settings: {'; '.join(problems)}"


def load_settings() -> Settings:
    """The settings from the environment, or exit 2 with the one line that says what to fix."""
    try:
        return Settings()
    except ValidationError as exc:
        fail(settings_problem(exc))


def connectors_problem(settings: Settings) -> str | None:
    """Why the chosen products or the workspace cannot be opened (each variable to fix), or None."""
    from connectors.products import ConfigError
    from server.wiring import choices, vendor_products

    problems: list[str] = []
    try:
        vendor_products(settings)
    except ConfigError as exc:
        problems.append(str(exc))
    if settings.workspace_path is not None and "local" in choices(settings).values():
        problem = workspace_problem(settings)
        if problem is not None:
            problems.append(problem)
    return "; ".join(problems) or None


def workspace_problem(settings: Settings) -> str | None:
    """Why ESCALATION_WORKSPACE_PATH cannot be loaded, or None; the embedded workspace is known good."""
    from connectors.workspace import WorkspaceError, load_workspace

    if settings.workspace_path is None:
        return None
    # Read once more than the server will: parsing is a small part of loading (the index is the rest),
    # and a bad file must stop the server before a client connects, not inside its first session.
    try:
        load_workspace(settings.workspace_path)
    except WorkspaceError as exc:
        return f"ESCALATION_WORKSPACE_PATH: {exc}; fix the file, or unset the variable to use the embedded demo"
    return None


def check_startup(settings: Settings) -> None:
    """Exit 2 with one line when the configured connectors or workspace cannot be opened."""
    problem = connectors_problem(settings)
    if problem is not None:
        fail(problem)


def fail(problem: str) -> NoReturn:
    """End the process with status 2 and `problem` as one line on stderr."""
    line = " ".join(problem.split())  # one line, whatever a message from a library carried
    print(f"error: {line}", file=sys.stderr, flush=True)
    raise SystemExit(CONFIGURATION_ERROR)


def apply_log_level(settings: Settings) -> None:
    """Set this project's loggers to ESCALATION_LOG_LEVEL, adding no handler.

    For a server built inside someone else's process (an agent pipeline): the host owns the handlers and the
    root logger, and records still propagate to them.
    """
    for name in PROJECT_LOGGERS:
        logging.getLogger(name).setLevel(settings.log_level)


def configure_logging(settings: Settings) -> None:
    """The CLI's logging: everything to stderr at ESCALATION_LOG_LEVEL."""
    # stdout carries the protocol over stdio: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    apply_log_level(settings)
    # httpx logs every URL at INFO, search terms (customer names, issue text) included: keep it to problems.
    logging.getLogger("httpx").setLevel(max(logging.getLogger().level, logging.WARNING))
