"""Terminal output for the demo: one panel per step."""

from __future__ import annotations

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from server.demo import DemoRun
from server.doctor import Diagnosis

_STATUS_STYLE = {"ok": "green", "truncated": "yellow", "skipped": "dim", "not_connected": "dim"}


def print_run(run: DemoRun, console: Console | None = None) -> None:
    """Print every step of a demo run."""
    out = console or Console()
    out.rule(f"[bold]{run.issue}[/bold]" + (f" · {run.customer}" if run.customer else ""))
    case = run.context.case

    sources = Table("source", "adapter", "status", "found", "ms", "trust", title="2 · Context", title_justify="left")
    for s in run.context.sources:
        style = _STATUS_STYLE.get(s.status, "red")
        sources.add_row(
            s.category,
            s.adapter or "-",
            f"[{style}]{s.status}[/{style}]" + (f" ({s.error})" if s.error else ""),
            str(s.found),
            str(s.elapsed_ms or "-"),
            s.trust,
        )
    f = run.context.findings
    out.print(sources)
    out.print(
        f"findings: {len(f.distinct_customers)} customer(s) reporting {f.distinct_customers}; "
        f"regressions {f.regressions or 'none'}; open issues {f.open_issues or 'none'}; "
        f"workarounds {f.workarounds or 'none'}"
    )
    out.print(
        f"case: {len(case.accounts)} account(s) affected ({', '.join(a.name for a in case.accounts[:8])})"
        + (f", segment {case.segment}" if case.segment else "")
        + (f"; started {case.started_at:%Y-%m-%d %H:%M} UTC" if case.started_at else "")
    )
    out.print(f"assistant's judgement: signals {run.signals or 'none'}; flags {run.flags or 'none'}")

    impact = Table("dimension", "rating", "why", title="3 · Impact", title_justify="left")
    for d in run.impact.dimensions:
        impact.add_row(d.dimension, d.rating, d.reason)
    out.print(impact)
    out.print(
        f"severity [bold]{run.impact.severity}[/bold] (rule {run.impact.rule}; act {run.impact.respond}): "
        + "; ".join(run.impact.reasons)
    )
    for m in run.impact.missing:
        out.print(f"  unknown {m.field}: would make it {m.would_change}")

    routing = Table("group", "criterion", title="4 · Target", title_justify="left")
    for c in run.routing.criteria:
        routing.add_row(c.group, c.reason)
    for r in run.routing.handle_in_support:
        routing.add_row("support", r.reason)
    out.print(routing)
    out.print(f"[bold]{run.routing.decision}[/bold]")
    for t in run.routing.targets:
        out.print(f"  {t.target}: {t.why}; the brief needs {', '.join(t.brief_needs)}")
    for note in run.routing.notes:
        out.print(f"  note: {note}")

    if run.brief is not None:
        title = f"6 · Brief ({run.brief.status}, escalation {run.brief.escalation_id})"
        out.print(Panel(Markdown(run.brief.markdown), title=title, title_align="left"))
        out.print(f"filled from the case: {', '.join(run.brief.from_case) or 'nothing'}")
        for field, why in run.unfilled.items():
            out.print(f"  [yellow]not filled[/yellow] {field}: {why}")
    if run.schedule is not None:
        followups = Table("kind", "for", "due", "cadence", title="7 · Follow-ups", title_justify="left")
        for item in run.schedule.followups:
            followups.add_row(item.kind, item.customer or "team", f"{item.due_at:%a %Y-%m-%d %H:%M %Z}", item.cadence)
        zones = "; ".join(f"{z.timezone} ({', '.join(z.customers)})" for z in run.schedule.customer_zones)
        out.print(Group(followups, f"team time zone {run.schedule.team_timezone}; customers: {zones or 'none'}"))
    out.print(f"[dim]{run.calls} tool calls, escalation {run.context.escalation_id}[/dim]")


_VERDICT_STYLE = {"ok": "green", "broken": "bold red", "not_connected": "dim"}


def print_diagnoses(results: list[Diagnosis], console: Console | None = None) -> None:
    """The doctor's table: one row per category."""
    console = console or Console()
    table = Table(title="escalation-mcp doctor")
    for column in ("category", "product", "status", "detail", "headroom", "ms"):
        table.add_column(column)
    for r in results:
        style = _VERDICT_STYLE[r.verdict]
        table.add_row(
            r.category,
            r.product,
            f"[{style}]{r.verdict.replace('_', ' ')}[/]",
            r.detail,
            r.headroom or "",
            "" if r.elapsed_ms is None else str(r.elapsed_ms),
        )
    console.print(table)
