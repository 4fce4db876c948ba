"""A fake HubSpot CRM API serving the scenario workspace's accounts and deals.

Shapes follow HubSpot's CRM v3/v4 reference (developers.hubspot.com/docs/api-reference/legacy/crm/...)
and its public SDKs (HubSpot/hubspot-api-python models, HubSpot/hubspot-api-nodejs RetryDecorator):
every property value is a string, paging is `paging.next.after`, errors are
`{"status": "error", "message", "correlationId", "category"}`. Company search evaluates the filter
groups it is sent (OR of groups, AND within one; EQ and CONTAINS_TOKEN with `*` wildcards; IN with
lower-case `values`, as the search reference requires for string properties), so a request of the
wrong shape finds nothing, and refuses a body over 3,000 characters or too many filters as HubSpot does.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from datetime import UTC, datetime, time
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.models import Account, Deal
from connectors.vendors.hubspot import HubSpot, HubSpotSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, body_of, json_response
from tests.connectors.scenario import TOKEN

PORT = "crm"
PORTAL_ID = 62515
BURST_LIMIT = 190  # requests per 10 s for a Professional account's private app
COUNTRY_NAMES = {"US": "United States", "DE": "Germany", "GB": "United Kingdom"}  # `country` is free text
TIMEZONE_SLUGS = {"America/New_York": "america_slash_new_york"}  # the `timezone` option values
# The default sales pipeline (its stage ids are fixed; custom pipelines get numeric ids).
DEFAULT_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", False),
    ("qualifiedtobuy", "Qualified To Buy", False),
    ("presentationscheduled", "Presentation Scheduled", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", False),
    ("contractsent", "Contract Sent", False),
    ("closedwon", "Closed Won", True),
    ("closedlost", "Closed Lost", True),
)
SCENARIO_STAGES = {"negotiation": "contractsent", "closed_won": "closedwon", "closed_lost": "closedlost"}
ASSOCIATION_TYPE_COMPANY_TO_DEAL = 342  # HUBSPOT_DEFINED, unlabeled
SEARCH_BODY = 3_000  # characters a search's body may hold (search reference, "Limits")


def _correlation() -> str:
    return str(uuid.uuid4())


def error(status: int, message: str, category: str, **extra: Any) -> httpx.Response:
    return json_response(
        status, {"status": "error", "message": message, "correlationId": _correlation(), "category": category, **extra}
    )


class FakeHubSpot(FakeVendor):
    """HubSpot as a private app's access token sees it."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.owner_ids = {name: str(70000000 + i) for i, name in enumerate(sorted(_owners(workspace.accounts)), 1)}
        self.companies = {a.id: self._company(a) for a in workspace.accounts}
        self.deals = {d.id: self._deal(d) for d in workspace.deals}
        self.links = {a.id: [d.id for d in workspace.deals if d.account_id == a.id] for a in workspace.accounts}
        self.stages: list[dict[str, Any]] = [_stage(i, *s) for i, s in enumerate(DEFAULT_STAGES)]
        self.owners_scope = True  # False: the token lacks crm.objects.owners.read
        self.association_page: int | None = None  # a smaller page than asked, to exercise paging

    # -- records in HubSpot's shape -------------------------------------------------------

    def _company(self, a: Account) -> dict[str, Any]:
        props = {
            "name": a.name,
            "domain": a.domain,
            "arr": f"{a.arr:.2f}" if a.arr is not None else None,
            "plan": a.plan,
            "renewal_date": a.renewal_date.isoformat() if a.renewal_date else None,
            "hubspot_owner_id": self.owner_ids.get(a.owner or ""),
            "country": COUNTRY_NAMES.get(a.country or "", a.country),
            "timezone": TIMEZONE_SLUGS.get(a.timezone or "", a.timezone),
            "annualrevenue": "9000000000",  # the firmographic revenue: must never be read as ARR
            "hs_object_id": a.id,
        }
        return _object(a.id, props)

    def _deal(self, d: Deal) -> dict[str, Any]:
        stage = SCENARIO_STAGES.get(d.stage, d.stage)
        closed = stage in ("closedwon", "closedlost")
        props = {
            "dealname": d.name,
            "amount": f"{d.amount:g}" if d.amount is not None else None,
            "dealstage": stage,
            "pipeline": "default",
            "closedate": _instant(d.close_date) if d.close_date else None,
            "hs_is_closed": "true" if closed else "false",
            # The default `dealtype` options (knowledge.hubspot.com/properties/hubspots-default-deal-properties):
            # "New Business" is `newbusiness`, "Existing Business" is `existingbusiness`.
            "dealtype": "existingbusiness" if d.renewal else "newbusiness",
            "hs_object_id": d.id,
        }
        return _object(d.id, props)

    def add_company(self, company_id: str, **properties: str | None) -> None:
        self.companies[company_id] = _object(company_id, {"hs_object_id": company_id, **properties})
        self.links.setdefault(company_id, [])

    def add_deal(self, deal_id: str, company_id: str, **properties: str | None) -> None:
        self.deals[deal_id] = _object(deal_id, {"hs_object_id": deal_id, **properties})
        self.links.setdefault(company_id, []).append(deal_id)

    # -- errors as HubSpot sends them -------------------------------------------------------

    def unauthorized(self) -> httpx.Response:
        # https://developers.hubspot.com/docs/api-reference/error-handling
        return error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
            "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def rate_limited(self, retry_after: float) -> httpx.Response:
        # https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines.md: a 429 names the
        # policy (body as HubSpot's Node SDK RetryDecorator reads it); Retry-After is documented for workflows
        # only, so none is sent here and `retry_after` is unused.
        del retry_after
        return json_response(
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": _correlation(),
                "policyName": "TEN_SECONDLY_ROLLING",
            },
            self._limit_headers(0),
        )

    def server_error(self) -> httpx.Response:
        return error(500, "internal error", "INTERNAL_ERROR")

    def _limit_headers(self, remaining: int) -> dict[str, str]:
        return {
            "x-hubspot-ratelimit-max": str(BURST_LIMIT),
            "x-hubspot-ratelimit-remaining": str(remaining),
            "x-hubspot-ratelimit-interval-milliseconds": "10000",
        }

    def _ok(self, body: Any, status: int = 200) -> httpx.Response:
        # Rate-limit headers come on every answer but search ones (usage guidelines).
        return json_response(status, body, self._limit_headers(max(0, BURST_LIMIT - len(self.requests))))

    # -- routing ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if method == "POST" and path == "/crm/v3/objects/companies/search":
            if len(request.content.decode()) > SEARCH_BODY:
                return error(400, "There was a problem with the request.", "VALIDATION_ERROR")
            return self._search(body_of(request))
        if method == "POST" and path == "/crm/v4/associations/companies/deals/batch/read":
            return self._associations_batch(body_of(request))
        if method == "GET" and (m := re.fullmatch(r"/crm/v4/objects/companies/([^/]+)/associations/deals", path)):
            return self._associations(m.group(1), request.url.params)
        if method == "POST" and path == "/crm/v3/objects/deals/batch/read":
            return self._batch_read(body_of(request))
        if method == "GET" and path == "/crm/v3/pipelines/deals":
            return self._pipelines()
        if method == "GET" and (m := re.fullmatch(r"/crm/v3/owners/([^/]+)", path)):
            return self._owner(m.group(1))
        if method == "GET" and path == "/account-info/v3/details":
            return self._account_info()
        return error(404, f"Unable to route {method} request with path {path}", "OBJECT_NOT_FOUND")

    # https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/companies/search/search-companies.md
    # and the CRM search guide: up to 5 filterGroups of 6 filters, 200 results a page, `after` is an offset.
    def _search(self, body: Any) -> httpx.Response:
        groups: list[dict[str, Any]] = body.get("filterGroups") or []
        limit = int(body.get("limit", 10))
        filters = [len(g.get("filters", [])) for g in groups]
        if len(groups) > 5 or any(n > 6 for n in filters) or sum(filters) > 18 or not 0 < limit <= 200:
            return error(400, "There was a problem with the request.", "VALIDATION_ERROR")
        hits = [c for c in self.companies.values() if not groups or any(_all(g, c) for g in groups)]
        sorts: list[dict[str, Any]] = body.get("sorts") or []
        for sort in sorts:
            hits.sort(
                key=lambda c: str(c["properties"].get(sort["propertyName"]) or "").lower(),
                reverse=sort.get("direction") == "DESCENDING",
            )
        start = int(body.get("after") or 0)
        page = hits[start : start + limit]
        wanted = body.get("properties") or ["name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"]
        result: dict[str, Any] = {"total": len(hits), "results": [_select(c, wanted) for c in page]}
        if start + limit < len(hits):
            after = str(start + limit)
            result["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return json_response(200, result)  # search answers carry no rate-limit headers

    # https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide (List: GET .../associations/{to})
    def _associations(self, company_id: str, params: httpx.QueryParams) -> httpx.Response:
        if company_id not in self.companies:
            return error(404, f"Object not found. objectId are usually numeric. id={company_id}", "OBJECT_NOT_FOUND")
        limit = min(int(params.get("limit", 500)), self.association_page or 500)
        start = int(params.get("after") or 0)
        linked = self.links.get(company_id, [])
        page = linked[start : start + limit]
        types = [{"category": "HUBSPOT_DEFINED", "typeId": ASSOCIATION_TYPE_COMPANY_TO_DEAL, "label": None}]
        result: dict[str, Any] = {"results": [{"toObjectId": int(d), "associationTypes": types} for d in page]}
        if start + limit < len(linked):
            after = str(start + limit)
            result["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
        return self._ok(result)

    # https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide (Retrieve associated records:
    # batch read, 1,000 inputs at most). Each input may carry the `after` its company's last page gave; a company
    # without deals comes back as an error with HTTP 207 (crm.associations.NO_ASSOCIATIONS_FOUND).
    def _associations_batch(self, body: Any) -> httpx.Response:
        inputs: list[dict[str, Any]] = body.get("inputs") or []
        if len(inputs) > 1000:
            return error(400, "Batch input cannot exceed 1000 inputs.", "VALIDATION_ERROR")
        types = [{"category": "HUBSPOT_DEFINED", "typeId": ASSOCIATION_TYPE_COMPANY_TO_DEAL, "label": None}]
        results: list[dict[str, Any]] = []
        unlinked: list[str] = []
        size = self.association_page or 500
        for given in inputs:
            company = str(given["id"])
            linked = self.links.get(company, [])
            if not linked:
                unlinked.append(company)
                continue
            start = int(given.get("after") or 0)
            result: dict[str, Any] = {
                "from": {"id": company},
                "to": [{"toObjectId": int(d), "associationTypes": types} for d in linked[start : start + size]],
            }
            if start + size < len(linked):
                after = str(start + size)
                result["paging"] = {"next": {"after": after, "link": f"?after={after}"}}
            results.append(result)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        if not unlinked:
            return self._ok(answer)
        answer["numErrors"] = len(unlinked)
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No deal is associated with company {company}.",
                "context": {"fromObjectId": [company], "fromObjectType": ["company"], "toObjectType": ["deal"]},
            }
            for company in unlinked
        ]
        return self._ok(answer, 207)

    # https://developers.hubspot.com/docs/api-reference/legacy/crm/objects/deals/batch/get-deals.md
    # (100 inputs at most; unknown ids come back as errors with HTTP 207).
    def _batch_read(self, body: Any) -> httpx.Response:
        inputs: list[dict[str, Any]] = body.get("inputs") or []
        if len(inputs) > 100:
            return error(400, "Batch input cannot exceed 100 inputs.", "VALIDATION_ERROR")
        wanted = body.get("properties") or ["dealname", "amount", "dealstage", "closedate"]
        found = [_select(self.deals[i["id"]], wanted) for i in inputs if i["id"] in self.deals]
        missing = [i["id"] for i in inputs if i["id"] not in self.deals]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        result: dict[str, Any] = {"status": "COMPLETE", "results": found, "startedAt": now, "completedAt": now}
        if missing:
            result["numErrors"] = 1
            result["errors"] = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "message": "Could not get some DEAL objects, they may be deleted or not exist.",
                    "context": {"ids": missing},
                }
            ]
            return self._ok(result, 207)
        return self._ok(result)

    # https://developers.hubspot.com/docs/api-reference/crm-pipelines-v3/guide
    def _pipelines(self) -> httpx.Response:
        pipeline = {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "archived": False,
            "createdAt": "2020-01-01T00:00:00Z",
            "updatedAt": "2020-01-01T00:00:00Z",
            "stages": self.stages,
        }
        return self._ok({"results": [pipeline]})

    # https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide
    def _owner(self, owner_id: str) -> httpx.Response:
        if not self.owners_scope:
            return error(
                403,
                "This app hasn't been granted all required scopes to make this call. Read more about required "
                "scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.objects.owners.read"]},
                    }
                ],
            )
        name = next((n for n, i in self.owner_ids.items() if i == owner_id), None)
        if name is None:
            return error(404, f"Owner {owner_id} not found", "OBJECT_NOT_FOUND")
        first, _, last = name.partition(" ")
        return self._ok(
            {
                "id": owner_id,
                "email": f"{first.lower()}@example.com",
                "type": "PERSON",
                "firstName": first,
                "lastName": last,
                "userId": int(owner_id) - 60000000,
                "createdAt": "2020-01-01T00:00:00Z",
                "updatedAt": "2020-01-01T00:00:00Z",
                "archived": False,
            }
        )

    # https://developers.hubspot.com/docs/api-reference/latest/account/account-information/get-account-details
    def _account_info(self) -> httpx.Response:
        return self._ok(
            {
                "portalId": PORTAL_ID,
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18000000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            }
        )


def _owners(accounts: list[Account]) -> set[str]:
    return {a.owner for a in accounts if a.owner}


def _object(object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": object_id,
        "properties": properties,
        "createdAt": "2024-01-01T00:00:00Z",
        "updatedAt": "2024-06-01T00:00:00Z",
        "archived": False,
    }


def _select(record: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    """The record with only the asked-for properties; unknown ones are ignored, as HubSpot does."""
    props = record["properties"]
    return {**record, "properties": {p: props[p] for p in wanted if p in props}}


def _stage(order: int, stage_id: str, label: str, closed: bool) -> dict[str, Any]:
    return {
        "id": stage_id,
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": "true" if closed else "false", "probability": "1.0" if closed else "0.5"},
        "archived": False,
        "createdAt": "2020-01-01T00:00:00Z",
        "updatedAt": "2020-01-01T00:00:00Z",
    }


def _instant(day: Any) -> str:
    return datetime.combine(day, time(0), UTC).isoformat().replace("+00:00", "Z")


def _all(group: dict[str, Any], company: dict[str, Any]) -> bool:
    return all(_match(f, company["properties"]) for f in group.get("filters", []))


def _match(rule: dict[str, Any], props: dict[str, Any]) -> bool:
    value = str(props.get(rule.get("propertyName", "")) or "").lower()
    wanted = str(rule.get("value", "")).lower()
    operator = rule.get("operator")
    if operator == "EQ":
        return value == wanted
    if operator == "CONTAINS_TOKEN":
        return any(fnmatch.fnmatchcase(token, wanted) for token in re.findall(r"\w+", value))
    if operator == "IN":  # the values as sent: the reference requires them in lower case, so no other matches
        values: list[Any] = rule.get("values") or []
        return value in [str(v) for v in values]
    return False


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[HubSpot, FakeHubSpot]:
    fake = FakeHubSpot(workspace, token=token)
    adapter = HubSpot(HubSpotSettings(token=SecretStr(token)), policy=FAST, transport=fake.transport())
    return adapter, fake
