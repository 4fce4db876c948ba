"""One small workspace every adapter is checked against: the local one loads it, each fake vendor serves it.

Five tickets about a failing CSV export from three customers, and two about other things;
chat, tracker and knowledge records that do and do not match. Timestamps are relative to
`ANCHOR` and shifted to the test's "now".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from connectors.models import Account, Article, Comment, Deal, Message, Ticket, TrackerIssue
from connectors.workspace import Workspace

ANCHOR = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def ago(days: float = 0, hours: float = 0) -> datetime:
    return ANCHOR - timedelta(days=days, hours=hours)


ACCOUNTS = [
    Account(
        id="1001",
        name="Globex",
        domain="globex.com",
        arr=250_000,
        plan="Enterprise",
        renewal_date=date(2027, 1, 15),
        owner="Dana Scully",
        timezone="America/New_York",
        country="US",
    ),
    Account(id="1002", name="Initech", domain="initech.io", arr=40_000, plan="Growth", country="DE"),
    Account(id="1003", name="Acme Corp", domain="acme.example", arr=120_000, plan="Enterprise", country="GB"),
]
DEALS = [
    Deal(id="5001", account_id="1001", name="Globex expansion", amount=80_000, stage="negotiation"),
    Deal(id="5002", account_id="1001", name="Globex 2025 renewal", amount=200_000, stage="closed_won", renewal=True),
    Deal(
        id="5003", account_id="1003", name="Acme Corp 2027 renewal", amount=120_000, stage="negotiation", renewal=True
    ),
]
TICKETS = [
    Ticket(
        id="101",
        subject="CSV export fails with a timeout",
        body="Our nightly CSV export stops with a timeout since Monday.",
        customer="Globex",
        requester="ops@globex.com",
        status="open",
        priority="high",
        created_at=ago(hours=3),
        tags=["export"],
        comments=[
            Comment(author="ops@globex.com", body="Still failing this morning.", created_at=ago(hours=2), public=True),
            Comment(
                author="Agent Smith",
                body="Reproduced on their largest workspace.",
                created_at=ago(hours=1),
                public=False,
            ),
        ],
    ),
    Ticket(
        id="102",
        subject="Export to CSV never finishes",
        body="The export spinner runs forever for our finance team.",
        customer="Initech",
        requester="bill@initech.io",
        status="open",
        priority="normal",
        created_at=ago(days=1),
    ),
    Ticket(
        id="103",
        subject="Password reset email not arriving",
        body="Users do not receive the reset email.",
        customer="Initech",
        requester="peter@initech.io",
        status="pending",
        priority="low",
        created_at=ago(days=2),
    ),
    Ticket(
        id="104",
        subject="CSV export missing rows",
        body="The export drops rows after the first 10,000.",
        customer="Acme Corp",
        requester="it@acme.example",
        status="open",
        priority="high",
        created_at=ago(days=3),
    ),
    Ticket(
        id="105",
        subject="Export times out again",
        body="Same export timeout as last week, on the CSV download.",
        customer="Globex",
        requester="cfo@globex.com",
        status="new",
        priority="urgent",
        created_at=ago(days=4),
    ),
    Ticket(
        id="106",
        subject="Invoice address change",
        body="Please update the billing address on our invoices.",
        customer="Acme Corp",
        requester="ap@acme.example",
        status="solved",
        created_at=ago(days=5),
    ),
    Ticket(
        id="107",
        subject="Scheduled export emails arrive late",
        body="The weekly export email comes hours after the schedule.",
        customer="Initech",
        requester="bill@initech.io",
        status="open",
        created_at=ago(days=40),
    ),
]
MESSAGES = [
    Message(
        id="m1",
        channel="support-escalations",
        author="alice",
        text="Globex says the CSV export times out again",
        posted_at=ago(hours=2),
    ),
    Message(
        id="m2",
        channel="eng-data",
        author="bob",
        text="Export workers are saturated since the deploy",
        posted_at=ago(hours=5),
    ),
    Message(id="m3", channel="random", author="carol", text="Lunch order is in", posted_at=ago(hours=6)),
    Message(
        id="m4",
        channel="support-escalations",
        author="alice",
        text="Initech export spinner never finishes",
        posted_at=ago(days=1),
    ),
]
ISSUES = [
    TrackerIssue(
        id="ENG-1",
        title="CSV export times out on large workspaces",
        status="Done",
        kind="bug",
        resolution="Fixed",
        closed_as_fixed=True,
        resolved_at=ago(days=30),
        created_at=ago(days=60),
        labels=["export"],
    ),
    TrackerIssue(
        id="ENG-2",
        title="Export spinner never finishes",
        status="In Progress",
        kind="bug",
        created_at=ago(days=1),
        labels=["export", "ui"],
    ),
    TrackerIssue(
        id="ENG-3", title="Dark mode for the dashboard", status="Backlog", kind="feature", created_at=ago(days=90)
    ),
]
ARTICLES = [
    Article(
        id="a1",
        title="Workaround: export in smaller date ranges",
        snippet="Split a large CSV export into monthly ranges until the timeout fix ships.",
        kind="workaround",
        updated_at=ago(days=2),
    ),
    Article(
        id="a2",
        title="Known issue: CSV export timeouts",
        snippet="Exports over 1M rows may time out.",
        kind="known_issue",
        updated_at=ago(days=10),
    ),
    Article(
        id="a3",
        title="How to reset your password",
        snippet="Send a reset link from the login page.",
        kind="how_to",
        updated_at=ago(days=100),
    ),
]

SCENARIO = Workspace(
    anchor=ANCHOR,
    accounts=ACCOUNTS,
    deals=DEALS,
    tickets=TICKETS,
    messages=MESSAGES,
    issues=ISSUES,
    articles=ARTICLES,
)

EXPORT_TICKETS = {"101", "102", "104", "105", "107"}  # every ticket that mentions the export
EXPORT_MESSAGES = {"m1", "m2", "m4"}
EXPORT_ISSUES = {"ENG-1", "ENG-2"}
EXPORT_ARTICLES = {"a1", "a2"}
TOKEN = "tok-s3cr3t-0123456789abcdef"  # what every fake vendor accepts; must never appear in an error
