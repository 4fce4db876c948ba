"""Realistic workspaces of any size, for answer-size, latency and scale tests.

`busy_workspace(tickets)` builds a `connectors.workspace.Workspace` that looks like a real
support team's export: a few thousand companies on three plans, long tickets with log
excerpts, JSON error bodies and stack traces, threads of public replies and internal notes,
chat chatter, tracker issues and knowledge articles. Everything is derived from `seed`, so
the same call always returns the same records, and it is quick (100,000 tickets in a few
seconds) so a test or a bench can build one on the spot.

Shape, for `tickets=n`:

- accounts: n // 20 (at least 3); plan enterprise (10%), growth (30%) or starter (60%) with an ARR
  to match, an owner, a renewal date, an IANA time zone and the ISO country that goes with it.
  Names are unique; the first three are always "Acme Corp", "Globex" and "Initech".
- deals: 0-2 per account, some of them renewals, some closed.
- tickets: ids "100000", "100001", ... in order of creation, spread evenly over the 365 days
  before `ANCHOR` (so a 30-day window holds about 8% of them, however many there are); each
  has 1-3 paragraphs, about one in three a log excerpt, a JSON error body or a stack trace,
  1-3 tags and 2-5 comments mixing public agent replies, customer replies and internal notes.
- messages: n // 2 chat messages over the same year in a handful of channels, some threaded.
- issues: n // 40 (at least 10) tracker issues, open or closed (some as fixed).
- articles: n // 100 (at least 10) knowledge articles of every kind.

The workspace's `anchor` is `ANCHOR`: `LocalWorkspace.open(path, now=...)` on a saved copy
shifts it to "now" as it does the demo; `LocalWorkspace(busy_workspace(n))` keeps the dates
as generated.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from connectors.models import Account, Article, Comment, Deal, Message, Ticket, TrackerIssue
from connectors.workspace import Workspace

T = TypeVar("T")

ANCHOR = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SPAN = timedelta(days=365)

_PLANS = [("enterprise", 0.1, 150_000, 900_000), ("growth", 0.3, 25_000, 150_000), ("starter", 0.6, 1_200, 25_000)]
_PLACES = [
    ("America/New_York", "US"),
    ("America/Los_Angeles", "US"),
    ("America/Chicago", "US"),
    ("Europe/London", "GB"),
    ("Europe/Berlin", "DE"),
    ("Europe/Paris", "FR"),
    ("Asia/Tokyo", "JP"),
    ("Asia/Seoul", "KR"),
    ("Australia/Sydney", "AU"),
    ("America/Sao_Paulo", "BR"),
    ("Asia/Kolkata", "IN"),
    ("America/Toronto", "CA"),
]
_SYLLABLES = ["ac", "me", "glo", "bex", "ini", "tech", "um", "brel", "la", "hoo", "li", "vand", "ley", "stark", "wayne",
              "tyr", "ell", "cyber", "dyne", "sov", "lent", "nak", "ato", "mi", "pied", "piper", "ros", "sum", "zor",
              "kin", "dal", "vex", "qua", "ril", "mon", "tera", "flux", "nova", "orb", "pix"]  # fmt: skip
_SUFFIXES = ["Corp", "Labs", "Health", "Logistics", "Systems", "Group", "Bank", "Retail", "Media", "Energy", "Foods",
             "Analytics", "Software", "Industries", "Partners", "Cloud"]  # fmt: skip
_OWNERS = ["Sam Rivera", "Katrin Vogel", "Priya Nair", "Dana Whitfield", "Kenji Mori", "Lucia Ortega", "Min-ji Park",
           "Tom Becker"]  # fmt: skip
_AGENTS = ["Alex (Support)", "Jordan (Support)", "Riley (Support)", "Morgan (Support)", "Yuki (Support)"]
_AREAS = ["export", "import", "webhooks", "sso", "billing", "api", "dashboard", "sync", "search", "notifications",
          "reports", "permissions", "mobile", "integrations", "audit-log"]  # fmt: skip
_SYMPTOMS = [
    ("returning 500 errors", "The {area} endpoint answers HTTP 500 for about a third of requests."),
    ("timing out", "Requests to {area} hang for thirty seconds and then fail with a gateway timeout."),
    ("very slow", "Loading {area} takes well over a minute where it used to take two seconds."),
    ("missing data", "Records created since yesterday do not show up in {area} at all."),
    ("duplicate records", "Every {area} run creates each record twice, so totals are doubled."),
    ("permission denied", "Admins get a permission denied error when they open {area}."),
    ("wrong totals", "The figures in {area} do not match what the invoice says."),
    ("stuck in pending", "Jobs in {area} sit in the pending state and never start."),
]
_CONTEXT = [
    "It started after the maintenance window on {day}.",
    "Nothing changed on our side as far as we can tell; the same setup worked last week.",
    "We tried clearing the cache, logging out and back in, and a different browser, with no luck.",
    "This blocks our month-end close, so finance is waiting on it.",
    "Our account team said the fix was rolled out, but we still see it this morning.",
    "It only happens for users in the EU workspace; the US one looks fine.",
    "Around two hundred of our users are affected, including the whole operations team.",
    "We have a board meeting on Friday and need the numbers before then.",
    "The problem comes and goes: it is worse at the top of the hour when the scheduled jobs run.",
    "We rotated the API key as suggested in the help centre, which did not change anything.",
    "Our integration partner reports the same behaviour for their other customers.",
    "Retrying a few minutes later sometimes works, which makes it hard to reproduce on demand.",
]
_REPLIES = [
    "Thanks for the report. Could you send the request ids of two failing calls and the time they happened?",
    "We have passed this to our engineering team and will update you as soon as we know more.",
    "A fix is being rolled out today; please let us know whether you still see the problem tomorrow.",
    "As a workaround, running the job with a smaller batch size avoids the timeout for now.",
    "Could you confirm which plan and region your workspace is on? That narrows down where to look.",
    "We are sorry for the trouble this causes your team; this has our full attention.",
]
_CUSTOMER_REPLIES = [
    "Still failing this morning, same error as before.",
    "Here are the request ids you asked for: req_7f3a91 and req_7f3b02, both around 09:40 UTC.",
    "The workaround helps, but we cannot keep running it by hand every night.",
    "Any update? Our leadership is asking for an ETA.",
    "It works again since this afternoon, thank you.",
]
_NOTES = [
    "Reproduced on their largest workspace; looks like the same root cause as last month's incident.",
    "Enterprise account, renewal in Q1: keep the account owner in the loop.",
    "Checked the logs: the upstream call times out after 30 s, our retry does not kick in.",
    "Linked to the open tracker issue; engineering is aware.",
    "Customer is frustrated; offered a call with the solutions engineer.",
]
_CHANNELS = ["#support-escalations", "#eng-api", "#eng-data", "#incidents", "#cs-enterprise", "#release-train"]
_CHAT = [
    "Anyone else seeing {area} {symptom} for {customer}?",
    "Deploy of the {area} service is out; watching error rates.",
    "{customer} is asking again about {area}; they say it is {symptom}.",
    "Rolled back the {area} change, the graphs look normal again.",
    "Heads up: {area} is {symptom} in the EU region, investigating.",
    "Post-mortem for last week's {area} incident is in the wiki.",
]
_ISSUE_STATUS = [
    ("Open", None, False),
    ("In Progress", None, False),
    ("Done", "Fixed", True),
    ("Done", "Won't Do", False),
]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_STATUSES = ["new", "open", "open", "pending", "solved", "closed"]
_PRIORITIES = ["low", "normal", "normal", "high", "urgent"]
_ARTICLE_KINDS = ["known_issue", "workaround", "how_to", "limitation", "reference"]


def busy_workspace(tickets: int, *, seed: int = 0) -> Workspace:
    """A realistic workspace with `tickets` tickets and everything around them, the same for the same seed."""
    rng = random.Random(seed)
    with _no_collection():
        accounts = _accounts(rng, max(3, tickets // 20))
        return Workspace(
            anchor=ANCHOR,
            accounts=accounts,
            deals=_deals(rng, accounts),
            tickets=_tickets(rng, tickets, accounts),
            messages=_messages(rng, tickets // 2, accounts),
            issues=_issues(rng, max(10, tickets // 40)),
            articles=_articles(rng, max(10, tickets // 100)),
        )


@contextmanager
def _no_collection() -> Generator[None]:
    """Pause the cyclic garbage collector: millions of new objects, none of them cyclic, set off
    full collections over and over, which makes a large workspace quadratic to build."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _moments(rng: random.Random, count: int) -> list[datetime]:
    """`count` instants over the year before the anchor, oldest first."""
    draw = rng.random
    return [ANCHOR - SPAN * s for s in sorted((draw() for _ in range(count)), reverse=True)]


def _accounts(rng: random.Random, count: int) -> list[Account]:
    names = ["Acme Corp", "Globex", "Initech"]
    taken = set(names)
    while len(names) < count:
        stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
        name = f"{stem} {rng.choice(_SUFFIXES)}"
        if name in taken:
            name = f"{name} {len(names)}"
        taken.add(name)
        names.append(name)
    found: list[Account] = []
    for i, name in enumerate(names[:count]):
        plan, _, low, high = rng.choices(_PLANS, weights=[p[1] for p in _PLANS])[0]
        zone, country = rng.choice(_PLACES)
        found.append(
            Account(
                id=f"acc_{i:06d}",
                name=name,
                domain=f"{name.lower().replace(' ', '-')}.example",
                arr=float(rng.randrange(low, high, 100)),
                plan=plan,
                renewal_date=date(2027, 1, 1) + timedelta(days=rng.randrange(365)),
                owner=rng.choice(_OWNERS),
                reference_customer=plan == "enterprise" and rng.random() < 0.3,
                health=rng.choice(["good", "good", "at_risk", "poor"]),
                timezone=zone,
                country=country,
            )
        )
    return found


def _deals(rng: random.Random, accounts: list[Account]) -> list[Deal]:
    deals: list[Deal] = []
    for account in accounts:
        for n in range(rng.randint(0, 2)):
            renewal = rng.random() < 0.5
            deals.append(
                Deal(
                    id=f"deal_{account.id}_{n}",
                    account_id=account.id,
                    name=f"{account.name} {'renewal' if renewal else 'expansion'}",
                    amount=float(rng.randrange(5_000, 400_000, 500)),
                    stage=rng.choice(["prospecting", "proposal", "negotiation", "closed_won", "closed_lost"]),
                    close_date=date(2027, 1, 1) + timedelta(days=rng.randrange(-120, 240)),
                    renewal=renewal,
                )
            )
    return deals


def _attachment(rng: random.Random, area: str, at: datetime) -> str:
    """A log excerpt, a JSON error body or a stack trace, as customers paste them."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    request = f"req_{rng.getrandbits(40):010x}"
    match rng.randrange(3):
        case 0:
            return "\n".join(
                f"{stamp} {level} {area}.worker request_id={request} status={status} "
                f"latency_ms={rng.randint(20, 30_000)}"
                for level, status in [("INFO", 200), ("WARN", 429), ("ERROR", 500), ("ERROR", 504)]
            )
        case 1:
            return (
                '{"error": {"code": "internal_error", "status": 500, '
                f'"message": "upstream {area} service did not answer in time", "request_id": "{request}"}}}}'
            )
        case _:
            return (
                "Traceback (most recent call last):\n"
                f'  File "/srv/app/{area}/jobs.py", line {rng.randint(40, 400)}, in run\n'
                "    result = client.fetch(batch)\n"
                '  File "/srv/app/clients/http.py", line 88, in fetch\n'
                "    raise UpstreamTimeout(url)\n"
                f"UpstreamTimeout: https://api.example.com/v2/{area}?page={rng.randint(1, 90)}"
            )


def _tickets(rng: random.Random, count: int, accounts: list[Account]) -> list[Ticket]:
    # Drawing every sentence anew makes 100,000 tickets take ten seconds; a pool of a few thousand
    # paragraphs, combined one to three at a time, keeps bodies varied and generation quick.
    paragraphs = [
        " ".join([rng.choice(_SYMPTOMS)[1].format(area=rng.choice(_AREAS)), *rng.sample(_CONTEXT, 3)]).format(
            day=rng.choice(_WEEKDAYS)
        )
        for _ in range(4096)
    ]
    attachments = [_attachment(rng, rng.choice(_AREAS), ANCHOR - SPAN * rng.random()) for _ in range(1024)]
    thread = [
        *((a, b, True) for a in _AGENTS for b in _REPLIES),
        *((None, b, True) for b in _CUSTOMER_REPLIES for _ in range(4)),
        *((a, b, False) for a in _AGENTS for b in _NOTES),
    ]
    tags = [[*rng.sample(_AREAS, rng.randint(0, 2))] for _ in range(512)]
    pick = _picker(rng)
    draw = rng.random
    found: list[Ticket] = []
    for i, at in enumerate(_moments(rng, count)):
        account = pick(accounts)
        area = pick(_AREAS)
        symptom, _ = pick(_SYMPTOMS)
        body = [pick(paragraphs) for _ in range(1 + int(draw() * 3))]
        if draw() < 0.35:
            body.append(pick(attachments))
        requester = f"ops@{account.domain}"
        comments: list[Comment] = []
        moment = at
        for _ in range(2 + int(draw() * 4)):
            moment += timedelta(minutes=5 + int(draw() * 600))
            author, text, public = pick(thread)
            comments.append(Comment(author=author or requester, body=text, created_at=moment, public=public))
        tid = str(100_000 + i)
        found.append(
            Ticket(
                id=tid,
                subject=f"{area.replace('-', ' ').capitalize()} {symptom}",
                body="\n\n".join(body),
                customer=account.name,
                requester=requester,
                status=pick(_STATUSES),
                priority=pick(_PRIORITIES),
                created_at=at,
                updated_at=moment,
                tags=[*pick(tags), area],
                url=f"https://support.example.com/tickets/{tid}",
                comments=comments,
            )
        )
    return found


def _picker(rng: random.Random) -> Callable[[Sequence[T]], T]:
    """`rng.choice` without its per-call overhead, which dominates generating a large workspace."""
    draw = rng.random

    def pick(items: Sequence[T]) -> T:
        return items[int(draw() * len(items))]

    return pick


def _messages(rng: random.Random, count: int, accounts: list[Account]) -> list[Message]:
    pick = _picker(rng)
    draw = rng.random
    authors = _AGENTS + _OWNERS
    found: list[Message] = []
    for i, at in enumerate(_moments(rng, count)):
        symptom, _ = pick(_SYMPTOMS)
        text = pick(_CHAT).format(area=pick(_AREAS), symptom=symptom, customer=pick(accounts).name)
        found.append(
            Message(
                id=f"msg_{i:07d}",
                channel=pick(_CHANNELS),
                author=pick(authors),
                text=text,
                posted_at=at,
                url=f"https://chat.example.com/archives/msg_{i:07d}",
                thread_id=f"msg_{int(draw() * i):07d}" if i and draw() < 0.3 else None,
            )
        )
    return found


def _issues(rng: random.Random, count: int) -> list[TrackerIssue]:
    found: list[TrackerIssue] = []
    for i, at in enumerate(_moments(rng, count)):
        area = rng.choice(_AREAS)
        symptom, _ = rng.choice(_SYMPTOMS)
        status, resolution, fixed = rng.choice(_ISSUE_STATUS)
        key = f"ENG-{1000 + i}"
        found.append(
            TrackerIssue(
                id=key,
                title=f"{area.capitalize()} {symptom} for some workspaces",
                status=status,
                kind=rng.choice(["bug", "bug", "bug", "feature", "task"]),
                resolution=resolution,
                closed_as_fixed=fixed,
                resolved_at=at + timedelta(days=rng.randint(1, 30)) if resolution else None,
                created_at=at,
                url=f"https://tracker.example.com/browse/{key}",
                labels=[area, rng.choice(["customer-reported", "regression", "sev2", "sev3"])],
            )
        )
    return found


def _articles(rng: random.Random, count: int) -> list[Article]:
    found: list[Article] = []
    for i, at in enumerate(_moments(rng, count)):
        area = rng.choice(_AREAS)
        symptom, detail = rng.choice(_SYMPTOMS)
        found.append(
            Article(
                id=f"KB-{i:05d}",
                title=f"{area.capitalize()} {symptom}: causes and workarounds",
                snippet=f"{detail.format(area=area)} {rng.choice(_REPLIES)}",
                kind=rng.choice(_ARTICLE_KINDS),  # type: ignore[arg-type]  # one of the Literal's values
                url=f"https://help.example.com/articles/{area}-{i}",
                updated_at=at,
            )
        )
    return found
