"""The MCP surface: tools, resources and the prompt, registered on one MCPServer.

Handlers validate, call the domain and shape the result; the rules live in the domain
modules. Dependencies are opened in the lifespan (or handed in by tests).
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from typing import Annotated, Any, get_type_hints

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import Completion, PromptReference, ResourceTemplateReference, ToolAnnotations
from pydantic import BaseModel, Field, ValidationError

from connectors import CATEGORIES, Connectors
from connectors.errors import ConnectorError
from server.brief import BriefRenderer
from server.list_cache import ToolListCache
from server.schema import argument_problems, compact, output_schema, shallow
from server.settings import Settings
from server.startup import apply_log_level
from server.state import AppState, Clock, utc_now
from server.store import Ledger, open_ledger
from server.tools import assess, brief, gather, lifecycle, route, schedule
from server.tools.common import load_record
from server.wiring import open_connectors

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "Runs customer-support escalations: gather context, assess impact, pick the target, draft the brief, "
    "keep the follow-up cadence. The prompt customer-escalation walks through all seven steps."
)

# gather_context reads the outside world and opens a case: it writes, but destroys nothing.
OPENS_CASE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
# Steps that update a case replace its stored results (and may re-render its brief or cancel follow-ups).
CHANGES_CASE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
# update_escalation cancels follow-ups and re-renders the brief, on the ledger alone.
CLOSES_CASE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
# draft_customer_update only appends a note that a draft was made.
NOTES_CASE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
READ_LEDGER = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
# Writes reach outside (chat, ticket, tracker); a confirmed replay posts nothing new, so they are idempotent.
WRITE_OUT = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

# Which tools exist, how each is annotated. A tool that opens or changes a case writes the ledger;
# one that replaces follow-ups or re-renders a stored brief is destructive.
TOOLS: tuple[tuple[Callable[..., Any], ToolAnnotations], ...] = (
    (gather.gather_context, OPENS_CASE),
    (assess.assess_impact, CHANGES_CASE),
    (route.pick_tier, CHANGES_CASE),
    (brief.draft_brief, CHANGES_CASE),
    (schedule.schedule_followup, CHANGES_CASE),
    (lifecycle.list_escalations, READ_LEDGER),
    (lifecycle.update_escalation, CLOSES_CASE),
    (lifecycle.draft_customer_update, NOTES_CASE),
)


def write_tools() -> tuple[tuple[Callable[..., Any], ToolAnnotations], ...]:
    """The write tools, registered only with ESCALATION_WRITES on: off, the model cannot even see them.

    Their module (and the outbox and formats behind it) is imported only then, not at every start.
    """
    from server.tools import writes

    return (
        (writes.post_brief, WRITE_OUT),
        (writes.add_internal_note, WRITE_OUT),
        (writes.file_tracker_issue, WRITE_OUT),
    )


class PlainTool(Tool):
    """A tool whose argument errors read as plain instructions: which field, what to fix.

    The SDK's text is pydantic's: the internal model name, the rejected value (possibly huge) and a
    documentation URL. None of that helps the model, and echoing input back costs context.
    """

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(argument_problems(self.name, exc.__cause__)) from exc.__cause__
            if str(exc) == f"Error executing tool {self.name}":  # a crash: the SDK already hides its detail
                raise ToolError(f"{self.name} failed unexpectedly; the server log has the details") from exc
            raise


def _tool(fn: Callable[..., Any], annotations: ToolAnnotations) -> Tool:
    """`fn` as a tool with compact schemas (see `server.schema`)."""
    returns = get_type_hints(fn).get("return")
    model = returns if isinstance(returns, type) and issubclass(returns, BaseModel) else None
    registered = PlainTool.from_function(
        fn,
        description=inspect.cleandoc(fn.__doc__ or ""),
        annotations=annotations,
        # A returned model: the SDK would write out its whole schema only for `shallow` to cut it down.
        structured_output=False if model is not None else None,
    )
    registered.parameters = compact(registered.parameters)
    if model is not None:
        # What the SDK derives for a model return (validated against the model, not wrapped), schema included.
        registered.fn_metadata = FuncMetadata(
            arg_model=registered.fn_metadata.arg_model, output_model=model, output_schema=output_schema(model)
        )
    elif (schema := registered.fn_metadata.output_schema) is not None:
        registered.fn_metadata.output_schema = shallow(compact(schema, output=True))
    return registered


def build_server(
    settings: Settings | None = None,
    *,
    connectors: Connectors | None = None,
    ledger: Ledger | None = None,
    clock: Clock = utc_now,
    worker: bool = False,
) -> MCPServer[AppState]:
    """The escalation server; anything not handed in is opened from `settings` in the lifespan.

    `worker` also runs the follow-up worker beside the server, for as long as it serves.
    """
    settings = settings or Settings()
    apply_log_level(settings)
    started: list[AppState] = []  # the running state, for handlers the SDK gives no context (completion)

    @asynccontextmanager
    async def lifespan(_: MCPServer[AppState]) -> AsyncGenerator[AppState]:
        async with AsyncExitStack() as stack:
            wired = connectors
            if wired is None:
                wired = open_connectors(settings, now=clock())
                stack.push_async_callback(wired.aclose)
            store = ledger
            if store is None:
                store = open_ledger(settings.database_url, settings.ledger_path)
                stack.push_async_callback(store.close)
            state = AppState(settings, wired, store, BriefRenderer(), clock)
            started.append(state)
            try:
                if worker:
                    from server.worker import Worker

                    async with anyio.create_task_group() as group:
                        group.start_soon(Worker(store, wired.chat, settings.channels, clock=clock).run)
                        yield state
                        group.cancel_scope.cancel()
                else:
                    yield state
            finally:
                started.remove(state)

    def app(ctx: Context[AppState, Any]) -> AppState:
        return ctx.request_context.lifespan_context

    def running() -> AppState:
        """The state for handlers the SDK hands no context (static resources, completion)."""
        if not started:
            raise RuntimeError("the server's lifespan has not started")
        return started[-1]

    mcp: MCPServer[AppState] = MCPServer(
        "escalation-mcp",
        version="0.1.0",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        tools=[_tool(fn, annotations) for fn, annotations in (*TOOLS, *(write_tools() if settings.writes else ()))],
        middleware=[ToolListCache()],
    )

    # resources

    @mcp.resource("escalation://playbook", name="playbook", mime_type="text/markdown")
    def playbook() -> str:
        """How the server decides: escalation criteria, targets, severity, cadence."""
        return resources.files("prompts").joinpath("playbook.md").read_text("utf-8")

    @mcp.resource("escalation://templates/{name}", name="template", mime_type="text/plain")
    def template(name: str) -> str:
        """A brief template (brief.en.md.j2, brief.ko.md.j2, brief.ja.md.j2)."""
        renderer = BriefRenderer()
        try:
            return renderer.source(name)
        except KeyError:
            raise ResourceNotFoundError(
                f"no template {name!r}; available: {', '.join(renderer.template_names())}"
            ) from None

    @mcp.resource("escalation://escalations/{escalation_id}", name="escalation", mime_type="application/json")
    async def escalation(escalation_id: str, ctx: Context[AppState, Any]) -> str:
        """A stored escalation with its brief, timeline and follow-ups."""
        try:
            record = await load_record(app(ctx), escalation_id)
        except ToolError:  # missing, malformed, or someone else's: all answer alike
            raise ResourceNotFoundError(f"no escalation with id {escalation_id[:64]!r}") from None
        return record.model_dump_json(indent=2)

    @mcp.resource("escalation://escalations/{escalation_id}/calendar.ics", name="calendar", mime_type="text/calendar")
    async def calendar(escalation_id: str, ctx: Context[AppState, Any]) -> str:
        """An escalation's follow-ups as an ICS calendar; re-importing updates the same events."""
        from server.calendar_ics import calendar_ics

        try:
            record = await load_record(app(ctx), escalation_id)
        except ToolError:
            raise ResourceNotFoundError(f"no escalation with id {escalation_id[:64]!r}") from None
        return calendar_ics([record]).decode("utf-8")

    @mcp.resource("escalation://connectors", name="connectors", mime_type="application/json")
    def connectors_resource() -> str:
        """Which source categories are connected, and to which product."""
        wired = running().connectors.wired()
        return json.dumps({c: {"connected": wired[c] is not None, "adapter": wired[c]} for c in CATEGORIES}, indent=2)

    # prompt

    @mcp.prompt(name="customer-escalation", title="Customer escalation")
    def customer_escalation(
        issue_summary: Annotated[str, Field(description="What is wrong, e.g. 'API returning 500s'.")],
        customer: Annotated[str | None, Field(description="Customer name or account.")] = None,
    ) -> str:
        """Package a support issue into an escalation: context, impact, target, brief, follow-ups."""
        text = resources.files("prompts").joinpath("customer_escalation.md.j2").read_text("utf-8")
        from jinja2 import Template  # imported on first use: see BriefRenderer

        return Template(text, trim_blocks=True, lstrip_blocks=True).render(
            issue_summary=issue_summary, customer=customer
        )

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference, argument: Any, _context: Any
    ) -> Completion | None:
        if isinstance(ref, PromptReference) and ref.name == "customer-escalation" and argument.name == "customer":
            crm = running().connectors.crm
            if crm is None:
                return Completion(values=[])
            try:
                accounts = await crm.search_accounts(argument.value, limit=20)
            except ConnectorError:
                return Completion(values=[])
            names = [a.name for a in accounts if a.name.lower().startswith(argument.value.lower())]
            names += [a.name for a in accounts if a.name not in names]
            return Completion(values=names[:20], total=len(names), has_more=False)
        if isinstance(ref, ResourceTemplateReference) and argument.name == "name":
            names = [n for n in BriefRenderer().template_names() if n.startswith(argument.value)]
            return Completion(values=names, total=len(names), has_more=False)
        return None

    return mcp
