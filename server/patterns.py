"""The same problem across customers: find every report of it, count the customers, date it.

"Three or more customers report the same issue" is the playbook's strongest escalation signal, so
the count must cover the whole window, not the few tickets a context search shows. `find_related`
asks every connected source for candidates (the support platform's search, paged to a budget, plus
the newest tickets of the window whatever their wording or language; chat; the tracker; the
escalations already in the ledger), then one similarity step (`server.similarity`) decides which
candidates are the same problem. Sources that are not connected or fail are reported, never fatal;
whatever a budget left out is said in the result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

import anyio
from pydantic import BaseModel, ConfigDict, Field

from connectors import Connectors
from connectors.errors import ConnectorError
from connectors.models import Message, Page, Ticket, TrackerIssue
from server.models import Severity

if TYPE_CHECKING:
    from server.similarity import Verdict

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R", Ticket, Message, TrackerIssue)

SourceName = Literal["support", "chat", "tracker", "ledger"]

# Ticket priorities and ledger severities on one scale, so a trend can cross both.
_LEVELS: dict[str, int] = {
    "low": 0,
    "minor": 0,
    "normal": 1,
    "medium": 1,
    "p3": 1,
    "high": 2,
    "major": 2,
    "p2": 2,
    "urgent": 3,
    "critical": 3,
    "blocker": 3,
    "p1": 3,
}
_LEVEL_NAMES = ("low", "normal/medium", "high", "urgent/critical")


class PriorCase(BaseModel):
    """An escalation already in the ledger, as far as pattern finding needs it."""

    model_config = ConfigDict(frozen=True)

    id: str
    summary: str
    customer: str | None = None
    created_at: datetime
    severity: Severity


class PatternConfig(BaseModel):
    """Thresholds and budgets of `find_related`; the lead maps them to `ESCALATION_*` settings.

    - `min_customers` (3): the playbook's rule, "the same issue from three or more customers".
    - `browse_budget` (500): the newest tickets of the window read whatever their wording. Keyword
      search misses paraphrases and, on the embedded workspace, Japanese (no spaces between words), so
      the recent window is read in full up to this many; a busy team's fortnight fits, and what was
      left is reported. On the evaluation set 500 keeps recall at 0.99 (0.96 held-out); 0 (keyword
      search only) drops it to 0.92 (0.87), the Korean and Japanese reports first.
    - `search_budget` (100): tickets read per keyword query (the issue as written, then the lexicon's
      words for it in English, Korean and Japanese): reaches older reports past the browse budget;
      ranked by the source, so the first hundred hold the close ones.
    - `page_size` (1,000): records asked for per request. Vendor adapters page internally at their
      own cap; the local workspace sorts the window once per request, so ten pages of 100 cost seven
      times one of 1,000 at 100,000 tickets.
    - `message_budget` (50) and `issue_budget` (25) per query: chat and tracker hits are corroboration,
      and their searches rank well, so the first page or two hold what matters.
    - `min_cosine` (0.30): when the lexicon knows none of the issue's words, the n-gram TF-IDF cosine
      alone decides; on the evaluation set paraphrases of one problem sit above 0.3 and unrelated tickets
      below 0.2.
    - `min_cosine_partial` (0.12): when the lexicon knows only the area or only the failure, that one
      must be shared and the cosine must reach this, a low bar because the concept already agrees.
    - `recent` (24 h) and `week` (7 days): the timeline's windows; `growth_ratio` (1.5): "growing" when
      the last `recent` window holds at least this many times the average of the rest of the week
      (and at least two reports), i.e. clearly faster, not one extra ticket.
    - `severity_step` (0.5): severity is rising when the later half of the reports averages at least
      half a level (low, normal, high, urgent) above the earlier half; needs three reports with one.
    - `max_reports` (20): matching reports listed; the total is always given.
    - `text_limit` (600): characters of a ticket's subject and body compared; the problem is stated at
      the top, and the rest of a long thread adds noise and time (the scan is linear in it).
    """

    model_config = ConfigDict(frozen=True)

    min_customers: int = Field(default=3, ge=1)
    browse_budget: int = Field(default=500, ge=0)
    search_budget: int = Field(default=100, ge=0)
    page_size: int = Field(default=1000, ge=1, le=5000)
    message_budget: int = Field(default=50, ge=0)
    issue_budget: int = Field(default=25, ge=0)
    min_cosine: float = Field(default=0.30, ge=0, le=1)
    min_cosine_partial: float = Field(default=0.12, ge=0, le=1)
    recent: timedelta = timedelta(hours=24)
    week: timedelta = timedelta(days=7)
    growth_ratio: float = Field(default=1.5, gt=0)
    severity_step: float = Field(default=0.5, gt=0)
    max_reports: int = Field(default=20, ge=0)
    text_limit: int = Field(default=600, ge=100)


class Report(BaseModel):
    """One record that describes the same problem."""

    source: SourceName
    id: str
    customer: str | None = None
    at: datetime
    title: str
    score: float = Field(description="How close to the issue, 0..1.")
    url: str | None = None
    level: str | None = Field(default=None, description="Ticket priority or escalation severity.")


class Timeline(BaseModel):
    """When customers reported it (tickets and ledger escalations; chat is internal and not counted)."""

    first_seen: datetime | None = None
    last_seen: datetime | None = None
    last_24h: int = 0
    last_7d: int = 0
    growing: bool = False


class TrackerMatch(BaseModel):
    """The tracker issue that describes the same problem, and whether its fix came undone."""

    id: str
    title: str
    status: str
    closed_as_fixed: bool
    resolved_at: datetime | None = None
    url: str | None = None
    score: float
    regression: bool = Field(description="Closed as fixed before the reports in the window began.")


class SourceScan(BaseModel):
    """What one source contributed, so nothing is left out silently."""

    source: SourceName
    status: Literal["ok", "not_connected", "failed"]
    scanned: int = 0
    matched: int = 0
    more_available: bool = Field(default=False, description="The budget stopped before the source ran out.")
    note: str | None = None


class RelatedReports(BaseModel):
    """Who else reports the same problem in the window, since when, and whether it is a pattern."""

    issue: str
    since: datetime
    customers: list[str] = Field(description="Distinct customers reporting it over the whole window.")
    customer_count: int
    pattern: bool = Field(description="customer_count reached the threshold.")
    threshold: int
    reports: list[Report]
    report_count: int = Field(description="All matching reports; `reports` may list fewer.")
    timeline: Timeline
    tracker_issue: TrackerMatch | None = None
    regression: bool
    severity_rising: bool
    severity_trend: str | None = None
    sources: list[SourceScan]


class _Candidate(BaseModel):
    source: SourceName
    id: str
    customer: str | None
    at: datetime
    title: str
    text: str
    url: str | None = None
    level: str | None = None


async def find_related(
    connectors: Connectors,
    issue: str,
    *,
    customer: str | None,
    since: datetime,
    now: datetime,
    prior: Sequence[PriorCase] = (),
    config: PatternConfig = PatternConfig(),  # noqa: B008 - frozen model, safe to share
) -> RelatedReports:
    """Every report of `issue` in [since, now] across the connected sources, the distinct customers
    behind them, its timeline, the tracker issue it matches (and whether that fix regressed), and
    whether severity is rising. `customer`, the one reporting now, counts among the customers."""
    # The lexicon and the sanitizer load on the first search, not at start-up: tools/list needs neither.
    from server.similarity import Matcher, search_queries
    from server.untrusted import clean

    matcher = Matcher(issue, min_cosine=config.min_cosine, min_cosine_partial=config.min_cosine_partial)
    queries = search_queries(matcher.issue, issue)
    scans: dict[SourceName, SourceScan] = {}
    tickets: list[Ticket] = []
    messages: list[Message] = []
    issues: list[TrackerIssue] = []

    async def support() -> None:
        port = connectors.support
        if port is None:
            scans["support"] = SourceScan(source="support", status="not_connected")
            return
        plans: list[tuple[str, int]] = [("", config.browse_budget)] + [(q, config.search_budget) for q in queries]
        results: list[tuple[list[Ticket], bool] | ConnectorError | None] = [None] * len(plans)

        async def run(n: int, query: str, budget: int) -> None:
            try:
                results[n] = await _pages(
                    lambda q, k, c: port.search_tickets(q, since=since, limit=k, cursor=c), query, budget, config
                )
            except ConnectorError as exc:
                results[n] = exc

        # The searches are independent: against a vendor they overlap their round trips.
        async with anyio.create_task_group() as tg:
            for n, (query, budget) in enumerate(plans):
                tg.start_soon(run, n, query, budget)
        seen: dict[str, Ticket] = {}
        more = False
        notes: list[str] = []
        for (query, budget), result in zip(plans, results, strict=True):
            if isinstance(result, ConnectorError):
                notes.append(f"a search failed: {result.detail}")
                continue
            if result is None:
                continue
            got, left = result
            if query == "" and left:
                notes.append(f"the window holds more than the {budget} newest tickets read in full")
            more = more or left
            for t in got:
                seen.setdefault(t.id, t)
        tickets.extend(seen.values())
        failed = bool(notes) and not seen and all(n.startswith("a search failed") for n in notes)
        scans["support"] = SourceScan(
            source="support",
            status="failed" if failed else "ok",
            scanned=len(seen),
            more_available=more,
            note="; ".join(dict.fromkeys(notes)) or None,
        )

    async def chat() -> None:
        port = connectors.chat
        if port is None:
            scans["chat"] = SourceScan(source="chat", status="not_connected")
            return
        scans["chat"] = await _collect(
            "chat",
            queries,
            lambda q, n, c: port.search_messages(q, limit=n, cursor=c),
            config.message_budget,
            config,
            messages,
        )

    async def tracker() -> None:
        port = connectors.tracker
        if port is None:
            scans["tracker"] = SourceScan(source="tracker", status="not_connected")
            return
        scans["tracker"] = await _collect(
            "tracker",
            queries,
            lambda q, n, c: port.search_issues(q, limit=n, cursor=c),
            config.issue_budget,
            config,
            issues,
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(support)
        tg.start_soon(chat)
        tg.start_soon(tracker)

    since, now = _aware(since), _aware(now)
    candidates = _candidates(tickets, messages, prior, since=since, now=now, limit=config.text_limit)
    matched: list[Report] = []
    for cand, verdict in zip(candidates, matcher.verdicts([c.text for c in candidates]), strict=True):
        if verdict.same:
            matched.append(
                Report(
                    source=cand.source,
                    id=cand.id,
                    customer=cand.customer,
                    at=cand.at,
                    title=cand.title,
                    score=verdict.score,
                    url=cand.url,
                    level=cand.level,
                )
            )
    counts: dict[SourceName, int] = {}
    for r in matched:
        counts[r.source] = counts.get(r.source, 0) + 1
    scans["ledger"] = SourceScan(source="ledger", status="ok", scanned=len(prior))
    for name, scan in scans.items():
        scans[name] = scan.model_copy(update={"matched": counts.get(name, 0)})

    customer_reports = sorted((r for r in matched if r.source != "chat"), key=lambda r: r.at)
    names: dict[str, str] = {}
    for r in customer_reports:
        if r.customer:
            names.setdefault(r.customer.strip().casefold(), r.customer.strip())
    if customer and customer.strip():
        names.setdefault(customer.strip().casefold(), customer.strip())
    customers = sorted(names.values(), key=str.casefold)

    timeline = _timeline(customer_reports, now, config)
    best = _tracker_match(issues, matcher.verdicts([_issue_text(i) for i in issues]), timeline.first_seen)
    if best is not None:
        scans["tracker"] = scans["tracker"].model_copy(update={"matched": 1})
    rising, trend = _severity(customer_reports, config)
    shown = sorted(matched, key=lambda r: (-r.score, r.at))[: config.max_reports]
    return RelatedReports(
        issue=clean(issue, limit=300),
        since=since,
        customers=customers,
        customer_count=len(customers),
        pattern=len(customers) >= config.min_customers,
        threshold=config.min_customers,
        reports=shown,
        report_count=len(matched),
        timeline=timeline,
        tracker_issue=best,
        regression=best is not None and best.regression,
        severity_rising=rising,
        severity_trend=trend,
        sources=[scans[name] for name in ("support", "chat", "tracker", "ledger")],
    )


async def _pages(
    fetch: Callable[[str, int, str | None], Awaitable[Page[T]]], query: str, budget: int, config: PatternConfig
) -> tuple[list[T], bool]:
    """Up to `budget` records for `query`, page by page; and whether more were left."""
    out: list[T] = []
    cursor: str | None = None
    while len(out) < budget:
        page = await fetch(query, min(config.page_size, budget - len(out)), cursor)
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out, False
    return out, cursor is not None or budget == 0


async def _collect(
    source: SourceName,
    queries: Sequence[str],
    fetch: Callable[[str, int, str | None], Awaitable[Page[R]]],
    budget: int,
    config: PatternConfig,
    into: list[R],
) -> SourceScan:
    """Every query's hits (deduplicated by id) into `into`; a failing query is noted, not fatal."""
    seen: dict[str, R] = {}
    more = False
    errors: list[str] = []
    for query in queries:
        try:
            got, left = await _pages(fetch, query, budget, config)
        except ConnectorError as exc:
            errors.append(exc.detail)
            continue
        more = more or left
        for record in got:
            seen.setdefault(record.id, record)
    into.extend(seen.values())
    status: Literal["ok", "failed"] = "failed" if errors and len(errors) == len(queries) else "ok"
    note = f"{len(errors)} of {len(queries)} searches failed: {errors[0]}" if errors else None
    return SourceScan(source=source, status=status, scanned=len(seen), more_available=more, note=note)


def _candidates(
    tickets: Sequence[Ticket],
    messages: Sequence[Message],
    prior: Sequence[PriorCase],
    *,
    since: datetime,
    now: datetime,
    limit: int,
) -> list[_Candidate]:
    """Everything fetched that falls inside the window, as comparable text (vendors may ignore `since`)."""
    from server.untrusted import clean  # on first use: see find_related

    out: list[_Candidate] = []
    for t in tickets:
        if since <= _aware(t.created_at) <= now:
            out.append(
                _Candidate(
                    source="support",
                    id=t.id,
                    customer=clean(t.customer, limit=120) if t.customer else None,
                    at=_aware(t.created_at),
                    title=clean(t.subject, limit=160),
                    text=f"{t.subject}. {t.body}"[:limit],
                    url=t.url,
                    level=t.priority,
                )
            )
    for m in messages:
        if since <= _aware(m.posted_at) <= now:
            out.append(
                _Candidate(
                    source="chat",
                    id=m.id,
                    customer=None,
                    at=_aware(m.posted_at),
                    title=clean(f"{m.channel}: {m.text}", limit=160),
                    text=m.text[:limit],
                    url=m.url,
                )
            )
    for p in prior:
        if since <= _aware(p.created_at) <= now:
            out.append(
                _Candidate(
                    source="ledger",
                    id=p.id,
                    customer=p.customer,
                    at=_aware(p.created_at),
                    title=clean(p.summary, limit=160),
                    text=p.summary[:limit],
                    level=p.severity,
                )
            )
    return out


def _aware(moment: datetime) -> datetime:
    """Naive times from a vendor are UTC; comparing them with aware ones would raise."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _issue_text(issue: TrackerIssue) -> str:
    return f"{issue.title}. {' '.join(label.replace('-', ' ') for label in issue.labels)}"


def _tracker_match(
    issues: Sequence[TrackerIssue], verdicts: Sequence[Verdict], first_seen: datetime | None
) -> TrackerMatch | None:
    """The best-scoring tracker issue about the same problem (bugs before tasks and features)."""
    from server.untrusted import clean  # on first use: see find_related

    best: tuple[tuple[bool, float], TrackerIssue, float] | None = None
    for issue, verdict in zip(issues, verdicts, strict=True):
        if not verdict.same:
            continue
        rank = (issue.kind == "bug", verdict.score)
        if best is None or rank > best[0]:
            best = (rank, issue, verdict.score)
    if best is None:
        return None
    _, issue, score = best
    regression = (
        issue.closed_as_fixed
        and issue.resolved_at is not None
        and first_seen is not None
        and _aware(issue.resolved_at) < first_seen
    )
    return TrackerMatch(
        id=issue.id,
        title=clean(issue.title, limit=160),
        status=issue.status,
        closed_as_fixed=issue.closed_as_fixed,
        resolved_at=issue.resolved_at,
        url=issue.url,
        score=score,
        regression=regression,
    )


def _timeline(reports: Sequence[Report], now: datetime, config: PatternConfig) -> Timeline:
    """First and last report, counts in the last day and week, and whether the pace is picking up."""
    if not reports:
        return Timeline()
    last_24h = sum(1 for r in reports if r.at > now - config.recent)
    last_7d = sum(1 for r in reports if r.at > now - config.week)
    rest_days = (config.week - config.recent) / config.recent
    baseline = (last_7d - last_24h) / rest_days if rest_days > 0 else 0.0
    return Timeline(
        first_seen=reports[0].at,
        last_seen=reports[-1].at,
        last_24h=last_24h,
        last_7d=last_7d,
        growing=last_24h >= 2 and last_24h >= config.growth_ratio * baseline,
    )


def _severity(reports: Sequence[Report], config: PatternConfig) -> tuple[bool, str | None]:
    """Whether the later half of the reports is clearly more severe than the earlier half."""
    levels = [_LEVELS[r.level.strip().lower()] for r in reports if r.level and r.level.strip().lower() in _LEVELS]
    if len(levels) < 3:
        return False, None
    half = len(levels) // 2
    early = sum(levels[:half]) / half
    late = sum(levels[-half:]) / half
    trend = f"{_LEVEL_NAMES[levels[0]]} first, {_LEVEL_NAMES[levels[-1]]} latest over {len(levels)} reports"
    return late - early >= config.severity_step, trend
