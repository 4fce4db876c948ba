"""A fake Jira Cloud site serving the scenario's issues in project ENG through the REST v3 endpoints the adapter calls.

Shapes follow the v3 reference (developer.atlassian.com/cloud/jira/platform/rest/v3/): the enhanced
search answers `{"issues": [{"id", "key", "self", "fields": {...}}], "nextPageToken", "isLast"}` with
only the fields asked for; timestamps as `2026-11-20T12:00:00.000+0000`; errors as
`{"errorMessages": [...], "errors": {...}}`; a 429 carries Retry-After and X-RateLimit-* headers.
Text search ANDs the words inside one `text ~` as Jira does, and the JQL grammar is checked so a
query that could break out of its string is refused as Jira would refuse it.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.models import TrackerIssue
from connectors.vendors.jira import Jira, JiraSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, json_response
from tests.connectors.scenario import TOKEN

PORT = "tracker"
EMAIL = "agent@acme.example"
PROJECT = "ENG"
SITE = "https://acme.atlassian.net"

_STRING = r'"(?:[^"\\]|\\.)*"'
_TEXT = re.compile(rf"text ~ ({_STRING})")
_PROJECT = re.compile(rf"project = ({_STRING})")
# The only JQL the adapter may send; anything else is refused as a syntax error.
_GRAMMAR = re.compile(rf"\(text ~ {_STRING}(?: OR text ~ {_STRING})*\)|project = {_STRING} ORDER BY updated DESC")
# Jira's categories by status name, for the statuses the scenario uses (others: "new").
CATEGORIES = {
    "done": "done",
    "closed": "done",
    "resolved": "done",
    "in progress": "indeterminate",
    "in review": "indeterminate",
}
TYPES = {"bug": "Bug", "feature": "Story", "task": "Task"}


def jira_time(moment: datetime) -> str:
    """Jira's timestamp format: milliseconds and a colon-less offset."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def _adf_text(node: dict[str, Any] | None) -> str:
    if node is None:
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    children: list[dict[str, Any]] = node.get("content", [])
    return " ".join(_adf_text(child) for child in children)


def error(status: int, *messages: str, **fields: str) -> httpx.Response:
    return json_response(status, {"errorMessages": list(messages), "errors": fields})


class FakeJira(FakeVendor):
    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.issues: list[dict[str, Any]] = [self._stored(i, n) for n, i in enumerate(workspace.issues, 10001)]
        self.tokens: dict[str, int] = {}  # opaque page token -> offset, as Jira's token is opaque too

    @staticmethod
    def _stored(issue: TrackerIssue, number: int) -> dict[str, Any]:
        category = CATEGORIES.get(issue.status.lower(), "new")
        fields: dict[str, Any] = {
            "summary": issue.title,
            "description": None,
            "status": {
                "name": issue.status,
                "id": str(number % 7 + 1),
                "statusCategory": {"id": 3 if category == "done" else 2, "key": category, "name": category.title()},
            },
            "resolution": {"id": "10000", "name": issue.resolution} if issue.resolution else None,
            "resolutiondate": jira_time(issue.resolved_at) if issue.resolved_at else None,
            "statuscategorychangedate": jira_time(issue.resolved_at or issue.created_at or datetime.now(UTC)),
            "created": jira_time(issue.created_at or datetime.now(UTC)),
            "issuetype": {"id": "10004", "name": TYPES[issue.kind], "subtask": False},
            "labels": issue.labels,
        }
        return {"id": str(number), "key": issue.id, "self": f"{SITE}/rest/api/3/issue/{number}", "fields": fields}

    def authorized(self, request: httpx.Request) -> bool:
        # https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
        basic = base64.b64encode(f"{EMAIL}:{self.token}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {basic}"

    def unauthorized(self) -> httpx.Response:
        # The reference only says "401 if the authentication credentials are incorrect"; this is the body Jira sends.
        return error(401, "You are not authenticated. Authentication required to perform this operation.")

    def rate_limited(self, retry_after: float) -> httpx.Response:
        # https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ (headers documented, body is not)
        return json_response(
            429,
            {"errorMessages": ["Rate limit exceeded."], "errors": {}},
            {
                "retry-after": f"{retry_after:g}",
                "x-ratelimit-limit": "100",
                "x-ratelimit-remaining": "0",
                "ratelimit-reason": "jira-burst-based",
            },
        )

    def server_error(self) -> httpx.Response:
        return error(500, "Internal server error")

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path.endswith("/rest/api/3/search/jql"):
            return self._search(request)
        if request.method == "POST" and path.endswith("/rest/api/3/issue"):
            return self._create(request)
        if request.method == "GET" and path.endswith("/rest/api/3/myself"):
            return self._myself()
        if path.endswith(("/rest/api/3/search", "/rest/api/2/search")):  # removed by CHANGE-2046
            return error(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        return error(404, f"No resource at {path}")

    def add(self, key: str, summary: str, *, status: str, category: str, resolution: str | None, kind: str) -> None:
        """Another issue, in whatever state a test needs."""
        number = 10001 + len(self.issues)
        stored = self._stored(
            TrackerIssue(id=key, title=summary, status=status, created_at=datetime(2026, 1, 1, tzinfo=UTC)), number
        )
        stored["fields"]["status"]["statusCategory"]["key"] = category
        stored["fields"]["resolution"] = {"id": "10001", "name": resolution} if resolution else None
        stored["fields"]["issuetype"]["name"] = kind
        self.issues.append(stored)

    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/#api-rest-api-3-search-jql-get
    def _search(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        jql = params.get("jql", "")
        if not _GRAMMAR.fullmatch(jql):
            return error(400, f"Error in the JQL Query: the query could not be parsed: {jql}")
        size = min(int(params.get("maxResults", "50")), 5000)
        offset = 0
        if "nextPageToken" in params:
            if params["nextPageToken"] not in self.tokens:
                return error(400, "Invalid nextPageToken.")
            offset = self.tokens[params["nextPageToken"]]
        clauses = [_unquote(literal).lower().split() for literal in _TEXT.findall(jql)]
        if clauses:
            hits = [i for i in self.issues if any(self._matches(i, words) for words in clauses)]
        else:
            project = _unquote(_PROJECT.findall(jql)[0])
            hits = [i for i in self.issues if i["key"].startswith(f"{project}-")]
            hits.sort(key=lambda i: i["fields"]["created"], reverse=True)  # stands in for `updated`
        chunk = hits[offset : offset + size]
        wanted = set(params.get("fields", "").split(","))
        issues = [
            {
                "id": i["id"],
                "key": i["key"],
                "self": i["self"],
                "fields": {name: value for name, value in i["fields"].items() if name in wanted},
            }
            for i in chunk
        ]
        last = offset + len(chunk) >= len(hits)
        body: dict[str, Any] = {"issues": issues, "isLast": last}
        if not last:
            token = base64.b64encode(f"page-{len(self.tokens)}-{offset + len(chunk)}".encode()).decode()
            self.tokens[token] = offset + len(chunk)
            body["nextPageToken"] = token
        return json_response(200, body, {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "99"})

    @staticmethod
    def _matches(issue: dict[str, Any], words: list[str]) -> bool:
        text = f"{issue['fields']['summary']} {_adf_text(issue['fields']['description'])}".lower()
        return all(word in text for word in words)

    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post
    def _create(self, request: httpx.Request) -> httpx.Response:
        fields = json.loads(request.content).get("fields", {})
        problems: dict[str, str] = {}
        if fields.get("project", {}).get("key") != PROJECT:
            problems["project"] = "Specify a valid project ID or key"
        if not str(fields.get("summary", "")).strip():
            problems["summary"] = "You must specify a summary of the issue."
        if "\n" in str(fields.get("summary", "")):
            problems["summary"] = "The summary is invalid because it contains newline characters."
        if fields.get("issuetype", {}).get("name") not in TYPES.values():
            problems["issuetype"] = "The issue type selected is invalid."
        description = fields.get("description")
        if description is not None and (description.get("type") != "doc" or description.get("version") != 1):
            problems["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        for value in fields.get("labels", []):
            if " " in value:
                problems["labels"] = f"The label '{value}' contains spaces which is invalid."
        if problems:
            return json_response(400, {"errorMessages": [], "errors": problems})
        number = 10001 + len(self.issues)
        key = f"{PROJECT}-{len(self.issues) + 1}"
        now = jira_time(datetime.now(UTC))
        self.issues.append(
            {
                "id": str(number),
                "key": key,
                "self": f"{SITE}/rest/api/3/issue/{number}",
                "fields": {
                    "summary": fields["summary"],
                    "description": description,
                    "status": {"name": "To Do", "id": "1", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
                    "resolution": None,
                    "resolutiondate": None,
                    "statuscategorychangedate": now,
                    "created": now,
                    "issuetype": {"id": "10004", "name": fields["issuetype"]["name"], "subtask": False},
                    "labels": fields.get("labels", []),
                },
            }
        )
        return json_response(201, {"id": str(number), "key": key, "self": f"{SITE}/rest/api/3/issue/{number}"})

    # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/#api-rest-api-3-myself-get
    def _myself(self) -> httpx.Response:
        return json_response(
            200,
            {
                "self": f"{SITE}/rest/api/3/user?accountId=5b10a2844c20165700ede21g",
                "accountId": "5b10a2844c20165700ede21g",
                "accountType": "atlassian",
                "emailAddress": EMAIL,
                "displayName": "Escalation Agent",
                "active": True,
                "timeZone": "Europe/London",
            },
            {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "98"},
        )


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Jira, FakeJira]:
    fake = FakeJira(workspace, token=token)
    settings = JiraSettings(site="acme", email=EMAIL, token=SecretStr(token), project=PROJECT)
    return Jira(settings, transport=fake.transport(), policy=FAST), fake
