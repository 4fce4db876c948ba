"""`gather` over real vendor adapters and real sockets: every healthy source answers, the faulty one is labelled.

Zendesk, HubSpot, Slack, Jira and Notion are built as in production except for `base_url`, which
points each at its own loopback upstream (tests.connectors.loopback) that hands requests to the
vendor's fake. One source at a time is made to hang, fail, rate-limit, vanish or answer garbage.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import anyio
import pytest

from connectors import Category, Connectors
from server.context import ContextReport, SourceReport, gather
from tests.connectors.fakes.slack import BOT_TOKEN
from tests.connectors.loopback import (
    VENDORS,
    Delegate,
    Fails,
    Garbage,
    Hang,
    Loopback,
    Mode,
    RateLimited,
    refused,
    serve_all,
    vendor_adapters,
    vendor_fakes,
)
from tests.connectors.scenario import ANCHOR, SCENARIO, TOKEN

QUERY = "CSV export fails with a timeout"
CUSTOMER = "Globex"
SINCE = ANCHOR - timedelta(days=30)
LIMIT = 10
DEADLINE = 5.0  # for faults that must end long before it
HANG_DEADLINE = 1.0
MARGIN = 1.5  # what gathering may take beyond the deadline, on a busy machine
CATEGORIES: list[Category] = [category for category, _ in VENDORS]
ECHO = f"token {TOKEN} rejected by the upstream"
# The vendor echoes the token under every key the adapters' `describe` hooks read.
ECHOED: dict[str, Any] = {
    "object": "error",  # Notion's error shape
    "code": "internal_server_error",
    "ok": False,
    "error": ECHO,
    "message": ECHO,
    "description": ECHO,
    "errorMessages": [ECHO],
    "errors": {},
}
# Slack searches each keyword at once; a lasting failure opens the breaker mid-search, and the
# error that surfaces is the breaker's "not called: N failures in a row", which names no cause.

Fault = Literal["hangs", "fails", "rate_limits", "is_down", "answers_garbage"]
FAULTS: dict[Fault, Mode] = {
    "hangs": Hang(),
    "fails": Fails(500, ECHOED),
    "rate_limits": RateLimited("30", ECHOED),
    "answers_garbage": Garbage(),
}


@dataclass
class Fleet:
    connectors: Connectors
    upstreams: dict[Category, Loopback]  # the down source has none

    def credentials(self) -> set[str]:
        """Every credential the adapters sent (the Authorization value and its secret part), and the raw tokens."""
        sent: set[str] = {TOKEN, BOT_TOKEN}
        for upstream in self.upstreams.values():
            for request in upstream.seen:
                value = request.headers.get("authorization")
                if value:
                    sent |= {value, value.split(" ", 1)[-1]}
        return sent


@asynccontextmanager
async def fleet(faulty: Category | None = None, fault: Fault | None = None) -> AsyncGenerator[Fleet]:
    """The five vendors on loopback, serving the scenario; `faulty` misbehaves as `fault` says."""
    fakes = vendor_fakes(SCENARIO.shifted_to(ANCHOR))
    healthy: list[Category] = [c for c in CATEGORIES if not (c == faulty and fault == "is_down")]
    modes = [FAULTS[fault] if c == faulty and fault is not None else Delegate(fakes[c]) for c in healthy]
    async with AsyncExitStack() as stack:
        upstreams = dict(zip(healthy, await stack.enter_async_context(serve_all(*modes)), strict=True))
        urls: dict[Category, str] = {c: u.url for c, u in upstreams.items()}
        if faulty is not None and fault == "is_down":
            urls[faulty] = await stack.enter_async_context(refused())
        connectors = vendor_adapters(urls)
        stack.push_async_callback(connectors.aclose)
        yield Fleet(connectors, upstreams)


async def ask(connectors: Connectors, *, deadline: float) -> tuple[ContextReport, float]:
    started = anyio.current_time()
    report = await gather(connectors, QUERY, customer=CUSTOMER, since=SINCE, limit=LIMIT, deadline=deadline)
    return report, anyio.current_time() - started


def source(report: ContextReport, category: Category) -> SourceReport:
    return next(s for s in report.sources if s.category == category)


def records(report: ContextReport, category: Category) -> int:
    """How many records of `category` the report carries."""
    match category:
        case "support":
            return len(report.tickets)
        case "crm":
            return (report.account is not None) + len(report.deals)
        case "chat":
            return len(report.messages)
        case "tracker":
            return len(report.issues)
        case "knowledge":
            return len(report.articles)


def assert_the_others_answered(report: ContextReport, faulty: Category | None) -> None:
    for category in CATEGORIES:
        if category == faulty:
            continue
        answer = source(report, category)
        assert answer.status == "ok", answer
        assert answer.found > 0, answer
        assert records(report, category) == answer.found, answer


def assert_no_credential_in(report: ContextReport, fleet: Fleet) -> None:
    text = report.model_dump_json()
    for credential in fleet.credentials():
        assert credential not in text


async def test_every_healthy_vendor_answers_with_its_records():
    async with fleet() as vendors:
        report, _ = await ask(vendors.connectors, deadline=DEADLINE)

        assert_the_others_answered(report, None)
        assert [s.adapter for s in report.sources] == [name for _, name in VENDORS]
        assert report.findings.distinct_customers  # the sources' records were read together
        assert_no_credential_in(report, vendors)


@pytest.mark.parametrize("faulty", CATEGORIES)
async def test_a_hanging_vendor_times_out_at_the_deadline_while_the_others_answer(faulty: Category):
    async with fleet(faulty, "hangs") as vendors:
        report, elapsed = await ask(vendors.connectors, deadline=HANG_DEADLINE)

        assert elapsed >= HANG_DEADLINE * 0.9  # it did wait for the hanging one...
        assert elapsed < HANG_DEADLINE + MARGIN  # ...but not past its deadline
        hung = source(report, faulty)
        assert hung.status == "timed_out", hung
        assert hung.error == f"no answer within {HANG_DEADLINE:g} s"
        assert vendors.upstreams[faulty].total >= 1  # it was asked
        assert_the_others_answered(report, faulty)
        assert_no_credential_in(report, vendors)


@pytest.mark.parametrize("faulty", CATEGORIES)
async def test_a_vendor_failing_with_500_is_labelled_failed_with_the_status_while_the_others_answer(
    faulty: Category,
):
    async with fleet(faulty, "fails") as vendors:
        report, elapsed = await ask(vendors.connectors, deadline=DEADLINE)

        failed = source(report, faulty)
        assert failed.status == "failed", failed
        assert failed.error is not None
        assert "HTTP 500" in failed.error
        assert "[redacted]" in failed.error  # the vendor's message is kept, the token it echoed is not
        assert vendors.upstreams[faulty].total >= 2  # a read is retried before it is given up
        assert elapsed < DEADLINE
        assert_the_others_answered(report, faulty)
        assert_no_credential_in(report, vendors)


@pytest.mark.parametrize("faulty", CATEGORIES)
async def test_a_vendor_asking_for_a_pause_longer_than_the_deadline_fails_fast_as_rate_limited(faulty: Category):
    async with fleet(faulty, "rate_limits") as vendors:
        report, elapsed = await ask(vendors.connectors, deadline=DEADLINE)

        limited = source(report, faulty)
        assert limited.status == "failed", limited
        assert limited.error is not None
        assert limited.error.startswith("rate limited: rate limited (HTTP 429)")
        assert limited.elapsed_ms is not None
        assert limited.elapsed_ms < DEADLINE * 1000 * 0.8  # it did not sleep towards the 30 s asked for
        assert elapsed < DEADLINE
        asked = [str(r.url) for r in vendors.upstreams[faulty].seen]
        assert len(asked) == len(set(asked))  # each request once, then no more (Slack asks per keyword)
        assert_the_others_answered(report, faulty)
        assert_no_credential_in(report, vendors)


@pytest.mark.parametrize("faulty", CATEGORIES)
async def test_a_vendor_that_refuses_connections_is_labelled_failed_while_the_others_answer(faulty: Category):
    async with fleet(faulty, "is_down") as vendors:
        report, elapsed = await ask(vendors.connectors, deadline=DEADLINE)

        down = source(report, faulty)
        assert down.status == "failed", down
        assert down.error is not None
        assert "could not reach 127.0.0.1 (the connection was refused or the host is unknown)" in down.error
        assert elapsed < DEADLINE
        assert_the_others_answered(report, faulty)
        assert_no_credential_in(report, vendors)


@pytest.mark.parametrize("faulty", CATEGORIES)
async def test_a_vendor_answering_html_is_labelled_failed_not_json_while_the_others_answer(faulty: Category):
    async with fleet(faulty, "answers_garbage") as vendors:
        report, elapsed = await ask(vendors.connectors, deadline=DEADLINE)

        garbled = source(report, faulty)
        assert garbled.status == "failed", garbled
        assert garbled.error is not None
        assert "not JSON" in garbled.error
        assert elapsed < DEADLINE
        assert_the_others_answered(report, faulty)
        assert_no_credential_in(report, vendors)


async def test_the_faulty_sources_cost_no_healthy_one_its_answer_when_several_fail_at_once():
    fakes = vendor_fakes(SCENARIO.shifted_to(ANCHOR))
    modes: list[Mode] = [Hang(), Fails(503), Delegate(fakes["chat"]), Garbage(), RateLimited("30")]
    async with serve_all(*modes) as upstreams:
        connectors = vendor_adapters({c: u.url for c, u in zip(CATEGORIES, upstreams, strict=True)})
        try:
            report, elapsed = await ask(connectors, deadline=HANG_DEADLINE)
        finally:
            await connectors.aclose()

    assert elapsed < HANG_DEADLINE + MARGIN
    assert [s.status for s in report.sources] == ["timed_out", "failed", "ok", "failed", "failed"]
    assert source(report, "chat").found == len(report.messages) > 0
