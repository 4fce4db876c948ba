"""Start-up checks and logging shared by the stdio entry point and the commands."""

from __future__ import annotations

import logging
import sys

from pydantic import ValidationError

from server.settings import Settings


def settings_problem(exc: ValidationError) -> str:
    """One line naming each variable at fault and what is wrong with it."""
    problems = "; ".join(
        f"ESCALATION_{'_'.join(str(p) for p in e['loc']).upper() or '?'}: {e['msg']}" for e in exc.errors()
    )
    return f"invalid settings: {problems}"


def connectors_problem(settings: Settings) -> str | None:
    """Why the chosen products cannot be opened (each variable to set), or None."""
    from connectors.products import ConfigError
    from server.wiring import vendor_products

    try:
        vendor_products(settings)
    except ConfigError as exc:
        return str(exc)
    return None


def configure_logging(settings: Settings) -> None:
    # stdout carries the protocol over stdio: logs go to stderr only.
    logging.basicConfig(stream=sys.stderr, level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    # httpx logs every URL at INFO, search terms (customer names, issue text) included: keep it to problems.
    logging.getLogger("httpx").setLevel(max(logging.getLogger().level, logging.WARNING))
