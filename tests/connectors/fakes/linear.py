"""A fake Linear GraphQL API serving the scenario workspace.

Shapes follow Linear's public schema (github.com/linear/linear, packages/sdk/src/schema.graphql)
and developer docs: one endpoint, POST /graphql, answering `{"data": ...}` or `{"errors": [...]}`.
It understands just the operations the adapter sends, by their root field, and evaluates the
issue filter it is given (`or`/`and` of `title`/`description` `containsIgnoreCase`), so a query
of the wrong shape finds nothing.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.models import TrackerIssue
from connectors.vendors.linear import Linear, LinearSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, body_of, json_response
from tests.connectors.scenario import TOKEN

PORT = "tracker"
ORG = "acme"
TEAM_ID = "0b6c5c0e-7f1a-4d5e-9d8e-2b9a4c1d0e11"
TEAM_KEY = "ENG"
REQUESTS_LIMIT = 2500  # an API key's hourly budget (linear.app/developers/rate-limiting)
COMPLEXITY_LIMIT = 3_000_000

# Workflow states by the scenario's status names; `type` is Linear's fixed category.
STATE_TYPES = {
    "Triage": "triage",
    "Backlog": "backlog",
    "Todo": "unstarted",
    "In Progress": "started",
    "In Review": "started",
    "Done": "completed",
    "Canceled": "canceled",
    "Duplicate": "canceled",
}
KIND_LABELS = {"bug": "Bug", "feature": "Feature"}  # Linear has no issue type: teams use labels


@dataclass
class StoredIssue:
    id: str
    identifier: str
    title: str
    description: str
    state: str
    labels: list[str]
    created_at: datetime
    completed_at: datetime | None = None
    canceled_at: datetime | None = None

    @property
    def url(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")
        return f"https://linear.app/{ORG}/issue/{self.identifier}/{slug}"


@dataclass
class StoredLabel:
    id: str
    name: str
    team_id: str | None  # None: a workspace label


class FakeLinear(FakeVendor):
    """Linear as a personal API key sees it (`oauth=True`: as an OAuth app's Bearer token does)."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN, oauth: bool = False) -> None:
        super().__init__(workspace, token=token)
        self.oauth = oauth
        names = {"Bug", "Feature", *(label for i in workspace.issues for label in i.labels)}
        self.labels = [StoredLabel(_uuid(f"label:{n}"), n, None) for n in sorted(names)]
        # A label of another team: Linear would refuse it on an issue of ours.
        self.labels.append(StoredLabel(_uuid("label:other-team"), "Escalation", _uuid("team:other")))
        self.issues = [_stored(i) for i in workspace.issues]

    # Authentication: https://linear.app/developers/graphql#authentication
    # A personal API key is sent bare (`Authorization: <API_KEY>`), an OAuth token as Bearer.
    def authorized(self, request: httpx.Request) -> bool:
        expected = f"Bearer {self.token}" if self.oauth else self.token
        return request.headers.get("authorization") == expected

    def unauthorized(self) -> httpx.Response:
        # A rejected key: HTTP 401 with an AUTHENTICATION_ERROR GraphQL error. Linear's docs do not
        # show this body; it is the one public clients record from the live API.
        return json_response(
            401,
            _errors(
                "Authentication required, not authenticated",
                code="AUTHENTICATION_ERROR",
                type_="authentication error",
                friendly="You need to authenticate to access this operation.",
            ),
            self._headroom(),
        )

    # Rate limiting: https://linear.app/developers/rate-limiting
    # Over the limit: HTTP 400 (not 429) with a RATELIMITED GraphQL error, and the budget's
    # headers, whose reset is a UTC epoch in milliseconds.
    def rate_limited(self, retry_after: float) -> httpx.Response:
        reset_ms = round((time.time() + retry_after) * 1000)
        return json_response(
            400,
            _errors(
                f"Rate limit exceeded. Only {REQUESTS_LIMIT} requests are allowed per 1 hour.",
                code="RATELIMITED",
                type_="ratelimited",
            ),
            {
                "x-ratelimit-requests-limit": str(REQUESTS_LIMIT),
                "x-ratelimit-requests-remaining": "0",
                "x-ratelimit-requests-reset": str(reset_ms),
            },
        )

    def server_error(self) -> httpx.Response:
        # Linear documents no 5xx body; this is the GraphQL-shaped one its edge is seen to send.
        return json_response(500, _errors("Internal server error", code="INTERNAL_SERVER_ERROR"))

    # The GraphQL endpoint: https://linear.app/developers/graphql (POST /graphql, JSON body)
    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or request.url.path != "/graphql":
            return json_response(404, {"errors": [{"message": "Not found"}]})
        payload: dict[str, Any] = body_of(request)
        query: str = payload.get("query", "")
        variables: dict[str, Any] = payload.get("variables") or {}
        root = re.match(r"\s*(\w+)", query.partition("{")[2])  # the operation's first field
        field_name = root.group(1) if root else ""
        handler = {
            "issues": self._issues,
            "issueCreate": self._issue_create,
            "issue": self._issue,
            "teams": self._teams,
            "issueLabels": self._issue_labels,
            "viewer": self._viewer,
        }.get(field_name)
        if handler is None:
            return self._answer(_errors(f"Cannot query field {field_name!r} on type Query", code="GRAPHQL_ERROR"), 400)
        return handler(variables)

    # Query.issues, IssueFilter and cursor pagination:
    # https://linear.app/developers/filtering, https://linear.app/developers/pagination
    def _issues(self, variables: dict[str, Any]) -> httpx.Response:
        where: dict[str, Any] | None = variables.get("filter")
        first = int(variables.get("first") or 50)
        after: str | None = variables.get("after")
        if not 0 < first <= 250:
            return self._answer(_errors("first must be between 1 and 250", code="INVALID_INPUT"), 400)
        found = [i for i in self.issues if where is None or _matches(where, i)]
        start = 0
        if after is not None:
            ids = [i.id for i in found]
            if after not in ids:
                return self._answer(_errors("Invalid cursor", code="INVALID_INPUT"), 400)
            start = ids.index(after) + 1
        chunk = found[start : start + first]
        has_next = start + first < len(found)
        return self._answer(
            {
                "data": {
                    "issues": {
                        "nodes": [_node(i) for i in chunk],
                        "pageInfo": {"hasNextPage": has_next, "endCursor": chunk[-1].id if chunk else None},
                    }
                }
            }
        )

    # Mutation.issueCreate(input: IssueCreateInput!): IssuePayload!
    # IssueCreateInput.id: "The identifier in UUID v4 format. If none is provided, the backend will
    # generate one." Linear does not document the error for an id already taken; this one is the
    # shape of its other input errors, and the adapter does not depend on its wording.
    def _issue_create(self, variables: dict[str, Any]) -> httpx.Response:
        data: dict[str, Any] = variables.get("input") or {}
        issue_id = str(data.get("id") or uuid.uuid4())
        try:
            if uuid.UUID(issue_id).version != 4:
                raise ValueError(issue_id)
        except ValueError:
            return self._answer(_errors("Argument Validation Error", code="INVALID_INPUT", type_="invalid input"), 400)
        if data.get("teamId") != TEAM_ID:
            return self._answer(_errors("Entity not found: Team", code="INVALID_INPUT", type_="invalid input"), 400)
        if any(i.id == issue_id for i in self.issues):
            return self._answer(
                _errors("Entity already exists", code="INVALID_INPUT", type_="invalid input"),
                400,
            )
        by_id = {label.id: label.name for label in self.labels}
        label_ids: list[str] = data.get("labelIds") or []
        number = 1 + max((int(i.identifier.split("-")[1]) for i in self.issues), default=0)
        stored = StoredIssue(
            id=issue_id,
            identifier=f"{TEAM_KEY}-{number}",
            title=str(data.get("title", "")),
            description=str(data.get("description") or ""),
            state="Backlog",
            labels=[by_id[label_id] for label_id in label_ids if label_id in by_id],
            created_at=datetime.now(UTC),
        )
        self.issues.append(stored)
        ref = {"id": stored.id, "identifier": stored.identifier, "url": stored.url}
        return self._answer({"data": {"issueCreate": {"success": True, "issue": ref}}})

    # Query.issue(id: String!): Issue! -- a missing id is an "Entity not found" error.
    def _issue(self, variables: dict[str, Any]) -> httpx.Response:
        wanted = variables.get("id")
        for i in self.issues:
            if wanted in (i.id, i.identifier):
                return self._answer({"data": {"issue": {"id": i.id, "identifier": i.identifier, "url": i.url}}})
        return self._answer(
            {"data": None, **_errors("Entity not found: Issue", code="INVALID_INPUT", type_="invalid input")}, 400
        )

    # Query.teams(filter: TeamFilter)
    def _teams(self, variables: dict[str, Any]) -> httpx.Response:
        nodes = [{"id": TEAM_ID, "key": TEAM_KEY}] if variables.get("key") == TEAM_KEY else []
        return self._answer({"data": {"teams": {"nodes": nodes}}})

    # Query.issueLabels(filter: IssueLabelFilter) -- `or` of `name: {eqIgnoreCase}`
    def _issue_labels(self, variables: dict[str, Any]) -> httpx.Response:
        where: dict[str, Any] = variables.get("filter") or {}
        names = {str(branch["name"]["eqIgnoreCase"]).lower() for branch in where.get("or", [])}
        nodes = [
            {"id": label.id, "name": label.name, "team": {"id": label.team_id} if label.team_id else None}
            for label in self.labels
            if label.name.lower() in names
        ]
        return self._answer({"data": {"issueLabels": {"nodes": nodes}}})

    # Query.viewer: the user the key belongs to.
    def _viewer(self, variables: dict[str, Any]) -> httpx.Response:
        return self._answer({"data": {"viewer": {"id": _uuid("viewer"), "name": "Ada Ops", "email": "ada@acme.test"}}})

    def _answer(self, body: dict[str, Any], status: int = 200) -> httpx.Response:
        return json_response(status, body, self._headroom())

    def _headroom(self) -> dict[str, str]:
        """The budget headers Linear sends with every answer (reset: UTC epoch milliseconds)."""
        reset = str(round((time.time() + 3600) * 1000))
        return {
            "x-ratelimit-requests-limit": str(REQUESTS_LIMIT),
            "x-ratelimit-requests-remaining": str(REQUESTS_LIMIT - len(self.requests)),
            "x-ratelimit-requests-reset": reset,
            "x-complexity": "120",
            "x-ratelimit-complexity-limit": str(COMPLEXITY_LIMIT),
            "x-ratelimit-complexity-remaining": str(COMPLEXITY_LIMIT - 120 * len(self.requests)),
            "x-ratelimit-complexity-reset": reset,
        }


def _errors(message: str, *, code: str, type_: str | None = None, friendly: str | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": code}
    if type_ is not None:
        extensions["type"] = type_
    if friendly is not None:
        extensions["userPresentableMessage"] = friendly
    return {"errors": [{"message": message, "extensions": extensions}]}


def _uuid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://linear.app/{ORG}/{name}"))


def _stored(issue: TrackerIssue) -> StoredIssue:
    labels = [*issue.labels]
    kind_label = KIND_LABELS.get(issue.kind)
    if kind_label:
        labels.insert(0, kind_label)
    state_type = STATE_TYPES.get(issue.status, "unstarted")
    return StoredIssue(
        id=_uuid(f"issue:{issue.id}"),
        identifier=issue.id,
        title=issue.title,
        description="",
        state=issue.status,
        labels=labels,
        created_at=issue.created_at or datetime.now(UTC),
        completed_at=issue.resolved_at if state_type == "completed" else None,
        canceled_at=issue.resolved_at if state_type == "canceled" else None,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def _node(issue: StoredIssue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "identifier": issue.identifier,
        "title": issue.title,
        "url": issue.url,
        "createdAt": _iso(issue.created_at),
        "completedAt": _iso(issue.completed_at),
        "canceledAt": _iso(issue.canceled_at),
        "state": {"name": issue.state, "type": STATE_TYPES.get(issue.state, "unstarted")},
        "labels": {"nodes": [{"name": name} for name in issue.labels]},
    }


def _matches(where: dict[str, Any], issue: StoredIssue) -> bool:
    """Linear's IssueFilter, for the comparators the adapter uses: every key must hold."""
    for key, condition in where.items():
        if key == "or":
            if not any(_matches(branch, issue) for branch in condition):
                return False
        elif key == "and":
            if not all(_matches(branch, issue) for branch in condition):
                return False
        elif key in ("title", "description"):
            text: str = getattr(issue, key).lower()
            needle = str(condition.get("containsIgnoreCase", "")).lower()
            if set(condition) != {"containsIgnoreCase"} or needle not in text:
                return False
        else:
            raise AssertionError(f"the fake does not evaluate the {key!r} filter")
    return True


def make(workspace: Workspace, *, token: str = TOKEN, oauth: bool = False) -> tuple[Linear, FakeLinear]:
    fake = FakeLinear(workspace, token=token, oauth=oauth)
    settings = LinearSettings(
        token=token,  # pyright: ignore[reportArgumentType]  # pydantic coerces str to SecretStr
        token_type="oauth" if oauth else "api_key",
        team=TEAM_KEY,
    )
    return Linear(settings, policy=FAST, transport=fake.transport()), fake
