"""Jira Cloud as the tracker: issues found with JQL text search, escalations filed as new issues.

Endpoints (REST API v3, under `https://<site>.atlassian.net`):
- `GET /rest/api/3/search/jql?jql=&fields=&maxResults=&nextPageToken=`: the enhanced search
  (the old `/rest/api/3/search` answers 410 Gone since 2025, CHANGE-2046). It returns only the
  fields asked for, pages with an opaque `nextPageToken` and says `isLast`; the JQL must be bounded.
- `POST /rest/api/3/issue`: a new issue in the configured project and issue type, its description
  in Atlassian Document Format. Jira takes no idempotency key, so the write is never retried once
  sent (`idempotent=False`); `Receipts` covers retries within this process.
- `GET /rest/api/3/myself`: who the token belongs to, for the doctor.

Auth: HTTP Basic with the account's email and an Atlassian API token. Rate limit: API-token traffic
is held to per-tenant, per-endpoint burst limits Atlassian does not put a number on; a 429 carries
Retry-After (honoured by `Upstream`) and answers carry X-RateLimit-* headers the doctor reports.
We pace at 5 requests/s.

Closed as fixed: the status is in the `done` category and the resolution is one of
`fixed_resolutions` (Fixed, Done) or absent: team-managed projects often close without setting one,
while "Won't Do", "Duplicate" or "Cannot Reproduce" say nothing was fixed.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import Any, Literal, cast

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import ConnectorError, InvalidCursorError
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Page, TrackerIssue, WriteReceipt
from connectors.products import VendorSettings
from connectors.vendors import query as text_query
from connectors.vendors.query import keywords

SEARCH = "/rest/api/3/search/jql"
PAGE_SIZE = 100  # Jira may return fewer per page when fields are asked for; the token carries on from there
FIELDS = "summary,status,resolution,resolutiondate,statuscategorychangedate,created,issuetype,labels"
SUMMARY_LIMIT = 255  # Jira rejects a longer summary
POLICY = Policy(rate=5.0, burst=5)

Kind = Literal["bug", "feature", "task"]
_KINDS: dict[str, Kind] = {
    "bug": "bug",
    "defect": "bug",
    "incident": "bug",
    "story": "feature",
    "feature": "feature",
    "new feature": "feature",
    "improvement": "feature",
    "epic": "feature",
}


class JiraSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_JIRA_", extra="ignore", frozen=True)

    site: str | None = Field(
        default=None, description="Atlassian site name: `acme` for acme.atlassian.net (a full host name also works)."
    )
    email: str = Field(description="Email address of the Atlassian account that owns the API token.")
    token: SecretStr = Field(description="Atlassian API token of that account (id.atlassian.com, Security).")
    project: str = Field(description="Key of the project new issues are filed in, e.g. `ENG`.")
    issue_type: str = Field(default="Bug", description="Issue type of new issues, as named in that project.")
    feature_issue_type: str | None = Field(
        default=None,
        description="Issue type of feature requests (e.g. `Story`), as named in the project; unset: issue_type.",
    )
    fixed_resolutions: str = Field(
        default="Fixed,Done", description="Resolutions that mean fixed, comma separated (case does not matter)."
    )
    base_url: str | None = Field(
        default=None,
        description="Overrides https://<site>.atlassian.net, e.g. https://api.atlassian.com/ex/jira/<cloud id>.",
    )

    @model_validator(mode="after")
    def _site_or_base_url(self) -> JiraSettings:
        if not self.site and not self.base_url:
            raise ValueError(f"{self.variable('site')} is not set (or set {self.variable('base_url')})")
        return self


# -- vendor payloads (only the fields we read) ------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Named(_Vendor):
    name: str


class _Category(_Vendor):
    key: str  # "new", "indeterminate" or "done"


class _Status(_Vendor):
    name: str
    category: _Category | None = Field(default=None, alias="statusCategory")


class _Fields(_Vendor):
    summary: str = ""
    status: _Status
    resolution: _Named | None = None
    resolved: datetime | None = Field(default=None, alias="resolutiondate")
    category_changed: datetime | None = Field(default=None, alias="statuscategorychangedate")
    created: datetime | None = None
    issuetype: _Named | None = None
    labels: list[str] = []


class _Issue(_Vendor):
    key: str
    fields: _Fields


class _SearchPage(_Vendor):
    issues: list[_Issue] = []
    next_page_token: str | None = Field(default=None, alias="nextPageToken")
    is_last: bool | None = Field(default=None, alias="isLast")


class _Created(_Vendor):
    key: str


class _Myself(_Vendor):
    display_name: str | None = Field(default=None, alias="displayName")
    email: str | None = Field(default=None, alias="emailAddress")
    account_id: str | None = Field(default=None, alias="accountId")


# -- helpers ------------------------------------------------------------------------------------


def jql_string(value: str) -> str:
    """`value` as a double-quoted JQL string: a quote or backslash in it cannot end the string early."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def search_jql(query: str, project: str) -> str:
    """Issues sharing any of the query's key words (one `text ~` per word, OR'ed: words inside one
    `text ~` are AND'ed); with none, the project's issues, most recently updated first (JQL must be bounded)."""
    words = [w for w in keywords(query) if re.fullmatch(r"\w+", w)]  # no Lucene operator can slip in
    if not words:
        return f"project = {jql_string(project)} ORDER BY updated DESC"
    return "(" + " OR ".join(f"text ~ {jql_string(w)}" for w in words) + ")"


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document: a paragraph per blank-line-separated block,
    line breaks kept as hard breaks (ADF forbids empty text nodes)."""
    paragraphs: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        content: list[dict[str, Any]] = []
        for number, line in enumerate(block.splitlines()):
            if number:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        if content:
            paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def label(value: str) -> str:
    """A Jira label: no spaces allowed, so runs of whitespace become a hyphen."""
    return "-".join(value.split())[:255]


def _describe(body: Json) -> str | None:
    """Jira errors: `{"errorMessages": [...], "errors": {"field": "message"}}`."""
    if not isinstance(body, dict):
        return None
    said = cast("dict[str, Any]", body)
    parts = [str(m) for m in cast("list[Any]", said.get("errorMessages") or []) if m]
    parts += [f"{field}: {message}" for field, message in cast("dict[str, Any]", said.get("errors") or {}).items()]
    return "; ".join(parts) or None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _host(site: str) -> str:
    host = site.strip().removeprefix("https://").removeprefix("http://").strip("/")
    return host if "." in host else f"{host}.atlassian.net"


class Jira:
    """The tracker port over one Jira Cloud site."""

    name = "jira"

    def __init__(
        self,
        settings: JiraSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        if settings.site:
            site = f"https://{_host(settings.site)}"
        else:
            assert settings.base_url, "JiraSettings insists on a site or a base URL"
            site = settings.base_url.rstrip("/")
        token = settings.token.get_secret_value()
        basic = base64.b64encode(f"{settings.email}:{token}".encode()).decode()
        self._site = site  # where people browse issues, even when the API goes through another host
        self._project = settings.project.strip()
        self._issue_type = settings.issue_type
        self._feature_issue_type = (settings.feature_issue_type or "").strip() or settings.issue_type
        self._fixed = {r.strip().lower() for r in settings.fixed_resolutions.split(",") if r.strip()}
        self._receipts = Receipts()
        self._api = Upstream(
            source=self.name,
            base_url=(settings.base_url or site).rstrip("/"),
            headers={"authorization": f"Basic {basic}"},
            secrets=[token, basic],
            credentials_hint="ESCALATION_JIRA_EMAIL, ESCALATION_JIRA_TOKEN and its permissions (CONNECTORS.md)",
            address_hint="ESCALATION_JIRA_SITE (or ESCALATION_JIRA_BASE_URL)",
            policy=policy or POLICY,
            transport=transport,
            describe=_describe,
        )

    async def search_issues(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[TrackerIssue]:
        text_query.checked_cursor(self.name, cursor)
        jql = search_jql(query, self._project)

        async def fetch(token: str | None, size: int) -> tuple[list[TrackerIssue], str | None]:
            params: dict[str, str | int] = {"jql": jql, "fields": FIELDS, "maxResults": size}
            if token is not None:
                params["nextPageToken"] = token
            try:
                answer = await self._api.get(SEARCH, params=params)
            except ConnectorError as exc:
                if token is not None and token == cursor and text_query.refuses_cursor(exc):
                    raise InvalidCursorError(self.name) from None
                raise
            page = parse(self.name, _SearchPage, answer)
            more = page.next_page_token if page.is_last is not True else None
            return [self._issue(i) for i in page.issues], more

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=PAGE_SIZE)

    def _issue(self, issue: _Issue) -> TrackerIssue:
        fields = issue.fields
        done = fields.status.category is not None and fields.status.category.key == "done"
        resolution = fields.resolution.name if fields.resolution else None
        fixed = done and (resolution is None or resolution.lower() in self._fixed)
        resolved = fields.resolved or (fields.category_changed if done else None)
        kind = _KINDS.get(fields.issuetype.name.lower(), "task") if fields.issuetype else "task"
        return TrackerIssue(
            id=issue.key,
            title=fields.summary,
            status=fields.status.name,
            kind=kind,
            resolution=resolution,
            closed_as_fixed=fixed,
            resolved_at=_aware(resolved),
            created_at=_aware(fields.created),
            url=f"{self._site}/browse/{issue.key}",
            labels=fields.labels,
        )

    async def create_issue(
        self,
        title: str,
        body: str,
        *,
        labels: list[str],
        idempotency_key: str,
        project: str | None = None,
        description_adf: dict[str, Any] | None = None,
        kind: Literal["bug", "feature"] | None = None,
    ) -> WriteReceipt:
        summary = " ".join(title.split())[:SUMMARY_LIMIT]
        key = (project or "").strip() or self._project
        issue_type = self._feature_issue_type if kind == "feature" else self._issue_type
        fields: dict[str, Any] = {
            "project": {"key": key},
            "issuetype": {"name": issue_type},
            "summary": summary,
            # A rendered document keeps headings, lists and code; plain text becomes paragraphs.
            "description": description_adf if description_adf is not None else adf(body),
            "labels": list(dict.fromkeys(label(x) for x in labels if x.strip())),
        }

        async def write() -> WriteReceipt:
            answer = await self._api.post("/rest/api/3/issue", json={"fields": fields}, idempotent=False)
            created = parse(self.name, _Created, answer)
            return WriteReceipt(id=created.key, url=f"{self._site}/browse/{created.key}")

        return await self._receipts.once(idempotency_key, write)

    async def check(self) -> Health:
        async def whoami() -> str:
            me = parse(self.name, _Myself, await self._api.get("/rest/api/3/myself"))
            name = me.display_name or me.account_id or "an unnamed account"
            return f"{name} <{me.email}>" if me.email else name

        return await probe(self._api, whoami)

    async def aclose(self) -> None:
        await self._api.aclose()


SETTINGS = JiraSettings
ADAPTER = Jira
