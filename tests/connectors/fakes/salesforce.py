"""A fake Salesforce org serving the scenario workspace's accounts and deals through the REST API.

Shapes follow the REST API Developer Guide (developer.salesforce.com/docs/atlas.en-us.api_rest.meta):
query answers `{"totalSize", "done", "nextRecordsUrl"?, "records": [{"attributes": ...}, ...]}`,
errors `[{"message", "errorCode"}]`, and `Sforce-Limit-Info` on every REST answer. The org's OAuth token
endpoint runs the client credentials flow (a new session per token; `expire_session` ends the current one,
so the next call gets the documented 401 `INVALID_SESSION_ID`). The query
endpoint runs the SOQL it is sent through a small interpreter (SELECT, relationship fields, WHERE
with AND/OR/NOT, =, !=, <, >, <=, >=, IN (...), LIKE with escapes, ORDER BY, LIMIT) that reads string
literals as the SOQL reference defines them, so a query that is unescaped, malformed or names a missing
field fails as Salesforce would; a URI and headers over 16,384 bytes are refused (HTTP 414 or 431) as the
REST API refuses them (help.salesforce.com, article 000386264).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast
from urllib.parse import parse_qsl

import anyio
import httpx
from pydantic import SecretStr

from connectors.models import Account, Deal
from connectors.vendors.salesforce import Salesforce, SalesforceSettings
from connectors.workspace import Workspace
from tests.connectors.fakes.base import FAST, FakeVendor, json_response
from tests.connectors.scenario import TOKEN

PORT = "crm"
INSTANCE = "https://acme.my.salesforce.com"
ORG_ID = "00D5g000004ABCDEAA"
USERNAME = "integration@acme.example"
DAILY_LIMIT = 15000
REQUEST_HEAD = 16_384  # bytes of URI and headers a REST call may carry
TOKEN_PATH = "/services/oauth2/token"
CLIENT_ID = "3MVG9fakeConsumerKeyOfTheAcmeEscalationApp"  # an External Client App's consumer key
CLIENT_SECRET = "8A4BE698BCA216718ECB0B1DCA294C6973"
COUNTRY_NAMES = {"US": "United States", "DE": "Germany", "GB": "United Kingdom"}  # BillingCountry is free text
STAGES = {"negotiation": ("Negotiation/Review", False, False), "closed_won": ("Closed Won", True, True),
          "closed_lost": ("Closed Lost", True, False)}  # fmt: skip
DEFAULT_CLOSE = date(2026, 12, 31)  # CloseDate is required on an Opportunity
# The fields this org has (case-insensitive in SOQL, answered in this spelling).
FIELDS = {
    "Account": ["Id", "Name", "Website", "OwnerId", "Owner.Name", "Owner.Email", "BillingCountry", "AnnualRevenue",
                "Type", "ARR__c", "Plan__c", "Renewal_Date__c"],
    "Opportunity": ["Id", "Name", "Amount", "StageName", "CloseDate", "AccountId", "IsClosed", "IsWon", "Type"],
}  # fmt: skip


def record_id(prefix: str, scenario_id: str) -> str:
    """An 18-character Salesforce id (`001` Account, `006` Opportunity) for a scenario id."""
    return f"{prefix}{scenario_id.rjust(12, '0')}AAA"


def errors(status: int, code: str, message: str) -> httpx.Response:
    return json_response(status, [{"message": message, "errorCode": code}])


def oauth_error(error: str, description: str) -> httpx.Response:
    """The token endpoint's refusal: HTTP 400 with RFC 6749 §5.2's body, as the OAuth 2.0 Authorization Errors
    page shows it (help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_flow_errors.htm)."""
    return json_response(400, {"error": error, "error_description": description})


class FakeSalesforce(FakeVendor):
    """An org as its integration user's access token sees it."""

    def __init__(self, workspace: Workspace, *, token: str = TOKEN) -> None:
        super().__init__(workspace, token=token)
        self.records: dict[str, list[dict[str, Any]]] = {
            "Account": [_account(a) for a in workspace.accounts],
            "Opportunity": [_opportunity(d) for d in workspace.deals],
        }
        self.fields = {name: list(fields) for name, fields in FIELDS.items()}
        self.batch_size = 2000  # records per query answer before a nextRecordsUrl
        self.bursts = False  # True: Sforce-Limit-Info in its newer `api-usage=n/m; api-bursts=n/m` form
        self.openid = True  # False: the token lacks the openid scope userinfo needs
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.client_credentials_user = True  # False: the app enables the flow but names no Run As user
        self.token_delay = 0.0  # seconds the token endpoint takes, so concurrent callers overlap
        self.sessions = 0  # access tokens issued by the token endpoint
        self._cursors: dict[str, list[dict[str, Any]]] = {}

    def transport(self) -> httpx.MockTransport:
        async def serve(request: httpx.Request) -> httpx.Response:
            if request.url.path == TOKEN_PATH:
                await anyio.sleep(self.token_delay)
            return self._serve(request)

        return httpx.MockTransport(serve)

    def expire_session(self) -> None:
        """End the current session (timeout, logout, revoked): its access token no longer works."""
        self.token = f"expired:{self.token}"

    def token_requests(self) -> list[dict[str, str]]:
        return [dict(parse_qsl(r.content.decode())) for r in self.requests if r.url.path == TOKEN_PATH]

    def authorized(self, request: httpx.Request) -> bool:
        return request.url.path == TOKEN_PATH or super().authorized(request)

    def add(self, sobject: str, **fields: Any) -> None:
        self.records[sobject].append(fields)

    # -- errors as Salesforce sends them ----------------------------------------------------

    # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
    def unauthorized(self) -> httpx.Response:
        return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def rate_limited(self, retry_after: float) -> httpx.Response:
        # A used-up allocation is a 403 REQUEST_LIMIT_EXCEEDED with no Retry-After (`retry_after` unused).
        del retry_after
        return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

    def server_error(self) -> httpx.Response:
        return errors(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if "
                      "you contact support: 1234567890-12345 (-1234567890)")  # fmt: skip

    def _ok(self, body: Any) -> httpx.Response:
        # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
        usage = f"api-usage={len(self.requests)}/{DAILY_LIMIT}" + ("; api-bursts=1/750" if self.bursts else "")
        return json_response(200, body, {"sforce-limit-info": usage})

    # -- routing ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        uri = len(request.url.raw_path)
        if uri + sum(len(k) + len(v) + 4 for k, v in request.headers.raw) > REQUEST_HEAD:
            # The article gives no body for these; the front end answers before any API code runs.
            return httpx.Response(414 if uri > REQUEST_HEAD else 431, text="")
        if path == TOKEN_PATH:
            return self._token(request)
        if request.method != "GET":
            return errors(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed. Allowed are GET")
        if path == "/services/oauth2/userinfo":
            return self._userinfo()
        version = re.fullmatch(r"/services/data/(v\d+\.\d)/query/?(?:([^/]+))?", path)
        if version is None or not 20 <= float(version.group(1)[1:]) <= 66:
            return errors(404, "NOT_FOUND", "The requested resource does not exist")
        if version.group(2):
            return self._more(version.group(1), version.group(2))
        return self._query(version.group(1), request.url.params.get("q", ""))

    # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_query.htm
    def _query(self, version: str, soql: str) -> httpx.Response:
        try:
            query = parse_soql(soql, self.fields)
        except SoqlError as exc:
            return errors(400, exc.code, exc.message)
        rows = [r for r in self.records[query.sobject] if query.where(r)]
        for field, descending, nulls_last in reversed(query.order):
            present = sorted((r for r in rows if _get(r, field) is not None), key=lambda r: _key(_get(r, field)))
            absent = [r for r in rows if _get(r, field) is None]
            present = present[::-1] if descending else present
            rows = present + absent if nulls_last else absent + present
        rows = rows[: query.limit] if query.limit is not None else rows
        shaped = [_shape(version, query.sobject, r, query.fields) for r in rows]
        return self._ok(self._page(version, shaped, total=len(shaped)))

    # https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query_more_results.htm
    def _more(self, version: str, locator: str) -> httpx.Response:
        rest = self._cursors.pop(locator, None)
        if rest is None:
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._ok(self._page(version, rest, total=int(locator.rsplit("-", 1)[1]) + len(rest)))

    def _page(self, version: str, rows: list[dict[str, Any]], *, total: int) -> dict[str, Any]:
        page, rest = rows[: self.batch_size], rows[self.batch_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            locator = f"01gFAKE{len(self.requests):08d}-{total - len(rest)}"
            self._cursors[locator] = rest
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}"
        return body

    # https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm (the
    # request: a form POST to the My Domain token endpoint, client id and secret in the body or as Basic auth);
    # https://developer.salesforce.com/docs/atlas.en-us.chatterapi.meta/chatterapi/quickstart_connecting.htm (the
    # answer: access_token, signature, token_format, instance_url, id, token_type, issued_at; no expires_in).
    # The refusals' texts are those public clients report (restforce#338, pub-sub-api-node-client#58,
    # simple-salesforce#753); the docs list no texts for this flow.
    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic.removeprefix("Basic ")).decode().partition(":")
        if request.method != "POST" or "grant_type" not in form:
            return oauth_error("invalid_request", "grant type is missing")  # the docs do not show this one
        if form["grant_type"] != "client_credentials":
            return oauth_error("unsupported_grant_type", "grant type not supported")
        if client_id != self.client_id:
            return oauth_error("invalid_client_id", "client identifier invalid")
        if secret != self.client_secret:
            return oauth_error("invalid_client", "invalid client credentials")
        if not self.client_credentials_user:
            return oauth_error("invalid_grant", "no client credentials user enabled")
        self.sessions += 1
        self.token = f"{ORG_ID[:15]}!AQ8AQ{self.sessions:04d}fakeSessionId"
        user = "0055g000001XYZAAA"
        return json_response(
            200,
            {
                "access_token": self.token,
                "signature": "nUFHwtfIGLKDTHcLWmDBG8frv0t+HQGl/iCZFIQUarE=",
                "token_format": "opaque",
                "scope": "api openid",
                "instance_url": INSTANCE,
                "id": f"https://login.salesforce.com/id/{ORG_ID}/{user}",
                "token_type": "Bearer",
                "issued_at": "1730000000000",
            },
        )

    # https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_userinfo_endpoint.htm
    def _userinfo(self) -> httpx.Response:
        if not self.openid:  # the docs do not show this answer; a 403 is what an unscoped token gets
            return httpx.Response(403, text="Bad_OAuth_Token")
        return json_response(
            200,
            {
                "sub": f"https://login.salesforce.com/id/{ORG_ID}/0055g000001XYZAAA",
                "user_id": "0055g000001XYZAAA",
                "organization_id": ORG_ID,
                "preferred_username": USERNAME,
                "nickname": "integration",
                "name": "Integration User",
                "email": USERNAME,
                "zoneinfo": "America/Los_Angeles",
            },
        )


# -- scenario records in Salesforce's shape -----------------------------------------------


def _account(a: Account) -> dict[str, Any]:
    websites = {"globex.com": "https://www.globex.com"}  # Website is a URL as people type it
    return {
        "Id": record_id("001", a.id),
        "Name": a.name,
        "Website": websites.get(a.domain or "", a.domain),
        "OwnerId": "0055g000001OWNAAA" if a.owner else None,
        "Owner": {"Name": a.owner, "Email": "owner@acme.example"} if a.owner else None,
        "BillingCountry": COUNTRY_NAMES.get(a.country or "", a.country),
        "AnnualRevenue": 9_000_000_000.0,  # the firmographic revenue: must never be read as ARR
        "Type": "Customer",
        "ARR__c": a.arr,
        "Plan__c": a.plan,
        "Renewal_Date__c": a.renewal_date.isoformat() if a.renewal_date else None,
    }


def _opportunity(d: Deal) -> dict[str, Any]:
    stage, closed, won = STAGES.get(d.stage, (d.stage.replace("_", " ").title(), False, False))
    return {
        "Id": record_id("006", d.id),
        "Name": d.name,
        "Amount": d.amount,
        "StageName": stage,
        "CloseDate": (d.close_date or DEFAULT_CLOSE).isoformat(),
        "AccountId": record_id("001", d.account_id),
        "IsClosed": closed,
        "IsWon": won,
        # Type is a standard picklist ("New Customer", "Existing Customer - Upgrade", ...; Object Reference,
        # Opportunity); a renewal value is the org's own addition.
        "Type": "Renewal" if d.renewal else "New Customer",
    }


def _get(record: dict[str, Any], field: str) -> Any:
    value: Any = record
    for part in field.split("."):
        value = cast(dict[str, Any], value).get(part) if isinstance(value, dict) else None
    return value


def _key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _shape(version: str, sobject: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The record as a query answers it: `attributes`, then each selected field, parents nested."""
    out: dict[str, Any] = {
        "attributes": {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{record['Id']}"}
    }
    for field in fields:
        if "." not in field:
            out[field] = record.get(field)
            continue
        parent, child = field.split(".", 1)
        if record.get(parent) is None:
            out[parent] = None
        else:
            nested = out.setdefault(parent, {"attributes": {"type": "User", "url": "/services/data/sobjects/User"}})
            nested[child] = record[parent].get(child)
    return out


# -- a small SOQL interpreter ---------------------------------------------------------------


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Literal:
    """A string literal as (character, was escaped) pairs: LIKE treats an escaped % or _ literally."""

    chars: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(c for c, _ in self.chars)

    def like(self) -> re.Pattern[str]:
        parts = [".*" if (c == "%" and not e) else "." if (c == "_" and not e) else re.escape(c) for c, e in self.chars]
        return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


Token = tuple[str, Any]  # ("name" | "str" | "num" | "op", value)
_SIMPLE_ESCAPES = {"n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t", "b": "\b", "B": "\b",
                   "f": "\f", "F": "\f", '"': '"', "'": "'", "\\": "\\"}  # fmt: skip


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(soql):
        c = soql[i]
        if c.isspace():
            i += 1
        elif c == "'":
            literal, i = _literal(soql, i + 1)
            tokens.append(("str", literal))
        elif m := re.compile(r"\d+(?:\.\d+)?").match(soql, i):
            tokens.append(("num", float(m.group())))
            i = m.end()
        elif m := re.compile(r"[A-Za-z_][A-Za-z0-9_.]*").match(soql, i):
            tokens.append(("name", m.group()))
            i = m.end()
        elif m := re.compile(r"<=|>=|!=|<>|[=<>(),]").match(soql, i):
            tokens.append(("op", m.group()))
            i = m.end()
        else:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{c}'")
    return tokens


def _literal(soql: str, i: int) -> tuple[Literal, int]:
    chars: list[tuple[str, bool]] = []
    while i < len(soql):
        c = soql[i]
        if c == "'":
            return Literal(tuple(chars)), i + 1
        if c != "\\":
            chars.append((c, False))
            i += 1
            continue
        nxt = soql[i + 1 : i + 2]
        if nxt in _SIMPLE_ESCAPES:
            chars.append((_SIMPLE_ESCAPES[nxt], True))
            i += 2
        elif nxt in ("%", "_"):
            chars.append((nxt, True))
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", soql[i + 2 : i + 6]):
            chars.append((chr(int(soql[i + 2 : i + 6], 16)), True))
            i += 6
        else:
            raise SoqlError("MALFORMED_QUERY", "Invalid string literal: Illegal character sequence '\\" + nxt + "'")
    raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>: unterminated string literal")


@dataclass
class Query:
    sobject: str
    fields: list[str]
    where: Callable[[dict[str, Any]], bool]
    order: list[tuple[str, bool, bool]]  # (field, descending, nulls last)
    limit: int | None


class _Parser:
    def __init__(self, soql: str, fields: dict[str, list[str]]) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.i = 0
        self.known = fields
        self.sobject = ""

    def peek(self, word: str) -> bool:
        if self.i >= len(self.tokens):
            return False
        kind, value = self.tokens[self.i]
        return kind in ("name", "op") and str(value).upper() == word.upper()

    def take(self, word: str) -> None:
        if not self.peek(word):
            found = self.tokens[self.i][1] if self.i < len(self.tokens) else "<EOF>"
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{_show(found)}'")
        self.i += 1

    def next(self) -> Token:
        if self.i >= len(self.tokens):
            raise SoqlError("MALFORMED_QUERY", "unexpected token: <EOF>")
        token = self.tokens[self.i]
        self.i += 1
        return token

    def field(self, name: str) -> str:
        for known in self.known[self.sobject]:
            if known.lower() == name.lower():
                return known
        raise SoqlError(
            "INVALID_FIELD",
            f"\n{self.soql}\n^\nERROR at Row:1:Column:1\nNo such column '{name}' on entity '{self.sobject}'. If you "
            "are attempting to use a custom field, be sure to append the '__c' after the custom field name. "
            "Please reference your WSDL or the describe call for the appropriate names.",
        )

    def parse(self) -> Query:
        self.take("SELECT")
        names = [self.next()]
        while self.peek(","):
            self.take(",")
            names.append(self.next())
        self.take("FROM")
        kind, sobject = self.next()
        if kind != "name" or sobject not in self.known:
            raise SoqlError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")
        self.sobject = sobject
        fields = [self.field(str(v)) for k, v in names if k == "name"]
        where: Callable[[dict[str, Any]], bool] = lambda _r: True  # noqa: E731
        if self.peek("WHERE"):
            self.take("WHERE")
            where = self.disjunction()
        order: list[tuple[str, bool, bool]] = []
        if self.peek("ORDER"):
            self.take("ORDER")
            self.take("BY")
            order.append(self.ordering())
            while self.peek(","):
                self.take(",")
                order.append(self.ordering())
        limit = None
        if self.peek("LIMIT"):
            self.take("LIMIT")
            kind, value = self.next()
            if kind != "num":
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{_show(value)}'")
            limit = int(value)
        if self.i != len(self.tokens):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{_show(self.tokens[self.i][1])}'")
        return Query(sobject, fields, where, order, limit)

    def ordering(self) -> tuple[str, bool, bool]:
        field = self.field(str(self.next()[1]))
        descending = False
        if self.peek("ASC") or self.peek("DESC"):
            descending = self.peek("DESC")
            self.i += 1
        nulls_last = descending  # SOQL's default: ASC NULLS FIRST, DESC NULLS LAST
        if self.peek("NULLS"):
            self.take("NULLS")
            nulls_last = self.peek("LAST")
            self.i += 1
        return field, descending, nulls_last

    def disjunction(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self.conjunction()]
        while self.peek("OR"):
            self.take("OR")
            parts.append(self.conjunction())
        return lambda r: any(p(r) for p in parts)

    def conjunction(self) -> Callable[[dict[str, Any]], bool]:
        parts = [self.negation()]
        while self.peek("AND"):
            self.take("AND")
            parts.append(self.negation())
        return lambda r: all(p(r) for p in parts)

    def negation(self) -> Callable[[dict[str, Any]], bool]:
        if self.peek("NOT"):
            self.take("NOT")
            inner = self.negation()
            return lambda r: not inner(r)
        if self.peek("("):
            self.take("(")
            inner = self.disjunction()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Callable[[dict[str, Any]], bool]:
        kind, name = self.next()
        if kind != "name":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{_show(name)}'")
        field = self.field(str(name))
        kind, operator = self.next()
        operator = str(operator).upper()
        if operator not in ("=", "!=", "<>", "<", ">", "<=", ">=", "LIKE", "IN"):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{_show(operator)}'")
        if operator == "IN":  # equal to any listed value, compared as `=` compares (any case)
            self.take("(")
            listed = [_constant(*self.next())]
            while self.peek(","):
                self.take(",")
                listed.append(_constant(*self.next()))
            self.take(")")
            keys = {_key(v) for v in listed}
            return lambda r: _key(_get(r, field)) in keys
        kind, value = self.next()
        if operator == "LIKE":
            if kind != "str":
                raise SoqlError("MALFORMED_QUERY", "LIKE needs a string literal")
            pattern = value.like()
            return lambda r: isinstance(_get(r, field), str) and pattern.fullmatch(_get(r, field)) is not None
        wanted = _constant(kind, value)
        if operator in ("<", ">", "<=", ">="):  # SOQL's comparison operators; null compares as false
            return lambda r: _get(r, field) is not None and _compare(operator, _key(_get(r, field)), _key(wanted))
        equal: Callable[[dict[str, Any]], bool] = lambda r: _key(_get(r, field)) == _key(wanted)  # noqa: E731
        return equal if operator == "=" else (lambda r: not equal(r))


def _compare(operator: str, left: Any, right: Any) -> bool:
    if operator == "<":
        return bool(left < right)
    if operator == ">":
        return bool(left > right)
    if operator == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _constant(kind: str, value: Any) -> Any:
    if kind == "str":
        return value.text
    if kind == "num":
        return value
    word = str(value).upper()
    if word in ("TRUE", "FALSE"):
        return word == "TRUE"
    if word == "NULL":
        return None
    raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{value}'")


def _show(value: Any) -> str:
    return value.text if isinstance(value, Literal) else str(value)


def parse_soql(soql: str, fields: dict[str, list[str]]) -> Query:
    return _Parser(soql, fields).parse()


def make(workspace: Workspace, *, token: str = TOKEN) -> tuple[Salesforce, FakeSalesforce]:
    fake = FakeSalesforce(workspace, token=token)
    settings = SalesforceSettings(token=SecretStr(token), instance_url=INSTANCE, api_version="v62.0")
    adapter = Salesforce(settings, policy=FAST, transport=fake.transport())
    return adapter, fake


def make_with_client_credentials(
    workspace: Workspace, *, client_secret: str = CLIENT_SECRET
) -> tuple[Salesforce, FakeSalesforce]:
    """The adapter getting (and renewing) its own tokens with the client credentials flow."""
    fake = FakeSalesforce(workspace, token="no-session-yet")
    settings = SalesforceSettings(
        client_id=CLIENT_ID, client_secret=SecretStr(client_secret), instance_url=INSTANCE, api_version="v62.0"
    )
    adapter = Salesforce(settings, policy=FAST, transport=fake.transport())
    return adapter, fake
