"""The embedded workspace: every port on SQLite, searched, paged and written idempotently."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import pytest

from connectors import CRM, Chat, KnowledgeBase, SupportPlatform, Tracker, local
from connectors import workspace as workspace_module
from connectors.errors import InvalidCursorError, NotFoundError
from connectors.local import LocalWorkspace
from connectors.models import Account, Ticket
from connectors.workspace import Workspace, WorkspaceFileError, load_workspace, read_records
from tests.workspaces import ANCHOR as BUSY_ANCHOR
from tests.workspaces import busy_workspace

ANCHOR = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # the demo's anchor
ACME_TICKETS = ["4821", "4818", "4812", "4777"]  # newest first


@pytest.fixture
def workspace() -> LocalWorkspace:
    return LocalWorkspace.open(now=ANCHOR)


def test_the_local_workspace_serves_every_port(workspace: LocalWorkspace):
    for port in (SupportPlatform, CRM, Chat, Tracker, KnowledgeBase):
        assert isinstance(workspace, port)


async def test_tickets_can_be_limited_to_one_customer_in_any_case(workspace: LocalWorkspace):
    page = await workspace.search_tickets("", customer="ACME corp", limit=50)

    assert [t.id for t in page.items] == ACME_TICKETS
    assert page.next_cursor is None


async def test_tickets_can_be_limited_to_those_created_since_a_moment(workspace: LocalWorkspace):
    since = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)

    page = await workspace.search_tickets("", since=since, limit=50)

    assert [t.id for t in page.items] == ["4824", "4822", "4821", "4820", "4819"]
    assert all(t.created_at >= since for t in page.items)


@pytest.mark.parametrize("zone", ["Asia/Seoul", "America/Los_Angeles"])
async def test_since_means_the_same_instant_whatever_its_utc_offset(workspace: LocalWorkspace, zone: str):
    since = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)

    in_utc = await workspace.search_tickets("", since=since, limit=50)
    elsewhere = await workspace.search_tickets("", since=since.astimezone(ZoneInfo(zone)), limit=50)

    assert [t.id for t in elsewhere.items] == [t.id for t in in_utc.items]


async def test_customer_since_and_text_combine(workspace: LocalWorkspace):
    page = await workspace.search_tickets(
        "orders 500", customer="Acme Corp", since=datetime(2026, 11, 19, tzinfo=UTC), limit=50
    )

    assert [t.id for t in page.items] == ["4818"]


async def test_a_search_pages_through_every_match_with_cursors(workspace: LocalWorkspace):
    everything = await workspace.search_tickets("export", limit=50)
    seen: list[Ticket] = []
    cursors: list[str | None] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: the five matches take three pages
        page = await workspace.search_tickets("export", limit=2, cursor=cursor)
        seen.extend(page.items)
        cursor = page.next_cursor
        cursors.append(cursor)
        if cursor is None:
            break

    assert [c is None for c in cursors] == [False, False, True]  # three pages of two, two and one
    assert [t.id for t in seen] == [t.id for t in everything.items]
    assert len(everything.items) == 5


async def test_every_search_pages_the_same_way(workspace: LocalWorkspace):
    messages = await workspace.search_messages("export", limit=1)
    issues = await workspace.search_issues("export", limit=1)
    articles = await workspace.search_articles("export", limit=1)

    assert [p.truncated for p in (messages, issues, articles)] == [True, True, True]
    assert [p.next_cursor and p.next_cursor.split(".")[0] for p in (messages, issues, articles)] == ["1", "1", "1"]


@pytest.mark.parametrize("cursor", ["abc", "-1", "2.5", "2", "", "2.zzzzzzzz"])
async def test_a_cursor_this_workspace_did_not_issue_is_refused_with_a_clear_message(
    workspace: LocalWorkspace, cursor: str
):
    with pytest.raises(InvalidCursorError, match="is not one this source issued; start again without a cursor"):
        await workspace.search_tickets("export", cursor=cursor)


async def test_a_cursor_from_another_search_is_refused(workspace: LocalWorkspace):
    tickets = await workspace.search_tickets("export", limit=1)
    assert tickets.next_cursor is not None

    with pytest.raises(InvalidCursorError) as caught:
        await workspace.search_messages("export", cursor=tickets.next_cursor)
    with pytest.raises(InvalidCursorError):
        await workspace.search_tickets("login", cursor=tickets.next_cursor)
    with pytest.raises(InvalidCursorError):
        await workspace.accounts_on_plan("enterprise", cursor=tickets.next_cursor)

    assert caught.value.source == "local"
    assert not isinstance(caught.value, ValueError)


async def test_get_ticket_returns_the_ticket_with_its_comments(workspace: LocalWorkspace):
    ticket = await workspace.get_ticket("4812")

    assert (ticket.customer, ticket.created_at) == ("Acme Corp", datetime(2026, 11, 18, 19, 5, tzinfo=UTC))
    assert ticket.comments


async def test_get_ticket_for_an_unknown_id_is_not_found(workspace: LocalWorkspace):
    with pytest.raises(NotFoundError, match="no ticket with id '9999'") as caught:
        await workspace.get_ticket("9999")

    assert caught.value.source == "local"


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("Globex", ["Globex"]),
        ("hooli.example", ["Hooli"]),
        ("UMBRELLA", ["Umbrella Health"]),
        ("st", ["Stark Logistics"]),
        ("nobody", []),
    ],
)
async def test_accounts_are_found_by_name_or_domain(workspace: LocalWorkspace, query: str, names: list[str]):
    assert [a.name for a in await workspace.search_accounts(query)] == names


async def test_an_exact_name_comes_before_a_prefix_which_comes_before_a_substring(tmp_path: Path):
    file = tmp_path / "workspace.json"
    accounts = [
        Account(id="a3", name="Big Acme", domain="bigacme.example"),
        Account(id="a2", name="Acme Corp", domain="acmecorp.example"),
        Account(id="a1", name="Acme", domain="acme.example"),
    ]
    file.write_text(Workspace(accounts=accounts).model_dump_json(), "utf-8")
    workspace = LocalWorkspace.open(file)

    assert [a.name for a in await workspace.search_accounts("acme")] == ["Acme", "Acme Corp", "Big Acme"]
    assert [a.name for a in await workspace.search_accounts("acme", limit=1)] == ["Acme"]


async def test_account_search_matches_inside_names_and_domains_and_takes_quotes_and_wildcards_literally(
    tmp_path: Path,
):
    file = tmp_path / "workspace.json"
    accounts = [
        Account(id="a1", name='The "Quoted" Co', domain="quoted.example"),
        Account(id="a2", name="100% Uptime_Labs", domain="uptime-labs.example"),
        Account(id="a3", name="Nordwind Logistik", domain="nordwind.de"),
        Account(id="a4", name="Bürogeräte Weiß", domain="buero.example"),
    ]
    file.write_text(Workspace(accounts=accounts).model_dump_json(), "utf-8")
    workspace = LocalWorkspace.open(file)

    async def names(query: str) -> list[str]:
        return [a.name for a in await workspace.search_accounts(query)]

    assert await names("wind logi") == ["Nordwind Logistik"]  # inside the name, across a space
    assert await names("WIND.DE") == ["Nordwind Logistik"]  # inside the domain, any case
    assert await names('"quoted"') == ['The "Quoted" Co']
    assert await names("0% up") == ["100% Uptime_Labs"]  # % and _ are characters, not wildcards
    assert await names("s_la") == []
    assert await names("geräte") == ["Bürogeräte Weiß"]
    assert await names("nd") == ["Nordwind Logistik"]  # shorter than a trigram: still found
    assert await names("") == sorted(a.name for a in accounts)


async def test_accounts_are_looked_up_in_bulk_by_exact_name_or_domain_in_any_ascii_case(workspace: LocalWorkspace):
    found = await workspace.accounts_named(["GLOBEX", "hooli.example", "Acme", "nobody", "Globex"])

    assert sorted(a.name for a in found) == ["Globex", "Hooli"]  # "Acme" is only a part of "Acme Corp"
    assert await workspace.accounts_named([]) == []


async def test_open_deals_in_bulk_answer_every_account_asked_as_one_at_a_time_would(workspace: LocalWorkspace):
    asked = ["acc_acme", "acc_globex", "ACC_ACME", "acc_nobody"]

    bulk = await workspace.open_deals_of(asked)

    assert list(bulk) == ["acc_acme", "acc_globex", "ACC_ACME", "acc_nobody"]
    for account_id in asked:
        assert [d.id for d in bulk[account_id]] == [d.id for d in await workspace.open_deals(account_id)]
    assert [d.id for d in bulk["acc_acme"]] == ["deal_acme_expansion"]


async def test_open_deals_leave_out_closed_stages(workspace: LocalWorkspace):
    assert [d.id for d in await workspace.open_deals("acc_acme")] == ["deal_acme_expansion"]
    assert await workspace.open_deals("acc_globex") == []  # closed_won only
    assert await workspace.open_deals("acc_initech") == []


async def test_an_internal_note_written_twice_with_one_key_lands_once(workspace: LocalWorkspace):
    before = len((await workspace.get_ticket("4812")).comments)

    first = await workspace.add_internal_note("4812", "Escalated to engineering", idempotency_key="k1")
    again = await workspace.add_internal_note("4812", "Escalated to engineering", idempotency_key="k1")

    comments = (await workspace.get_ticket("4812")).comments
    assert len(comments) == before + 1
    assert (comments[-1].body, comments[-1].public) == ("Escalated to engineering", False)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.id == first.id


async def test_a_note_on_an_unknown_ticket_is_not_found(workspace: LocalWorkspace):
    with pytest.raises(NotFoundError):
        await workspace.add_internal_note("9999", "hello", idempotency_key="k-missing")


async def test_a_chat_message_posted_twice_with_one_key_lands_once(workspace: LocalWorkspace):
    first = await workspace.post_message("#eng-data", "zyzzyva escalation", idempotency_key="m1")
    again = await workspace.post_message("#eng-data", "zyzzyva escalation", idempotency_key="m1")

    found = await workspace.search_messages("zyzzyva")
    assert [m.id for m in found.items] == [first.id]
    assert (first.duplicate, again.duplicate, again.id) == (False, True, first.id)


async def test_a_tracker_issue_created_twice_with_one_key_lands_once(workspace: LocalWorkspace):
    first = await workspace.create_issue("Zyzzyva export bug", "details", labels=["export"], idempotency_key="i1")
    again = await workspace.create_issue("Zyzzyva export bug", "details", labels=["export"], idempotency_key="i1")

    found = await workspace.search_issues("zyzzyva")
    assert [i.id for i in found.items] == [first.id]
    assert (first.duplicate, again.duplicate, again.id) == (False, True, first.id)
    assert found.items[0].status == "Open"


async def test_different_keys_write_twice(workspace: LocalWorkspace):
    first = await workspace.post_message("#eng-data", "zyzzyva", idempotency_key="a")
    second = await workspace.post_message("#eng-data", "zyzzyva", idempotency_key="b")

    assert first.id != second.id
    assert not second.duplicate
    assert len((await workspace.search_messages("zyzzyva")).items) == 2


async def test_one_key_used_by_different_kinds_of_write_does_not_collide(workspace: LocalWorkspace):
    message = await workspace.post_message("#eng-data", "zyzzyva", idempotency_key="shared")
    issue = await workspace.create_issue("Zyzzyva", "body", labels=[], idempotency_key="shared")

    assert (message.duplicate, issue.duplicate) == (False, False)


async def test_the_demo_is_shifted_so_its_anchor_lands_on_now(workspace: LocalWorkspace):
    shift = timedelta(days=10, hours=3)

    shifted = LocalWorkspace.open(now=ANCHOR + shift)

    original, moved = await workspace.get_ticket("4812"), await shifted.get_ticket("4812")
    assert moved.created_at == datetime(2026, 11, 18, 19, 5, tzinfo=UTC) + shift
    assert [c.created_at for c in moved.comments] == [c.created_at + shift for c in original.comments]
    [acme] = await shifted.search_accounts("Acme Corp")
    assert acme.renewal_date == date(2027, 2, 3) + timedelta(days=10)  # dates move by whole days


def test_a_workspace_without_an_anchor_is_not_shifted():
    workspace = Workspace(tickets=[Ticket(id="1", subject="s", body="b", status="open", created_at=ANCHOR)])

    assert workspace.shifted_to(ANCHOR + timedelta(days=300)) is workspace


def test_the_shifted_demo_has_no_anchor_left():
    demo = load_workspace(None)

    assert demo.anchor == ANCHOR
    assert demo.shifted_to(ANCHOR + timedelta(days=1)).anchor is None


async def test_a_written_internal_note_is_searchable_and_the_ticket_is_found_once(workspace: LocalWorkspace):
    await workspace.add_internal_note("4812", "Zyzzyva cluster rebooted", idempotency_key="n1")
    await workspace.add_internal_note("4812", "Zyzzyva cluster rebooted again", idempotency_key="n2")

    noted = await workspace.search_tickets("zyzzyva", limit=50)
    everything = await workspace.search_tickets("", limit=50)

    assert [t.id for t in noted.items] == ["4812"]
    assert [c.body for c in noted.items[0].comments][-2:] == [
        "Zyzzyva cluster rebooted",
        "Zyzzyva cluster rebooted again",
    ]
    ids = [t.id for t in everything.items]
    assert len(ids) == len(set(ids))


async def test_a_replaced_ticket_no_longer_matches_words_only_its_old_version_had(tmp_path: Path):
    old = Ticket(id="1", subject="Quokka export", body="b", status="open", created_at=ANCHOR)
    new = old.model_copy(update={"subject": "Wombat export"})
    file = tmp_path / "workspace.json"
    file.write_text(Workspace(tickets=[old, new]).model_dump_json(), "utf-8")  # the file's last version wins
    workspace = LocalWorkspace.open(file)

    assert (await workspace.search_tickets("quokka")).items == []
    assert [t.subject for t in (await workspace.search_tickets("wombat export")).items] == ["Wombat export"]
    assert len((await workspace.search_tickets("export")).items) == 1


async def test_the_time_window_applies_before_ranking_so_the_best_older_match_does_not_crowd_out_the_page():
    # Forty old tickets match every word; the one recent ticket matches only one. Ranking first and then
    # cutting to the limit would return nothing from the window.
    old = [
        Ticket(id=f"old-{i}", subject="Export timeout export timeout", body="export timeout", status="open",
               created_at=ANCHOR - timedelta(days=60, minutes=i))
        for i in range(40)
    ]  # fmt: skip
    recent = Ticket(id="recent", subject="Export is slow", body="b", status="open", created_at=ANCHOR)
    workspace = LocalWorkspace(Workspace(tickets=[*old, recent]))

    page = await workspace.search_tickets("export timeout", since=ANCHOR - timedelta(days=7), limit=5)

    assert [t.id for t in page.items] == ["recent"]
    assert page.next_cursor is None


async def test_the_better_match_in_the_window_comes_first():
    tickets = [
        Ticket(id="one-word", subject="Export", body="b", status="open", created_at=ANCHOR),
        Ticket(
            id="two-words", subject="Export timeout", body="b", status="open", created_at=ANCHOR - timedelta(hours=1)
        ),
    ]
    workspace = LocalWorkspace(Workspace(tickets=tickets))

    page = await workspace.search_tickets("export timeout", since=ANCHOR - timedelta(days=1))

    assert [t.id for t in page.items] == ["two-words", "one-word"]


async def test_searches_run_side_by_side_and_each_gets_its_own_answer(workspace: LocalWorkspace):
    alone = {
        "tickets": [t.id for t in (await workspace.search_tickets("export", limit=50)).items],
        "messages": [m.id for m in (await workspace.search_messages("export", limit=50)).items],
        "issues": [i.id for i in (await workspace.search_issues("export", limit=50)).items],
    }
    together: dict[str, list[str]] = {}

    async def tickets() -> None:
        together["tickets"] = [t.id for t in (await workspace.search_tickets("export", limit=50)).items]

    async def messages() -> None:
        together["messages"] = [m.id for m in (await workspace.search_messages("export", limit=50)).items]

    async def issues() -> None:
        together["issues"] = [i.id for i in (await workspace.search_issues("export", limit=50)).items]

    async def note() -> None:  # a write in the middle of the reads
        await workspace.add_internal_note("4812", "noted meanwhile", idempotency_key="side")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(tickets)
                group.start_soon(messages)
                group.start_soon(issues)
            group.start_soon(note)

    assert together == alone
    assert all(alone.values())


def test_two_searches_on_separate_threads_are_in_the_database_at_the_same_time(workspace: LocalWorkspace):
    # Each search holds a read connection of its own: the second starts while the first is still inside
    # SQLite. A workspace behind one lock would block the second thread until the first returned.
    inside = threading.Barrier(2, timeout=10)
    connections: list[sqlite3.Connection] = []

    def meet(db: sqlite3.Connection) -> int:
        connections.append(db)
        db.create_function("meet", 0, inside.wait)
        row: tuple[int] = db.execute("SELECT meet() FROM records LIMIT 1").fetchone()
        return row[0]

    async def both() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(workspace._read, meet)  # pyright: ignore[reportPrivateUsage]  # the seam under test
            group.start_soon(workspace._read, meet)  # pyright: ignore[reportPrivateUsage]

    anyio.run(both)

    assert len({id(c) for c in connections}) == 2


def test_a_closed_workspace_leaves_no_file_behind(tmp_path: Path):
    workspace = LocalWorkspace.open(None, now=ANCHOR)
    folder = workspace._db.directory  # pyright: ignore[reportPrivateUsage]  # where its database lives
    assert folder.exists()

    workspace.close()

    assert not folder.exists()


def test_a_broken_workspace_file_names_the_problem_and_where(tmp_path: Path):
    file = tmp_path / "workspace.json"
    file.write_text('{"tickets": [{"id": "1", "subject": "s", "body": "b", "status": "open"}]}', "utf-8")

    with pytest.raises(WorkspaceFileError, match=r"tickets\[0\] is not valid \(created_at: Field required\)"):
        LocalWorkspace.open(file)


def test_a_file_with_its_anchor_last_is_shifted_like_one_with_it_first(tmp_path: Path):
    demo = load_workspace(None)
    file = tmp_path / "workspace.json"
    text = demo.model_dump_json(exclude={"anchor"})
    file.write_text(text[:-1] + f', "anchor": "{ANCHOR.isoformat()}"}}', "utf-8")
    later = ANCHOR + timedelta(days=3)

    first, last = LocalWorkspace.open(None, now=later), LocalWorkspace.open(file, now=later)

    assert anyio.run(last.get_ticket, "4812") == anyio.run(first.get_ticket, "4812")


async def test_a_generated_busy_workspace_loads_and_answers_every_port():
    workspace = LocalWorkspace(busy_workspace(400, seed=3))

    tickets = await workspace.search_tickets("export timing out", since=BUSY_ANCHOR - timedelta(days=30), limit=5)
    [acme] = await workspace.search_accounts("Acme Corp")

    assert tickets.items
    assert all(t.created_at >= BUSY_ANCHOR - timedelta(days=30) for t in tickets.items)
    assert (await workspace.search_messages("slow", limit=3)).items
    assert (await workspace.search_issues("export", limit=3)).items
    assert (await workspace.search_articles("workarounds", limit=3)).items
    assert acme.plan in {"enterprise", "growth", "starter"}


def test_the_busy_workspace_is_the_same_for_the_same_seed_and_shaped_as_documented():
    one, again, other = busy_workspace(200, seed=1), busy_workspace(200, seed=1), busy_workspace(200, seed=2)

    assert one == again
    assert one != other
    assert (len(one.tickets), len(one.accounts), len(one.messages)) == (200, 10, 100)
    assert all(2 <= len(t.comments) <= 5 for t in one.tickets)
    assert {c.public for t in one.tickets for c in t.comments} == {True, False}
    assert len({a.name for a in one.accounts}) == len(one.accounts)


async def test_paging_across_ranking_blocks_returns_every_match_once(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(local, "RANK_BLOCK", 4)  # blocks of four, so eleven matches take three
    tickets = [
        Ticket(id=f"t{i:02d}", subject="Export" + (" timeout" if i % 3 == 0 else ""), body="b", status="open",
               created_at=ANCHOR - timedelta(hours=i))
        for i in range(11)
    ]  # fmt: skip
    workspace = LocalWorkspace(Workspace(tickets=tickets))
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = await workspace.search_tickets("export timeout", limit=3, cursor=cursor)
        seen += [t.id for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert sorted(seen) == [t.id for t in tickets]
    assert seen[:4] == ["t00", "t03", "t01", "t02"]  # the newest block, its better matches first


def test_a_workspace_file_read_a_few_characters_at_a_time_gives_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(workspace_module._JsonReader, "_CHUNK", 7)  # pyright: ignore[reportPrivateUsage]  # every value straddles a window
    demo = load_workspace(None)
    file = tmp_path / "workspace.json"
    file.write_text(demo.model_dump_json(indent=2).replace('"Acme Corp"', '"Acme \\u00e9 Corp 東京"'), "utf-8")
    expected = load_workspace(file)

    records = list(read_records(file))

    assert records[0] == expected.anchor
    assert records[1:] == [*expected.accounts, *expected.deals, *expected.tickets, *expected.messages,
                           *expected.issues, *expected.articles]  # fmt: skip
    assert any(getattr(r, "customer", None) == "Acme é Corp 東京" for r in records)
