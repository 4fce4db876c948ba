"""Every port's contract runs over the local adapter and each vendor adapter (through its fake)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.local import LocalWorkspace
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FakeVendor
from tests.connectors.scenario import ANCHOR, SCENARIO

VENDORS: dict[str, list[str]] = {
    "support": ["intercom", "zendesk", "freshdesk"],
    "crm": ["hubspot", "salesforce"],
    "chat": ["slack", "teams"],
    "tracker": ["jira", "linear"],
    "knowledge": ["notion", "confluence", "guru"],
}
ALL_VENDORS = [name for names in VENDORS.values() for name in names]


@dataclass
class Subject:
    name: str
    adapter: Any  # the port under test
    fake: FakeVendor | None  # None for the local adapter


def scenario() -> Workspace:
    return SCENARIO.shifted_to(ANCHOR)


async def open_subject(name: str, workspace: Workspace | None = None) -> Subject:
    workspace = workspace or scenario()
    if name == "local":
        return Subject("local", LocalWorkspace(workspace), None)
    module = importlib.import_module(f"tests.connectors.fakes.{name}")
    adapter, fake = module.make(workspace)
    return Subject(name, adapter, fake)


async def _subject(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    subject = await open_subject(request.param)
    yield subject
    close = getattr(subject.adapter, "aclose", None)
    if close is not None:
        await close()


@pytest.fixture(params=["local", *VENDORS["support"]])
async def support(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=["local", *VENDORS["crm"]])
async def crm(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=["local", *VENDORS["chat"]])
async def chat(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=["local", *VENDORS["tracker"]])
async def tracker(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=["local", *VENDORS["knowledge"]])
async def knowledge(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=ALL_VENDORS)
async def vendor(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


# The same ports over the vendor adapters only, for behaviour the local adapter does not share
# (its records have no links; its cursors are checked by its own tests).


@pytest.fixture(params=VENDORS["support"])
async def support_vendor(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=VENDORS["crm"])
async def crm_vendor(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=VENDORS["chat"])
async def chat_vendor(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=VENDORS["tracker"])
async def tracker_vendor(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s


@pytest.fixture(params=VENDORS["knowledge"])
async def knowledge_vendor(request: pytest.FixtureRequest) -> AsyncIterator[Subject]:
    async for s in _subject(request):
        yield s
