"""Linear (linear.app) as the project tracker, over its GraphQL API.

Endpoint: POST https://api.linear.app/graphql, one request per operation:
- `issues(filter:, first:, after:)` with an `or` of `title`/`description` `containsIgnoreCase`
  filters, one pair per keyword of the query, paged by `pageInfo { hasNextPage endCursor }`;
- `issueCreate(input: {id, teamId, title, description, labelIds})`, after looking up the team
  (`teams`, once) and the labels by name (`issueLabels`); `issue(id:)` to confirm a replay;
- `viewer { id name email }` for the health check.

Auth: a personal API key goes bare in `Authorization: <key>`; an OAuth access token as
`Authorization: Bearer <token>` (ESCALATION_LINEAR_TOKEN_TYPE says which).

Rate limits (linear.app/developers/rate-limiting): a leaky bucket per user of 2,500 requests
an hour for API keys (5,000 for OAuth apps) and a complexity budget; each query asks for a
bounded page so it stays far below the 10,000-point single-query cap. Over the limit Linear
answers HTTP 400 with a GraphQL error whose `extensions.code` is RATELIMITED and
`X-RateLimit-*-Reset` headers in epoch milliseconds; it becomes a RateLimitedError that is
waited out and retried. The pacer allows a burst of 20, then the documented hourly rate.

Writes are idempotent at Linear itself: the issue id is derived from the idempotency key, so
a retried `issueCreate` is refused as a duplicate and answered with the issue already there.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, InvalidCursorError, NotFoundError, RateLimitedError, UpstreamError
from connectors.health import Health, probe
from connectors.http.idempotency import Receipts
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Page, TrackerIssue, WriteReceipt
from connectors.products import VendorSettings
from connectors.vendors.query import checked_cursor, keywords

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.linear.app"
PAGE_SIZE = 50  # Linear's default page; `first` goes to 250, but each issue carries its labels
LABELS_PER_ISSUE = 20  # a connection's size multiplies its complexity, so ask for a bounded few
# Linear's documented budget for API keys: 2,500 requests an hour, refilled continuously.
LINEAR_POLICY = Policy(rate=2500 / 3600, burst=20)
# The namespace issue ids are derived in: the same key always names the same issue.
ISSUE_ID_NAMESPACE = uuid.UUID("6f6b1c8e-5d0a-4c55-9a57-3c1f2b0e7d41")
_BUG_LABELS = frozenset({"bug", "defect", "regression"})
_FEATURE_LABELS = frozenset({"feature", "feature request", "improvement", "enhancement"})


class LinearSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_LINEAR_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="Personal API key (lin_api_…) or OAuth access token.")
    token_type: Literal["api_key", "oauth"] = Field(
        default="api_key", description="api_key: sent bare in Authorization; oauth: sent as a Bearer token."
    )
    team: str = Field(description="Key (e.g. ENG) or id of the team new issues are created in.")
    base_url: str | None = Field(
        default=None, description="Replaces https://api.linear.app (a proxy or a test server)."
    )


# -- vendor payloads ------------------------------------------------------------------------


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _State(_Vendor):
    name: str
    type: str  # triage, backlog, unstarted, started, completed, canceled


class _Label(_Vendor):
    name: str


class _Labels(_Vendor):
    nodes: list[_Label] = []


class _Issue(_Vendor):
    id: str
    identifier: str
    title: str
    url: str | None = None
    createdAt: datetime | None = None
    completedAt: datetime | None = None
    canceledAt: datetime | None = None
    state: _State | None = None
    labels: _Labels = _Labels()


class _PageInfo(_Vendor):
    hasNextPage: bool
    endCursor: str | None = None


class _IssueConnection(_Vendor):
    nodes: list[_Issue]
    pageInfo: _PageInfo


class _IssuesData(_Vendor):
    issues: _IssueConnection


class _IssueRef(_Vendor):
    id: str
    identifier: str
    url: str | None = None


class _IssueCreatePayload(_Vendor):
    success: bool
    issue: _IssueRef | None = None


class _IssueCreateData(_Vendor):
    issueCreate: _IssueCreatePayload


class _IssueData(_Vendor):
    issue: _IssueRef | None = None


class _Team(_Vendor):
    id: str
    key: str


class _Teams(_Vendor):
    nodes: list[_Team]


class _TeamsData(_Vendor):
    teams: _Teams


class _TeamRef(_Vendor):
    id: str


class _IssueLabel(_Vendor):
    id: str
    name: str
    team: _TeamRef | None = None  # None: a workspace label, usable by every team


class _IssueLabels(_Vendor):
    nodes: list[_IssueLabel]


class _IssueLabelsData(_Vendor):
    issueLabels: _IssueLabels


class _Viewer(_Vendor):
    id: str
    name: str
    email: str | None = None


class _ViewerData(_Vendor):
    viewer: _Viewer


class _ErrorExtensions(_Vendor):
    code: str | None = None  # RATELIMITED, AUTHENTICATION_ERROR, FORBIDDEN, INVALID_INPUT, ...
    type: str | None = None  # "ratelimited", "authentication error", ... (what the official SDK reads)
    userPresentableMessage: str | None = None


class _Error(_Vendor):
    message: str | None = None
    extensions: _ErrorExtensions = _ErrorExtensions()

    @property
    def text(self) -> str:
        return self.extensions.userPresentableMessage or self.message or "no message"


class _Envelope(_Vendor):
    """Every GraphQL answer: `data`, `errors`, or both (then the errors win)."""

    data: dict[str, Any] | None = None
    errors: list[_Error] = []


# -- queries ----------------------------------------------------------------------------------

_SEARCH = f"""
query SearchIssues($filter: IssueFilter, $first: Int!, $after: String) {{
  issues(filter: $filter, first: $first, after: $after, orderBy: updatedAt) {{
    nodes {{
      id identifier title url createdAt completedAt canceledAt
      state {{ name type }}
      labels(first: {LABELS_PER_ISSUE}) {{ nodes {{ name }} }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""
_TEAM = """
query TeamByKey($key: String!) {
  teams(filter: {key: {eq: $key}}, first: 1) { nodes { id key } }
}
"""
_LABELS = """
query LabelsByName($filter: IssueLabelFilter!) {
  issueLabels(filter: $filter, first: 100) { nodes { id name team { id } } }
}
"""
_CREATE = """
mutation CreateIssue($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}
"""
_ISSUE = """
query IssueById($id: String!) {
  issue(id: $id) { id identifier url }
}
"""
_VIEWER = "query Viewer { viewer { id name email } }"


REFUSED_OPERATION = "refused the operation"


def _refused_operation(exc: UpstreamError) -> bool:
    """Linear refused the operation with a GraphQL error that is neither auth nor a rate limit.

    Told by its words rather than by a subclass, so no internal class name can reach a message.
    """
    return exc.status is None and not exc.transient and exc.detail.startswith(REFUSED_OPERATION)


class Linear:
    """The Tracker port over Linear's GraphQL API."""

    name = "linear"

    def __init__(
        self,
        settings: LinearSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        token = settings.token.get_secret_value()
        scheme = f"Bearer {token}" if settings.token_type == "oauth" else token
        self._team = settings.team.strip()
        self._team_ids: dict[str, str] = {}  # team key (or id) -> id, looked up once each
        self._receipts = Receipts()
        self._api = Upstream(
            source=self.name,
            base_url=settings.base_url or DEFAULT_BASE_URL,
            headers={"authorization": scheme, "content-type": "application/json"},
            secrets=[token],
            credentials_hint="ESCALATION_LINEAR_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_LINEAR_BASE_URL",
            policy=policy or LINEAR_POLICY,
            transport=transport,
            describe=_describe,
            inspect=self._inspect,
            inspect_statuses=frozenset({400}),  # Linear answers GraphQL errors, its rate limit too, with a 400
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    # -- Tracker ------------------------------------------------------------------------------

    async def search_issues(self, query: str, *, limit: int = 10, cursor: str | None = None) -> Page[TrackerIssue]:
        words = keywords(query)
        # Linear's filters AND their fields, so each keyword gets its own `or` branch.
        where = (
            {
                "or": [
                    branch
                    for w in words
                    for branch in ({"title": {"containsIgnoreCase": w}}, {"description": {"containsIgnoreCase": w}})
                ]
            }
            if words
            else None
        )

        checked_cursor(self.name, cursor)

        async def fetch(after: str | None, size: int) -> tuple[list[TrackerIssue], str | None]:
            try:
                data = await self._graphql(_SEARCH, {"filter": where, "first": size, "after": after}, idempotent=True)
            except UpstreamError as exc:
                # Linear refuses a cursor it did not issue with a GraphQL error ("Invalid cursor").
                if after is not None and after == cursor and _refused_operation(exc):
                    raise InvalidCursorError(self.name) from None
                raise
            found = parse(self.name, _IssuesData, data).issues
            more = found.pageInfo.endCursor if found.pageInfo.hasNextPage else None
            return [_issue(i) for i in found.nodes], more

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=PAGE_SIZE)

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
        # Linear renders Markdown itself (no ADF) and has no issue types: `labels` carry bug or feature.
        async def write() -> WriteReceipt:
            issue_id = issue_id_for(idempotency_key)
            team_id = await self._resolve_team((project or "").strip() or self._team)
            label_ids = await self._label_ids(labels, team_id)
            issue_input: dict[str, Any] = {"id": issue_id, "teamId": team_id, "title": title, "description": body}
            if label_ids:
                issue_input["labelIds"] = label_ids
            try:
                # Linear refuses a second issue with the same id, so a retry can never land twice.
                data = await self._graphql(_CREATE, {"input": issue_input}, idempotent=True)
            except UpstreamError as refused:
                if not _refused_operation(refused):
                    raise
                existing = await self._existing(issue_id)
                if existing is None:
                    raise
                log.info("linear: issue %s already existed for this idempotency key", existing.identifier)
                return WriteReceipt(id=existing.identifier, url=existing.url, duplicate=True)
            created = parse(self.name, _IssueCreateData, data).issueCreate
            if not created.success or created.issue is None:
                raise UpstreamError(self.name, "issueCreate answered success: false")
            return WriteReceipt(id=created.issue.identifier, url=created.issue.url)

        return await self._receipts.once(f"issue:{idempotency_key}", write)

    async def check(self) -> Health:
        async def whoami() -> str:
            viewer = parse(self.name, _ViewerData, await self._graphql(_VIEWER, {}, idempotent=True)).viewer
            return f"{viewer.name} <{viewer.email}>" if viewer.email else viewer.name

        return await probe(self._api, whoami)

    # -- helpers ------------------------------------------------------------------------------

    async def _graphql(self, query: str, variables: dict[str, Any], *, idempotent: bool) -> dict[str, Any]:
        body = await self._api.post("/graphql", json={"query": query, "variables": variables}, idempotent=idempotent)
        data = parse(self.name, _Envelope, body).data
        if data is None:
            raise UpstreamError(self.name, "answered without a GraphQL `data` object")
        return data

    async def _resolve_team(self, team: str) -> str:
        """A team's id: taken as is when `team` is one, else looked up by key once."""
        if team not in self._team_ids:
            if _is_uuid(team):
                self._team_ids[team] = team
            else:
                data = await self._graphql(_TEAM, {"key": team}, idempotent=True)
                teams = parse(self.name, _TeamsData, data).teams.nodes
                if not teams:
                    where = "ESCALATION_LINEAR_TEAM" if team == self._team else "ESCALATION_TRACKER_PROJECTS"
                    raise NotFoundError(self.name, f"no team with key {team!r}; check {where}")
                self._team_ids[team] = teams[0].id
        return self._team_ids[team]

    async def _label_ids(self, names: list[str], team_id: str) -> list[str]:
        """Ids of the labels that exist for the team (workspace or team labels), by name in any case.

        Unknown names are skipped rather than created: a label is workspace taxonomy, not ours to add.
        """
        wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
        if not wanted:
            return []
        where = {"or": [{"name": {"eqIgnoreCase": n}} for n in wanted]}
        found = parse(self.name, _IssueLabelsData, await self._graphql(_LABELS, {"filter": where}, idempotent=True))
        usable = {
            label.name.lower(): label.id
            for label in found.issueLabels.nodes
            if label.team is None or label.team.id == team_id
        }
        missing = [n for n in wanted if n.lower() not in usable]
        if missing:
            log.info("linear: no label named %s for this team; created the issue without it", ", ".join(missing))
        return list(dict.fromkeys(usable[n.lower()] for n in wanted if n.lower() in usable))

    async def _existing(self, issue_id: str) -> _IssueRef | None:
        """The issue with this id, or None when Linear has none (it then answers a GraphQL error)."""
        try:
            data = await self._graphql(_ISSUE, {"id": issue_id}, idempotent=True)
        except NotFoundError:
            return None
        except UpstreamError as refused:
            if _refused_operation(refused):
                return None
            raise
        return parse(self.name, _IssueData, data).issue

    def _inspect(self, response: httpx.Response, body: Json) -> None:
        """GraphQL errors ride in the body: a rate limit, rejected credentials or a refused operation."""
        errors = _errors_of(body)
        if not errors:
            return
        first = errors[0]
        code = (first.extensions.code or "").upper()
        kind = (first.extensions.type or "").lower()
        status = response.status_code
        if code == "RATELIMITED" or kind == "ratelimited":
            raise RateLimitedError(
                self.name, f"rate limited (HTTP {status}): {first.text}", retry_after=_rate_limit_wait(response)
            )
        if code in ("AUTHENTICATION_ERROR", "FORBIDDEN") or kind in ("authentication error", "forbidden"):
            raise AuthError(
                self.name,
                f"rejected the credentials (HTTP {status}): {first.text}; "
                "check ESCALATION_LINEAR_TOKEN and its scopes (CONNECTORS.md)",
            )
        # No status: not retried, since the same query fails the same way.
        raise UpstreamError(self.name, f"{REFUSED_OPERATION} (HTTP {status}): {first.text}", status=None)


def _errors_of(body: Json) -> list[_Error]:
    """The GraphQL `errors` of a body, or none when it is not a GraphQL answer at all."""
    try:
        return _Envelope.model_validate(body).errors
    except ValidationError:
        return []


def issue_id_for(idempotency_key: str) -> str:
    """The issue id this key names, always the same: a name-based hash in the UUID v4 layout Linear asks for."""
    return str(uuid.UUID(bytes=uuid.uuid5(ISSUE_ID_NAMESPACE, idempotency_key).bytes, version=4))


def _issue(raw: _Issue) -> TrackerIssue:
    state_type = raw.state.type if raw.state else ""
    labels = [label.name for label in raw.labels.nodes]
    closed = state_type in ("completed", "canceled")
    return TrackerIssue(
        id=raw.identifier,
        title=raw.title,
        status=raw.state.name if raw.state else "Unknown",
        kind=_kind(labels),
        resolution=raw.state.name if closed and raw.state else None,
        closed_as_fixed=state_type == "completed",
        resolved_at=raw.completedAt or raw.canceledAt if closed else None,
        created_at=raw.createdAt,
        url=raw.url,
        labels=labels,
    )


def _kind(labels: list[str]) -> Literal["bug", "feature", "task"]:
    """Linear has no issue type; teams mark it with a label (Bug, Feature, Improvement)."""
    names = {label.strip().lower() for label in labels}
    if names & _BUG_LABELS:
        return "bug"
    if names & _FEATURE_LABELS:
        return "feature"
    return "task"


def _describe(body: Json) -> str | None:
    """Linear's own words from a GraphQL error body: the first error's message."""
    errors = _errors_of(body)
    return errors[0].text if errors else None


def _rate_limit_wait(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds until the exhausted budget refills: Retry-After if sent, else the reset (epoch ms) of
    whichever of the endpoint, request and complexity budgets has nothing left."""
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    current = time.time() if now is None else now
    resets: list[float] = []
    fallback: list[float] = []
    for budget in ("endpoint-requests", "requests", "complexity"):
        reset = _float(response.headers.get(f"x-ratelimit-{budget}-reset"))
        if reset is None:
            continue
        fallback.append(reset)
        remaining = _float(response.headers.get(f"x-ratelimit-{budget}-remaining"))
        if remaining is not None and remaining <= 0:
            resets.append(reset)
    chosen = resets or fallback
    if not chosen:
        return None
    return max(0.0, max(chosen) / 1000 - current)


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


SETTINGS = LinearSettings
ADAPTER = Linear
