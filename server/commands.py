"""The commands: `serve` (stdio, or `--http`), `demo` and `doctor`; `server.cli.main` is the entry point."""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Annotated

import typer

from server.models import Language
from server.settings import Settings
from server.startup import check_startup, configure_logging, load_settings

cli = typer.Typer(
    name="escalation-mcp",
    help="An MCP server that runs customer-support escalations properly.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: rich markup reads "[default: ...]" in a help text as a style tag and drops it.
    rich_markup_mode=None,
)


# The commands' names for the start-up checks in `server.startup` (exit 2 with one line on a bad setting).
def _settings() -> Settings:
    return load_settings()


def _check_connectors(settings: Settings) -> None:
    check_startup(settings)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"escalation-mcp {version('escalation-mcp')}")
        raise typer.Exit


@cli.callback(invoke_without_command=True)
def main_callback(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the installed version."),
    ] = False,
) -> None:
    """Without a command, serve MCP over stdio (what Claude Desktop starts)."""
    if ctx.invoked_subcommand is None:
        serve(http=False, host=None, port=None, worker=False)


@cli.command()
def serve(
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")] = False,
    host: Annotated[str | None, typer.Option(help="HTTP bind address [default: ESCALATION_HTTP_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port [default: ESCALATION_HTTP_PORT].")] = None,
    worker: Annotated[
        bool, typer.Option("--worker", help="Also deliver due follow-ups while serving [default: off].")
    ] = False,
) -> None:
    """Serve MCP over stdio, or over streamable HTTP at http://HOST:PORT/mcp.

    Beyond loopback, HTTP needs authentication: a static token or OAuth (README "Deployment").
    """
    settings = _settings()
    configure_logging(settings)
    _check_connectors(settings)
    from server.app import build_server  # after the checks: a refused start should not wait for the SDK

    if not http:
        from server.stdio import run_stdio

        run_stdio(build_server(settings, worker=worker))
        return

    import anyio
    import uvicorn

    from server.http_app import build_http_app
    from server.http_auth import HttpConfigError, JwtVerifier, http_access

    bind = host or settings.http_host
    try:
        access = http_access(settings, bind)
    except HttpConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    # A wrong JWKS URL shows now rather than as 401s later; the issuer may only be down, so serve anyway.
    if isinstance(access.verifier, JwtVerifier) and anyio.run(access.verifier.keys.refresh) == 0:
        typer.echo(
            "warning: no signing keys at ESCALATION_AUTH_JWKS_URL yet: "
            "every token is refused until they can be fetched",
            err=True,
        )
    app = build_http_app(build_server(settings, worker=worker), access)
    uvicorn.run(
        app,
        host=bind,
        port=port or settings.http_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep configure_logging's stderr handler and format
        server_header=False,
        # Behind a reverse proxy the Host header is what the client asked for; X-Forwarded-* only from loopback.
        forwarded_allow_ips="127.0.0.1",
    )


@cli.command()
def demo(
    issue: Annotated[str | None, typer.Argument(help="The issue [default: the Acme Corp 500s].")] = None,
    customer: Annotated[str | None, typer.Option(help="Customer name as in the workspace.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Brief language: en, ko or ja.")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Run the seven-step workflow on the embedded workspace and print every step."""
    import anyio

    from server import demo as scripted
    from server.render import print_run

    if lang not in ("en", "ko", "ja"):
        typer.echo(f"error: unknown language {lang!r}: use en, ko or ja", err=True)
        raise typer.Exit(2)
    language: Language = lang  # pyright: ignore[reportAssignmentType]  # checked just above
    if issue is None:
        issue, customer = scripted.DEFAULT_ISSUE, customer or scripted.DEFAULT_CUSTOMER
    settings = _settings()
    configure_logging(settings)
    _check_connectors(settings)
    try:
        run = anyio.run(lambda: scripted.run(issue, customer, language=language))
    except scripted.DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(run.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print_run(run)


@cli.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check each configured connector (configuration, auth, reachability, rate-limit headroom).

    Exits 2 when the configuration is wrong (with one line on stderr saying what to fix, as the server
    would at start-up), 1 when a configured connector is broken.
    """
    from datetime import UTC, datetime

    import anyio

    from server.doctor import diagnose
    from server.render import print_diagnoses
    from server.startup import connectors_problem, fail

    settings = _settings()
    configure_logging(settings)
    results = anyio.run(lambda: diagnose(settings, now=datetime.now(UTC)))
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
    else:
        print_diagnoses(results)
    # The table shows every category; the exit status and the line say whether the server would even start.
    problem = connectors_problem(settings)
    if problem is not None:
        fail(problem)
    if any(r.verdict == "broken" for r in results):
        raise typer.Exit(1)


def _register_followthrough() -> None:
    from server.worker_cli import register

    register(cli)


_register_followthrough()
