"""HubSpot (Smart CRM) as the CRM: companies are the accounts, their deals the deals.

Endpoints (https://api.hubapi.com, CRM API v3/v4):
- `POST /crm/v3/objects/companies/search`: companies whose name holds the query's words (the last one
  as a prefix) or whose domain is the query, paged with `after`; the companies on one plan (an `EQ`
  filter on the plan property, which search compares without regard to case), paged with `after`, which
  is also the cursor handed back; and the companies named exactly (`IN` filters on `name` and `domain`,
  as many names a request as fit in search's 3,000-character body);
- `GET /crm/v4/objects/companies/{id}/associations/deals`: the company's deal ids, paged with `after`;
- `POST /crm/v4/associations/companies/deals/batch/read`: the deal ids of up to 1,000 companies at once,
  each company's paged with its own `after`;
- `POST /crm/v3/objects/deals/batch/read`: those deals, 100 per call; a deal renews revenue already
  counted when its `dealtype` is `existingbusiness` (the default option "Existing Business") or an option
  a portal added whose value names a renewal;
- `GET /crm/v3/pipelines/deals`: stage labels, and which stages count as closed (`metadata.isClosed`);
- `GET /crm/v3/owners/{ownerId}`: the account owner's name (needs `crm.objects.owners.read`; without it
  the owner is left out);
- `GET /account-info/v3/details`: which portal the token belongs to.

Auth: the access token of a private app (or service key) as a Bearer token, with the scopes
`crm.objects.companies.read` and `crm.objects.deals.read`. ARR, plan and renewal date are not HubSpot
defaults (`annualrevenue` is the company's revenue, not what it pays us): their property names are settings.

Rate limit relied on: CRM search allows 5 requests per second per account and other calls 100 to 190 per
10 s per app; pacing at 4 requests per second stays under both. HubSpot documents no Retry-After for API
429s, so a 429 is retried after the policy's backoff.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, cast

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import AuthError, ConnectorError, InvalidCursorError, NotFoundError
from connectors.health import Health, probe
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse
from connectors.models import Account, Deal, Page
from connectors.products import VendorSettings
from connectors.vendors.crm_values import Places, amount_of, date_of, host_of, truthy
from connectors.vendors.query import fitting_chunks

log = logging.getLogger(__name__)

BASE_URL = "https://api.hubapi.com"
SEARCH_PATH = "/crm/v3/objects/companies/search"
BATCH_READ_PATH = "/crm/v3/objects/deals/batch/read"
COMPANY_DEALS_PATH = "/crm/v4/associations/companies/deals/batch/read"
POLICY = Policy(rate=4.0, burst=4, backoff=1.0)  # search: 5/s per account; the secondly limit clears in 1 s
SEARCH_PAGE = 200  # CRM search's largest page
SEARCH_FILTERS = 6  # filters per filter group
SEARCH_BODY = 3_000  # characters a search's body may hold; a longer one is refused with a 400
SEARCH_RESULTS = 10_000  # search pages no further than this into any one query's results
ASSOCIATION_PAGE = 500
ASSOCIATION_PAGES = 20  # 10,000 deals on one company is far past anything an escalation needs
BATCH_READ = 100  # inputs per batch read
ASSOCIATION_BATCH = 1_000  # companies per batch read of associations
DOMAIN_SHAPED = re.compile(r"\S+\.\S+")
DEAL_PROPERTIES = ("dealname", "amount", "dealstage", "closedate", "pipeline", "hs_is_closed", "dealtype")
RENEWAL_DEAL_TYPES = frozenset({"existingbusiness"})  # the default `dealtype` options: newbusiness, existingbusiness
CLOSED_STAGES = frozenset({"closedwon", "closedlost"})  # the default pipeline's closed stages


class HubSpotSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_HUBSPOT_", extra="ignore", frozen=True)

    token: SecretStr = Field(description="Access token of a HubSpot private app or service key (pat-...).")
    base_url: str | None = Field(default=None, description="Overrides https://api.hubapi.com (proxy, tests).")
    arr_property: str | None = Field(
        default="arr", description="Company property holding ARR in USD (custom; `annualrevenue` is not ARR)."
    )
    plan_property: str | None = Field(
        default="plan", description="Company property holding the plan (custom); segments are read from it."
    )
    renewal_property: str | None = Field(
        default="renewal_date", description="Company date property holding the renewal date (custom)."
    )
    owner_property: str | None = Field(default="hubspot_owner_id", description="Company property of the owner id.")
    country_property: str | None = Field(default="country", description="Company property of the country.")
    timezone_property: str | None = Field(default="timezone", description="Company property of the time zone.")
    health_property: str | None = Field(default=None, description="Company property of account health, if any.")
    reference_property: str | None = Field(
        default=None, description="Company property that is true for reference customers, if any."
    )

    @field_validator("token")
    @classmethod
    def _token_given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator(
        "arr_property",
        "plan_property",
        "renewal_property",
        "owner_property",
        "country_property",
        "timezone_property",
        "health_property",
        "reference_property",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty variable means "do not read this property"."""
        return None if isinstance(value, str) and not value.strip() else value


# -- vendor payloads (only the fields used) ------------------------------------------------


class _Next(BaseModel):
    after: str | int


class _Paging(BaseModel):
    next: _Next | None = None


class _Object(BaseModel):
    id: str
    properties: dict[str, Any] = {}  # every value is a string or null in CRM v3


class _Search(BaseModel):
    results: list[_Object]
    paging: _Paging | None = None


class _Associated(BaseModel):
    toObjectId: int | str


class _Associations(BaseModel):
    results: list[_Associated]
    paging: _Paging | None = None


class _Batch(BaseModel):
    results: list[_Object]  # ids that no longer exist come back under `errors` (HTTP 207), not here


class _From(BaseModel):
    id: str | int


class _Linked(BaseModel):
    from_: _From = Field(alias="from")
    to: list[_Associated] = []
    paging: _Paging | None = None  # this company has more associations than one answer holds


class _Links(BaseModel):
    # A company without deals comes back under `errors` (NO_ASSOCIATIONS_FOUND, HTTP 207), not here.
    results: list[_Linked]


class _Stage(BaseModel):
    id: str
    label: str
    metadata: dict[str, Any] = {}


class _Pipeline(BaseModel):
    id: str
    stages: list[_Stage] = []


class _Pipelines(BaseModel):
    results: list[_Pipeline]


class _Owner(BaseModel):
    firstName: str | None = None
    lastName: str | None = None
    email: str | None = None


class _AccountInfo(BaseModel):
    portalId: int
    uiDomain: str | None = None
    accountType: str | None = None


def _next_after(paging: _Paging | None) -> str | None:
    return str(paging.next.after) if paging is not None and paging.next is not None else None


# -- the adapter ---------------------------------------------------------------------------


class HubSpot:
    """The CRM port over HubSpot companies and deals."""

    name = "hubspot"

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._settings = settings
        token = settings.token.get_secret_value()
        self._places = Places()
        self._api = Upstream(
            self.name,
            settings.base_url or BASE_URL,
            headers={"authorization": f"Bearer {token}"},
            secrets=[token],
            credentials_hint="ESCALATION_HUBSPOT_TOKEN and its scopes (CONNECTORS.md)",
            address_hint="ESCALATION_HUBSPOT_BASE_URL",
            policy=policy or POLICY,
            transport=transport,
            describe=describe_error,
        )
        self._owners: dict[str, str | None] = {}  # owner id -> name, for the life of the adapter
        self._owners_readable = True  # false once HubSpot refused the owners scope

    async def aclose(self) -> None:
        await self._api.aclose()

    async def check(self) -> Health:
        async def whoami() -> str:
            info = parse(self.name, _AccountInfo, await self._api.get("/account-info/v3/details"))
            where = f" ({info.uiDomain})" if info.uiDomain else ""
            return f"HubSpot portal {info.portalId}{where}"

        return await probe(self._api, whoami)

    # -- accounts --------------------------------------------------------------------------

    async def search_accounts(self, query: str, *, limit: int = 10) -> list[Account]:
        """Companies whose name holds every word of `query` (the last as a prefix), or whose domain is `query`."""
        if limit <= 0:
            return []
        body: dict[str, Any] = {
            "filterGroups": filter_groups(query),
            "properties": self._company_properties(),
            "sorts": [{"propertyName": "name", "direction": "ASCENDING"}],
        }
        found = await self._search(body, limit=limit, cursor=None)
        owners = await self._owner_names({self._value(c, self._settings.owner_property) for c in found.items})
        return [self._account(company, owners) for company in found.items]

    async def accounts_on_plan(self, plan: str, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        """Companies whose plan property equals `plan` (any case), oldest record first, paged with HubSpot's `after`."""
        # Search's `after` is a result offset, and search stops at 10,000 results.
        if cursor is not None and not re.fullmatch(r"\d{1,5}", cursor):
            raise InvalidCursorError(self.name)
        prop = self._settings.plan_property
        if prop is None:
            raise ConnectorError(
                self.name,
                f"cannot list a segment: no plan property is read; set {HubSpotSettings.variable('plan_property')} "
                "to the company property holding the plan",
            )
        if limit <= 0 or not plan.strip():
            return Page[Account](items=[])
        # The value goes in a JSON body, not a query language: nothing to escape. Search compares strings
        # without regard to case, but the reference does not promise it for EQ, so the usual spellings are
        # ORed as well (one filter group each, within search's limit of five).
        wanted = plan.strip()
        spellings = dict.fromkeys((wanted, wanted.lower(), wanted.upper(), wanted.title(), wanted.capitalize()))
        body: dict[str, Any] = {
            "filterGroups": [{"filters": [{"propertyName": prop, "operator": "EQ", "value": v}]} for v in spellings],
            "properties": self._company_properties(),
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],  # stable across pages
        }
        found = await self._search(body, limit=limit, cursor=cursor)
        owners = await self._owner_names({self._value(c, self._settings.owner_property) for c in found.items})
        return Page[Account](items=[self._account(c, owners) for c in found.items], next_cursor=found.next_cursor)

    async def accounts_named(self, names: Sequence[str]) -> list[Account]:
        """Companies whose name or domain equals one of `names` (any case), by name: `IN` filters, each
        search holding as many names as fit in its body."""
        # Search's reference: the values of an IN filter on a string property must be lower case.
        wanted = list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
        found: dict[str, _Object] = {}
        for values in fitting_chunks(wanted, lambda chunk: fits_search(self._named_body(chunk))):
            page = await self._search(self._named_body(values), limit=SEARCH_RESULTS, cursor=None)
            for company in page.items:
                found.setdefault(company.id, company)
        # Only an exact name or domain counts, as the caller compares them, whatever search let through.
        keys = set(wanted)
        named = [
            c
            for c in found.values()
            if (self._value(c, "name") or "").lower() in keys or host_of(self._value(c, "domain")) in keys
        ]
        owners = await self._owner_names({self._value(c, self._settings.owner_property) for c in named})
        return sorted((self._account(c, owners) for c in named), key=lambda a: a.name.lower())

    def _named_body(self, values: Sequence[str]) -> dict[str, Any]:
        """The search for `values` as names, and for the domain-shaped ones as domains too."""
        groups = [{"filters": [{"propertyName": "name", "operator": "IN", "values": list(values)}]}]
        domains = [v for v in values if DOMAIN_SHAPED.fullmatch(v)]
        if domains:
            groups.append({"filters": [{"propertyName": "domain", "operator": "IN", "values": domains}]})
        return {
            "filterGroups": groups,
            "properties": self._company_properties(),
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],  # stable across pages
        }

    async def _search(self, body: Mapping[str, Any], *, limit: int, cursor: str | None) -> Page[_Object]:
        """Companies matching a search body, page by page with `after` from `cursor` until `limit`."""

        async def fetch(after: str | None, size: int) -> tuple[list[_Object], str | None]:
            page_body = {**body, "limit": size, **({"after": after} if after is not None else {})}
            page = parse(self.name, _Search, await self._api.post(SEARCH_PATH, json=page_body, idempotent=True))
            return page.results, _next_after(page.paging)

        return await paginate(fetch, limit=limit, cursor=cursor, page_size=SEARCH_PAGE)

    def _company_properties(self) -> list[str]:
        s = self._settings
        wanted = (
            "name",
            "domain",
            s.arr_property,
            s.plan_property,
            s.renewal_property,
            s.owner_property,
            s.country_property,
            s.timezone_property,
            s.health_property,
            s.reference_property,
        )
        # Properties an account lacks are ignored by HubSpot, so a default that does not exist costs nothing.
        return list(dict.fromkeys(p for p in wanted if p))

    @staticmethod
    def _value(record: _Object, prop: str | None) -> str | None:
        if prop is None:
            return None
        value = record.properties.get(prop)
        text = str(value).strip() if value is not None else ""
        return text or None

    def _account(self, company: _Object, owners: Mapping[str, str | None]) -> Account:
        s, value = self._settings, self._value
        owner_id = value(company, s.owner_property)
        return Account(
            id=company.id,
            name=value(company, "name") or f"HubSpot company {company.id}",
            domain=host_of(value(company, "domain")),
            arr=amount_of(value(company, s.arr_property), nonnegative=True),
            plan=value(company, s.plan_property),
            renewal_date=date_of(value(company, s.renewal_property)),
            owner=owners.get(owner_id) if owner_id else None,
            reference_customer=truthy(value(company, s.reference_property)),
            health=value(company, s.health_property),
            timezone=self._places.iana_timezone(value(company, s.timezone_property)),
            country=self._places.country_code(value(company, s.country_property)),
        )

    async def _owner_names(self, ids: set[str | None]) -> Mapping[str, str | None]:
        """Owner names by id; an owner we may not read (no owners scope) or that is gone stays unnamed."""
        for owner_id in sorted(i for i in ids if i and i.isdigit() and i not in self._owners):
            if not self._owners_readable:
                break
            try:
                owner = parse(self.name, _Owner, await self._api.get(f"/crm/v3/owners/{owner_id}", lookup=True))
            except NotFoundError:
                self._owners[owner_id] = None
                continue
            except AuthError as exc:
                log.warning("hubspot: owner names left out (grant crm.objects.owners.read to see them): %s", exc)
                self._owners_readable = False
                break
            full = " ".join(n for n in (owner.firstName, owner.lastName) if n)
            self._owners[owner_id] = full or owner.email
        return self._owners

    # -- deals -----------------------------------------------------------------------------

    async def open_deals(self, account_id: str) -> list[Deal]:
        """The company's deals that are not in a closed stage, soonest close date first."""
        if not account_id.isdigit():  # HubSpot record ids are numbers; anything else cannot exist
            raise NotFoundError(self.name, f"no company with id {account_id!r}")
        ids = await self._deal_ids(account_id)
        if not ids:
            return []
        stages = await self._stages()
        deals = await self._read_deals(ids)
        return _soonest_first(self._deal(d, account_id, stages) for d in deals if not self._closed(d, stages))

    async def open_deals_of(self, account_ids: Sequence[str]) -> dict[str, list[Deal]]:
        """`open_deals` of each company, keyed as asked: the deal ids of 1,000 companies a request, then
        every deal among them 100 a request and the stages once, whatever the number of companies."""
        keys = list(dict.fromkeys(account_ids))
        # HubSpot names a company by its number ("0042" comes back as "42"); anything else cannot exist.
        asked = {key: str(int(key)) for key in keys if key.isascii() and key.isdigit()}
        linked = await self._deal_ids_of(list(dict.fromkeys(asked.values()))) if asked else {}
        every = list(dict.fromkeys(d for ids in linked.values() for d in ids))
        stages = await self._stages() if every else {}
        deals = {d.id: d for d in await self._read_deals(every)}
        result: dict[str, list[Deal]] = {}
        for key in keys:
            found = [deals[i] for i in linked.get(asked.get(key, ""), []) if i in deals]
            result[key] = _soonest_first(self._deal(d, key, stages) for d in found if not self._closed(d, stages))
        return result

    async def _read_deals(self, ids: Sequence[str]) -> list[_Object]:
        """The deals with these ids, 100 a batch read; ids that no longer exist are left out."""
        deals: list[_Object] = []
        for start in range(0, len(ids), BATCH_READ):
            inputs = [{"id": deal_id} for deal_id in ids[start : start + BATCH_READ]]
            body = {"properties": list(DEAL_PROPERTIES), "inputs": inputs}
            batch = parse(self.name, _Batch, await self._api.post(BATCH_READ_PATH, json=body, idempotent=True))
            deals.extend(batch.results)
        return deals

    async def _deal_ids(self, account_id: str) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        for _ in range(ASSOCIATION_PAGES):
            params: dict[str, Any] = {"limit": ASSOCIATION_PAGE, **({"after": after} if after else {})}
            path = f"/crm/v4/objects/companies/{account_id}/associations/deals"
            page = parse(self.name, _Associations, await self._api.get(path, params=params, lookup=True))
            ids.extend(str(a.toObjectId) for a in page.results)
            after = _next_after(page.paging)
            if after is None or not page.results:
                break
        return list(dict.fromkeys(ids))  # one deal may be associated under several labels

    async def _deal_ids_of(self, company_ids: Sequence[str]) -> dict[str, list[str]]:
        """The deal ids of each company, 1,000 companies a batch read; a company whose deals fill more than
        one answer is asked again with its own `after`, alongside the others that need another page."""
        linked: dict[str, list[str]] = {company: [] for company in company_ids}
        pending: list[dict[str, str]] = [{"id": company} for company in company_ids]
        for _ in range(ASSOCIATION_PAGES):
            following: list[dict[str, str]] = []
            for start in range(0, len(pending), ASSOCIATION_BATCH):
                body = {"inputs": pending[start : start + ASSOCIATION_BATCH]}
                links = parse(self.name, _Links, await self._api.post(COMPANY_DEALS_PATH, json=body, idempotent=True))
                for result in links.results:
                    company = str(result.from_.id)
                    if company not in linked:  # only what was asked for
                        continue
                    linked[company].extend(str(a.toObjectId) for a in result.to)
                    after = _next_after(result.paging)
                    if after is not None and result.to:
                        following.append({"id": company, "after": after})
            pending = following
            if not pending:
                break
        return {company: list(dict.fromkeys(ids)) for company, ids in linked.items()}  # labels repeat a deal

    async def _stages(self) -> dict[str, _Stage]:
        pipelines = parse(self.name, _Pipelines, await self._api.get("/crm/v3/pipelines/deals"))
        return {stage.id: stage for pipeline in pipelines.results for stage in pipeline.stages}

    def _closed(self, deal: _Object, stages: Mapping[str, _Stage]) -> bool:
        # `metadata.isClosed` is the documented signal; hs_is_closed (a calculated property the reference
        # does not list) and the default pipeline's stage ids are fallbacks.
        stage_id = self._value(deal, "dealstage")
        stage = stages.get(stage_id or "")
        return (
            truthy(self._value(deal, "hs_is_closed"))
            or (stage is not None and truthy(stage.metadata.get("isClosed")))
            or (stage_id in CLOSED_STAGES)
        )

    def _deal(self, deal: _Object, account_id: str, stages: Mapping[str, _Stage]) -> Deal:
        stage_id = self._value(deal, "dealstage")
        stage = stages.get(stage_id or "")
        return Deal(
            id=deal.id,
            account_id=account_id,
            name=self._value(deal, "dealname") or f"HubSpot deal {deal.id}",
            amount=amount_of(self._value(deal, "amount")),
            stage=stage.label if stage is not None else stage_id or "unknown",
            close_date=date_of(self._value(deal, "closedate")),
            renewal=is_renewal(self._value(deal, "dealtype")),
        )


# -- the search body -----------------------------------------------------------------------


def filter_groups(query: str) -> list[dict[str, Any]]:
    """HubSpot filter groups (ORed) for an account name or domain; no group at all matches every company.

    An account lookup gets a name or a domain, not a sentence, so the name's words are ANDed within one
    group (CONTAINS_TOKEN, the last word with a trailing `*` so a partly typed name matches) and a
    domain-shaped query gets a second group matching the `domain` property exactly.
    """
    groups: list[dict[str, Any]] = []
    words = re.findall(r"\w+", query.lower())[:SEARCH_FILTERS]
    if words:
        values = [*words[:-1], f"{words[-1]}*"]
        groups.append({"filters": [{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": v} for v in values]})
    domain = host_of(query) if re.fullmatch(r"\S+\.\S+", query.strip()) else None
    if domain:
        groups.append({"filters": [{"propertyName": "domain", "operator": "EQ", "value": domain}]})
    return groups


def _soonest_first(deals: Iterable[Deal]) -> list[Deal]:
    return sorted(deals, key=lambda d: (d.close_date or date.max, d.name))


def fits_search(body: Mapping[str, Any]) -> bool:
    """Whether every page of a search with this body stays within search's body limit, the largest page and
    the longest cursor included. Measured in UTF-8 bytes of the JSON as sent, never fewer than characters."""
    page = {**body, "limit": SEARCH_PAGE, "after": str(SEARCH_RESULTS)}
    sent = json.dumps(page, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(sent.encode()) <= SEARCH_BODY


def is_renewal(deal_type: str | None) -> bool:
    """Whether a `dealtype` value means the deal renews revenue already counted: the default "Existing
    Business" option, or a portal's own option whose internal value names a renewal."""
    value = (deal_type or "").strip().lower()
    return value in RENEWAL_DEAL_TYPES or "renewal" in value


def describe_error(body: Json) -> str | None:
    """HubSpot's error message (`{"status": "error", "message": ..., "category": ...}`), naming missing scopes."""
    if not isinstance(body, dict):
        return None
    error = cast(dict[str, Any], body)
    message = error.get("message")
    scopes: list[str] = []
    listed = error.get("errors")
    details = cast(list[Any], listed) if isinstance(listed, list) else []
    for detail in details:
        context = cast(dict[str, Any], detail).get("context") if isinstance(detail, dict) else None
        if isinstance(context, dict):
            for key in ("requiredGranularScopes", "requiredScopes"):
                found = cast(dict[str, Any], context).get(key)
                if isinstance(found, list):
                    scopes.extend(str(s) for s in cast(list[Any], found))
    if scopes:
        return f"needs scope {', '.join(dict.fromkeys(scopes))}; {message or ''}".rstrip("; ")
    return str(message) if message else None


SETTINGS = HubSpotSettings
ADAPTER = HubSpot
