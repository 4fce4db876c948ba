"""Salesforce (Sales Cloud) as the CRM: Accounts and their open Opportunities, through the REST API.

Endpoints (on the org's My Domain, `https://<domain>.my.salesforce.com`):
- `GET /services/data/vXX.X/query?q=<SOQL>`: Accounts whose Name or Website holds the query, and
  Opportunities of one Account with `IsClosed = false`; a long answer is continued through its
  `nextRecordsUrl`. The Accounts on one plan (`<plan field> = '<plan>'`, which SOQL compares without
  regard to case) are paged by Id (`Id > '<last id>' ORDER BY Id`), the last Id being the cursor handed
  back, so a segment of any size pages without OFFSET's 2,000-row ceiling. An Opportunity renews revenue
  already counted when its `Type` names a renewal (orgs add a value such as "Renewal" or "Existing
  Customer - Renewal" to the standard picklist). In bulk: the Accounts named one of many names
  (`Name IN (...)`, or a Website holding a domain-shaped one) and the open Opportunities of many Accounts
  (`AccountId IN (...)`), as many a query as keep its URI under 8,000 bytes (the REST API refuses a URI
  and headers over 16,384 bytes; SOQL's own limit, 100,000 characters, is never near);
- `GET /services/oauth2/userinfo`: who the token belongs to (the doctor only).

Auth: an OAuth 2.0 access token (Bearer) of the integration user: either given as is (it lives as long as
the session, 2 hours by default, and is not renewed), or obtained and renewed by `connectors.http.oauth` with
the OAuth 2.0 client credentials flow (`POST /services/oauth2/token`, `grant_type=client_credentials`;
the answer has no `expires_in`, so a token is renewed when the API answers 401 `INVALID_SESSION_ID`).
ARR, plan and renewal date are custom fields (`AnnualRevenue` is the company's revenue, not what it pays
us): their API names are settings, and a name the org lacks is reported as such by the doctor and on
every search.

Rate limit relied on: Salesforce has no per-second limit but a daily allocation of API requests per org
(rolling 24 hours), reported in `Sforce-Limit-Info` and answered with HTTP 403 `REQUEST_LIMIT_EXCEEDED`
when used up (also when too many long-running requests run at once). We pace at 5 requests per second;
a `REQUEST_LIMIT_EXCEEDED` is read as a rate limit (not as refused credentials), retried with backoff,
then raised as RateLimitedError.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from connectors.errors import (
    AuthError,
    ConnectorError,
    InvalidCursorError,
    NotFoundError,
    RateLimitedError,
    UpstreamError,
)
from connectors.health import Health, probe
from connectors.http.oauth import ClientCredentials, OAuth
from connectors.http.upstream import Json, Policy, Upstream, paginate, parse, shape
from connectors.models import Account, Deal, Page
from connectors.products import VendorSettings
from connectors.vendors.crm_values import Places, amount_of, date_of, host_of, truthy
from connectors.vendors.query import fitting_chunks

POLICY = Policy(rate=5.0, burst=5)  # no per-second limit is documented; this keeps clear of the daily allocation
QUERY_BATCH = 2000  # the most records one query answer holds
DEAL_PAGES = 10  # 20,000 open opportunities on one account is far past anything an escalation needs
NAMED_ROWS = 10_000  # rows of one bulk name lookup read at most: far more accounts than a case holds
QUERY_URI = 8_000  # bytes of a query's URI: half what the REST API takes with the headers (16,384)
DOMAIN_SHAPED = re.compile(r"\S+\.\S+")
LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
CASE_SAFE = 15  # an 18-character id is the 15-character one plus a checksum of its case
OPPORTUNITY_FIELDS = "Id, Name, Amount, StageName, CloseDate, Type"
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?")  # `ARR__c`, `Owner.Name`
# Settings naming Account fields beyond Id, Name, Website and Owner.Name.
CUSTOM_FIELDS = (
    "arr_field",
    "plan_field",
    "renewal_field",
    "country_field",
    "timezone_field",
    "health_field",
    "reference_field",
)


class SalesforceSettings(VendorSettings):
    model_config = SettingsConfigDict(env_prefix="ESCALATION_SALESFORCE_", extra="ignore", frozen=True)

    token: SecretStr | None = Field(
        default=None, description="OAuth 2.0 access token of the integration user (or set client_id and client_secret)."
    )
    client_id: str | None = Field(
        default=None, description="Consumer key of an app with the client credentials flow; tokens are then renewed."
    )
    client_secret: SecretStr | None = Field(default=None, description="Consumer secret of that app.")
    instance_url: str = Field(description="The org's My Domain URL, like https://acme.my.salesforce.com.")
    api_version: str = Field(default="v62.0", description="REST API version, like v62.0 (Winter '25).")
    base_url: str | None = Field(default=None, description="Overrides instance_url (proxy, tests).")
    arr_field: str | None = Field(
        default="ARR__c", description="Account field holding ARR (custom; not AnnualRevenue)."
    )
    plan_field: str | None = Field(
        default="Plan__c", description="Account field holding the plan (custom); segments are read from it."
    )
    renewal_field: str | None = Field(default="Renewal_Date__c", description="Account date field of the renewal.")
    country_field: str | None = Field(default="BillingCountry", description="Account field holding the country.")
    timezone_field: str | None = Field(default=None, description="Account field holding an IANA time zone, if any.")
    health_field: str | None = Field(default=None, description="Account field holding account health, if any.")
    reference_field: str | None = Field(default=None, description="Account checkbox marking reference customers.")

    @field_validator("token", "client_id", "client_secret", mode="before")
    @classmethod
    def _blank_credential_is_none(cls, value: object) -> object:
        """An empty variable is an unset one, so the rule below names what to set."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _token_or_client_credentials(self) -> SalesforceSettings:
        client_id, secret = self.variable("client_id"), self.variable("client_secret")
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError(f"{client_id} and {secret} go together (the client credentials flow): set both or neither")
        if self.token is None and self.client_id is None:
            raise ValueError(
                f"{self.variable('token')} is not set (or set {client_id} and {secret} for the client credentials flow)"
            )
        return self

    @field_validator("instance_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        url = value.strip().rstrip("/")
        if not re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d+)?", url):
            raise ValueError("expected the org's https URL only, like https://acme.my.salesforce.com")
        return url

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        """Accept `62`, `62.0` or `v62.0`; keep `v62.0`."""
        match = re.fullmatch(r"v?(\d{2,3})(?:\.(\d))?", value.strip())
        if match is None:
            raise ValueError("expected a REST API version like v62.0")
        return f"v{match.group(1)}.{match.group(2) or '0'}"

    @field_validator(*CUSTOM_FIELDS, mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        """An empty variable means "do not read this field"."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(*CUSTOM_FIELDS)
    @classmethod
    def _api_name(cls, value: str | None) -> str | None:
        # Field names go into SOQL unquoted: only an API name may get there.
        if value is not None and not FIELD_NAME.fullmatch(value):
            raise ValueError("expected a field API name like ARR__c")
        return value


# -- SOQL literals -------------------------------------------------------------------------

_ESCAPES = MappingProxyType(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
)


def soql_string(text: str) -> str:
    """`text` as a quoted SOQL string literal; other control characters are dropped.

    Quote and backslash are reserved; the escapes are those of "Quoted String Escape Sequences" in the
    SOQL and SOSL Reference, so no input can end the literal early.
    """
    body = "".join(_ESCAPES.get(c, c) for c in text if c in _ESCAPES or c >= " ")
    return f"'{body}'"


def soql_contains(text: str) -> str:
    """A LIKE pattern literal for values containing `text`; its own `%` and `_` match only themselves."""
    escaped = soql_string(text)[1:-1].replace("%", "\\%").replace("_", "\\_")
    return f"'%{escaped}%'"


# -- vendor payloads -----------------------------------------------------------------------


class _Query(BaseModel):
    totalSize: int
    done: bool
    nextRecordsUrl: str | None = None
    records: list[dict[str, Any]]


class _UserInfo(BaseModel):
    preferred_username: str | None = None
    name: str | None = None
    organization_id: str | None = None


def describe_error(body: Json) -> str | None:
    """`ERROR_CODE: message` from the REST API's `[{"message", "errorCode"}]`, or an OAuth endpoint's error."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = cast(dict[str, Any], body[0])
        code, message = first.get("errorCode"), str(first.get("message") or "").strip()
        # A query error echoes the SOQL and a caret line first; its last line is the explanation.
        message = message.splitlines()[-1] if message else ""
        return f"{code}: {message}" if code else (message or None)
    if isinstance(body, dict):
        error = cast(dict[str, Any], body)
        said = error.get("error_description") or error.get("error")
        return str(said) if said else None
    return None


# -- the adapter ---------------------------------------------------------------------------


class Salesforce:
    """The CRM port over Salesforce Accounts and Opportunities."""

    name = "salesforce"

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: Policy | None = None,
    ) -> None:
        self._settings = settings
        token = settings.token.get_secret_value() if settings.token else None
        self._base = (settings.base_url or settings.instance_url).rstrip("/")
        self._places = Places()
        headers: dict[str, str] = {}
        auth: OAuth | None = None
        if settings.client_id and settings.client_secret:
            secret = settings.client_secret.get_secret_value()
            variables = f"{SalesforceSettings.variable('client_id')} and {SalesforceSettings.variable('client_secret')}"
            # The org's own My Domain: login.salesforce.com refuses this flow ("request not supported on this domain").
            auth = OAuth(
                self.name,
                f"{self._base}/services/oauth2/token",
                ClientCredentials(settings.client_id, secret),
                credentials_hint=f"{variables}, and that the app enables the client credentials flow (CONNECTORS.md)",
                access_token=token,
            )
            hint = f"{variables}, the app's Run As user and its scopes (CONNECTORS.md)"
            secrets = [secret, token or ""]
        else:
            assert token is not None  # the settings require a token or the client credentials
            headers["authorization"] = f"Bearer {token}"
            hint = "ESCALATION_SALESFORCE_TOKEN and its scopes (CONNECTORS.md)"
            secrets = [token]
        self._api = Upstream(
            self.name,
            self._base,
            headers=headers,
            auth=auth,
            secrets=secrets,
            credentials_hint=hint,
            address_hint="ESCALATION_SALESFORCE_INSTANCE_URL and ESCALATION_SALESFORCE_API_VERSION",
            policy=policy or POLICY,
            transport=transport,
            describe=describe_error,
            inspect=self._inspect,
            inspect_statuses=frozenset({403}),  # Salesforce answers its API request limit with a 403
        )

    async def aclose(self) -> None:
        await self._api.aclose()

    async def check(self) -> Health:
        async def whoami() -> str:
            # One small query proves the token, the API version and every configured field name.
            await self._query(f"SELECT {', '.join(self._account_fields())} FROM Account LIMIT 1", limit=1)
            host = urlsplit(self._settings.instance_url).hostname or self._settings.instance_url
            try:
                who = parse(self.name, _UserInfo, await self._api.get("/services/oauth2/userinfo"))
            except (AuthError, NotFoundError):  # the REST API works, but the token lacks the openid scope
                return f"a user of {host} (grant the openid scope to see which)"
            return f"{who.preferred_username or who.name or 'a user'} on {host}"

        return await probe(self._api, whoami)

    def _inspect(self, response: httpx.Response, body: Json) -> None:
        """The org's request limit told apart from a refusal in a 403.

        REQUEST_LIMIT_EXCEEDED means the daily allocation is used up, or too many
        long-running requests run at once (which clears within seconds): a rate limit, retried with backoff.
        """
        if response.status_code == 403:
            said = describe_error(body) or ""
            if said.startswith(f"{LIMIT_EXCEEDED}:"):
                raise RateLimitedError(
                    self.name,
                    f"the org's API request limit is reached ({said}); a used-up daily allocation frees up over "
                    "a rolling 24 hours",
                )

    # -- accounts --------------------------------------------------------------------------

    async def search_accounts(self, query: str, *, limit: int = 10) -> list[Account]:
        """Accounts whose Name, or Website, contains `query` (any case), by name."""
        if limit <= 0:
            return []
        text = query.strip()
        where = ""
        if text:
            website = host_of(text) if re.fullmatch(r"\S+\.\S+", text) else text
            where = f" WHERE Name LIKE {soql_contains(text)} OR Website LIKE {soql_contains(website or text)}"
        soql = f"SELECT {', '.join(self._account_fields())} FROM Account{where} ORDER BY Name LIMIT {limit}"
        records = await self._query(soql, limit=limit)
        with shape(self.name):
            return [self._account(r) for r in records]

    async def accounts_on_plan(self, plan: str, *, limit: int = 100, cursor: str | None = None) -> Page[Account]:
        """Accounts whose plan field equals `plan` (any case), by Id; the cursor is the last Id handed out."""
        if cursor is not None and not RECORD_ID.fullmatch(cursor):
            raise InvalidCursorError(self.name)
        field = self._settings.plan_field
        if field is None:
            raise ConnectorError(
                self.name,
                f"cannot list a segment: no plan field is read; set {SalesforceSettings.variable('plan_field')} "
                "to the API name of the Account field holding the plan",
            )
        if limit <= 0 or not plan.strip():
            return Page[Account](items=[])
        where = f"{field} = {soql_string(plan.strip())}"
        if cursor is not None:
            where += f" AND Id > {soql_string(cursor)}"
        # One more than asked says whether another page exists without a second query.
        soql = f"SELECT {', '.join(self._account_fields())} FROM Account WHERE {where} ORDER BY Id LIMIT {limit + 1}"
        records = await self._query(soql, limit=limit + 1)
        with shape(self.name):
            accounts = [self._account(r) for r in records[:limit]]
        return Page[Account](items=accounts, next_cursor=accounts[-1].id if len(records) > limit else None)

    async def accounts_named(self, names: Sequence[str]) -> list[Account]:
        """Accounts whose Name equals one of `names`, or whose Website's host does (any case), by name."""
        # Each name once whatever its case, sent as first given: SOQL ignores case, in the user's locale.
        by_key: dict[str, str] = {}
        for name in names:
            if name.strip():
                by_key.setdefault(name.strip().lower(), name.strip())
        wanted = list(by_key.values())
        select = f"SELECT {', '.join(self._account_fields())} FROM Account WHERE "

        def soql(chunk: Sequence[str]) -> str:
            where = [f"Name IN ({', '.join(soql_string(n) for n in chunk)})"]
            # Website holds a URL as people type it, so a domain is matched as search_accounts does, inside it.
            where += [f"Website LIKE {soql_contains(host_of(n) or n)}" for n in chunk if DOMAIN_SHAPED.fullmatch(n)]
            return f"{select}{' OR '.join(where)} ORDER BY Name"

        records: list[dict[str, Any]] = []
        for chunk in fitting_chunks(wanted, lambda chunk: self._fits(soql(chunk))):
            records += await self._query(soql(chunk), limit=NAMED_ROWS)
        with shape(self.name):
            accounts = {a.id: a for a in (self._account(r) for r in records)}
        # Only an exact name or domain counts, as the caller compares them, not what LIKE let through.
        named = [a for a in accounts.values() if a.name.lower() in by_key or (a.domain or "") in by_key]
        return sorted(named, key=lambda a: a.name.lower())

    def _account_fields(self) -> list[str]:
        s = self._settings
        wanted = ("Id", "Name", "Website", "Owner.Name", *(getattr(s, f) for f in CUSTOM_FIELDS))
        return list(dict.fromkeys(f for f in wanted if f))

    def _account(self, record: dict[str, Any]) -> Account:
        s = self._settings
        return Account(
            id=str(record["Id"]),
            name=str(record["Name"]),
            domain=host_of(_text(record, "Website")),
            arr=amount_of(_text(record, s.arr_field), nonnegative=True),
            plan=_text(record, s.plan_field),
            renewal_date=date_of(_text(record, s.renewal_field)),
            owner=_text(record, "Owner.Name"),
            reference_customer=truthy(_value(record, s.reference_field)),
            health=_text(record, s.health_field),
            timezone=self._places.iana_timezone(_text(record, s.timezone_field)),
            country=self._places.country_code(_text(record, s.country_field)),
        )

    # -- deals -----------------------------------------------------------------------------

    async def open_deals(self, account_id: str) -> list[Deal]:
        """The Account's Opportunities that are not closed, soonest close date first."""
        if not RECORD_ID.fullmatch(account_id):
            raise NotFoundError(self.name, f"no account with id {account_id!r} (not a Salesforce record id)")
        soql = (
            f"SELECT {OPPORTUNITY_FIELDS} FROM Opportunity "
            f"WHERE AccountId = {soql_string(account_id)} AND IsClosed = false ORDER BY CloseDate, Name"
        )
        records = await self._query(soql, limit=QUERY_BATCH * DEAL_PAGES)
        with shape(self.name):
            return [_deal(r, account_id) for r in records]

    async def open_deals_of(self, account_ids: Sequence[str]) -> dict[str, list[Deal]]:
        """`open_deals` of each Account, keyed as asked: one query for as many Accounts as its URL can name."""
        keys = list(dict.fromkeys(account_ids))
        # An Account named by its 15- and its 18-character id is asked once; anything else cannot exist.
        by_id: dict[str, str] = {}
        for key in keys:
            if RECORD_ID.fullmatch(key):
                by_id.setdefault(key[:CASE_SAFE], key)

        def soql(chunk: Sequence[str]) -> str:
            return (
                f"SELECT {OPPORTUNITY_FIELDS}, AccountId FROM Opportunity "
                f"WHERE AccountId IN ({', '.join(soql_string(i) for i in chunk)}) AND IsClosed = false "
                "ORDER BY CloseDate, Name"
            )

        by_account: dict[str, list[dict[str, Any]]] = {}
        for chunk in fitting_chunks(list(by_id.values()), lambda chunk: self._fits(soql(chunk))):
            for record in await self._query(soql(chunk), limit=QUERY_BATCH * DEAL_PAGES * len(chunk)):
                by_account.setdefault(str(record.get("AccountId"))[:CASE_SAFE], []).append(record)
        with shape(self.name):
            return {key: [_deal(r, key) for r in by_account.get(key[:CASE_SAFE], [])] for key in keys}

    # -- calls -----------------------------------------------------------------------------

    async def _query(self, soql: str, *, limit: int) -> list[dict[str, Any]]:
        """Every record of `soql` up to `limit`, following `nextRecordsUrl`."""
        path = f"/services/data/{self._settings.api_version}/query"

        async def fetch(cursor: str | None, size: int) -> tuple[list[dict[str, Any]], str | None]:
            del size  # SOQL's LIMIT caps the whole answer; Salesforce sizes the pages
            if cursor is None:
                body = await self._api.get(path, params={"q": soql})
            else:
                body = await self._api.get(cursor)
            answer = parse(self.name, _Query, body)
            return answer.records, None if answer.done else self._next_page(answer.nextRecordsUrl)

        try:
            page = await paginate(fetch, limit=limit, cursor=None, page_size=QUERY_BATCH)
        except UpstreamError as exc:
            raise self._field_error(exc) from None
        return page.items

    def _fits(self, soql: str) -> bool:
        """Whether a query's URI, as sent, stays within the length we allow it."""
        path = f"/services/data/{self._settings.api_version}/query"
        return len(f"{path}?{httpx.QueryParams({'q': soql})}".encode()) <= QUERY_URI

    def _next_page(self, url: str | None) -> str:
        # Only a path on this org's data API: the bearer token must never follow a link elsewhere.
        prefix = f"/services/data/{self._settings.api_version}/query/"
        if url is None or not url.startswith(prefix) or ".." in url:
            raise UpstreamError(self.name, "answered a partial query without a usable nextRecordsUrl")
        return url

    def _field_error(self, exc: UpstreamError) -> UpstreamError:
        """A query naming an Account field the org lacks says which setting to change."""
        if exc.status != 400 or "INVALID_FIELD" not in exc.detail:
            return exc
        for setting in CUSTOM_FIELDS:
            field = getattr(self._settings, setting)
            if field and re.search(rf"'{re.escape(field)}'", exc.detail, re.IGNORECASE):
                variable = SalesforceSettings.variable(setting)
                return UpstreamError(
                    self.name,
                    f"Account has no field {field} the integration user can read: set {variable} to the API "
                    "name of the org's field (and grant read access to it), or to an empty value to leave it out",
                    status=400,
                )
        return exc


def _deal(record: dict[str, Any], account_id: str) -> Deal:
    """An Opportunity as the Account `account_id` (as the caller named it) has it."""
    return Deal(
        id=str(record["Id"]),
        account_id=account_id,
        name=str(record["Name"]),
        amount=amount_of(_text(record, "Amount")),
        stage=_text(record, "StageName") or "unknown",
        close_date=date_of(_text(record, "CloseDate")),
        renewal="renewal" in (_text(record, "Type") or "").lower(),
    )


def _value(record: dict[str, Any], field: str | None) -> Any:
    """A field's value; `Owner.Name` walks the relationship (null when the parent is null)."""
    if field is None:
        return None
    value: Any = record
    for part in field.split("."):
        if not isinstance(value, dict):
            return None
        fields = cast(dict[str, Any], value)
        # Salesforce answers with the field's own capitalization, whatever the query used.
        value = fields.get(part, next((v for k, v in fields.items() if k.lower() == part.lower()), None))
    return value


def _text(record: dict[str, Any], field: str | None) -> str | None:
    value = _value(record, field)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


SETTINGS = SalesforceSettings
ADAPTER = Salesforce
