"""Argument fuzzing from each tool's advertised input schema, shared by `test_fuzz.py` and `bench/fuzz_tools.py`.

Valid arguments come from the schema itself (`from_schema`, a small generator for the JSON Schema subset the
SDK emits: hypothesis-jsonschema 0.23 breaks on current hypothesis) with string and list sizes capped so a
case stays cheap; invalid ones are one targeted mutation of a valid case (wrong type, out of range, too long,
unknown enum value, missing required field, huge or control-character strings, odd datetimes, time zones and
ids). Whether a case is valid is decided by the schema validator, not by the mutation's intent: a control
character or an epoch-0 date can still fit the schema, and such a case is then judged as a valid one.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import anyio
from anyio.from_thread import BlockingPortal
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from mcp import Client, MCPError
from mcp.types import TextContent

LEDGER_TABLES = ("escalations", "timeline", "followups")
CALL_BOUND_SECONDS = 10.0
ECHO_LIMIT = 200
MAX_STRING = 40  # valid strings stay short so a case is about the call, not the payload
MAX_ITEMS = 4

# What must never reach the model: a traceback, an exception class name, pydantic internals.
LEAKS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r"\bFile \"[^\"]+\", line \d+"),
    re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b"),
    re.compile(r"input_value="),
    re.compile(r"input_type="),
    re.compile(r"pydantic\.dev|errors\.pydantic"),
    re.compile(r"<[a-z_.]+ object at 0x[0-9a-f]+>"),
)

WEIRD_DATETIMES = (
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:00:00+00:00",
    "2026-02-30T10:00:00Z",
    "2026-11-20T25:00:00Z",
    "2026-11-20T10:00:00",
    "2026-11-20",
    "not a date",
    "",
)
WEIRD_ZONES = (
    "x" * 256,
    "Mars/Olympus_Mons",
    "../../etc/passwd",
    "UTC",
    "Etc/GMT+14",
    "America/New_York\x00",
    "",
    " ",
    "posixrules",
    "Factory",
)
WEIRD_IDS = (
    "x",
    "",
    "0" * 32,
    "F" * 32,
    "'; DROP TABLE escalations; --",
    "../../etc/passwd",
    "%00",
    "a" * 64,
    "a" * 65,
    "a" * 300,
    "\x00" * 8,
    "esc_123",
)
# The nested argument models refuse what lax mode would coerce ("yes" or 1 for a boolean in `flags`).
NESTED_COERCIONS_REFUSED = True
_KEEP = object()  # "keep the generated value"
DEMO_ACCOUNTS = ("Acme Corp", "Globex", "Hooli", "Initech", "Soylent Foods")
CONTROL = "".join(chr(c) for c in (*range(32), 127)) + "\u202e\u200b\ufeff\ud7ff"


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time")
def _is_datetime(value: object) -> bool:
    """RFC 3339 date-time (jsonschema checks it only with an optional extra installed, so it is checked here)."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return not isinstance(value, str)
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


@dataclass
class Outcome:
    """What one call came back with: a tool result (error or not), or a protocol error."""

    is_error: bool
    text: str
    protocol_code: int | None
    seconds: float
    timed_out: bool = False


def bounded(schema: Any) -> Any:
    """A copy of `schema` with every free-text string at most MAX_STRING long and every list MAX_ITEMS long."""
    if isinstance(schema, list):
        return [bounded(item) for item in cast(list[Any], schema)]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {k: bounded(v) for k, v in cast(dict[str, Any], schema).items()}
    if out.get("type") == "string" and "enum" not in out and "format" not in out:
        out["maxLength"] = min(int(out.get("maxLength", MAX_STRING)), MAX_STRING)
    if out.get("type") == "array":
        out["maxItems"] = min(int(out.get("maxItems", MAX_ITEMS)), MAX_ITEMS)
    if out.get("type") == "object" and "additionalProperties" in out:
        out["maxProperties"] = MAX_ITEMS
    return out


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return cast(dict[str, Any], schema["$defs"][ref.removeprefix("#/$defs/")])
    return node


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values `schema` accepts, for the subset tool schemas use: objects, strings (length, enum, date-time),
    integers and numbers with bounds, booleans, arrays, maps with enumerated keys, local `$ref`s, `anyOf`."""
    root = root or schema
    node = _resolve(root, schema)
    if "anyOf" in node:
        return st.one_of([from_schema(cast(dict[str, Any], s), root) for s in node["anyOf"]])
    if "enum" in node:
        return st.sampled_from(list(node["enum"]))
    kind = node.get("type")
    if kind == "string":
        if node.get("format") == "date-time":
            # RFC 3339 allows whole-minute offsets only (zoneinfo's historical LMT offsets have seconds).
            offsets = st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
            # Mostly times a case can have (2000 to the stopped clock), sometimes any year at all.
            recent = st.datetimes(datetime(2000, 1, 1), datetime(2026, 11, 20), timezones=offsets)
            anytime = st.datetimes(timezones=offsets)
            return st.one_of(recent, recent, anytime).map(lambda d: d.isoformat())
        return st.text(min_size=int(node.get("minLength", 0)), max_size=int(node.get("maxLength", MAX_STRING)))
    if kind == "integer":
        return st.integers(min_value=node.get("minimum"), max_value=node.get("maximum"))
    if kind == "number":
        low = node.get("minimum", node.get("exclusiveMinimum"))
        return st.floats(
            min_value=low,
            max_value=node.get("maximum"),
            exclude_min="exclusiveMinimum" in node,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            from_schema(cast(dict[str, Any], node.get("items", {})), root),
            min_size=int(node.get("minItems", 0)),
            max_size=int(node.get("maxItems", MAX_ITEMS)),
        )
    if kind == "object" and "properties" not in node and "additionalProperties" in node:
        keys = from_schema(cast(dict[str, Any], node.get("propertyNames", {"type": "string"})), root)
        values = from_schema(cast(dict[str, Any], node["additionalProperties"]), root)
        return st.dictionaries(keys, values, max_size=int(node.get("maxProperties", MAX_ITEMS)))
    if kind == "object" or "properties" in node:
        properties = cast(dict[str, Any], node.get("properties", {}))
        required = set(cast(list[str], node.get("required", [])))
        return st.fixed_dictionaries(
            {k: from_schema(v, root) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, root) for k, v in properties.items() if k not in required},
        )
    return st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=MAX_STRING))


async def open_case(client: Client, issue: str = "API returning 500 errors intermittently") -> str:
    """The id of a case gathered, assessed and routed on the demo workspace, so every later step can use it."""
    opened = await call(client, "gather_context", {"issue": issue, "customer": DEMO_ACCOUNTS[0]})
    if opened.is_error:
        raise RuntimeError(f"could not open a case: {opened.text[:300]}")
    case_id = cast(str, json.loads(opened.text)["escalation_id"])
    for tool, arguments in (
        ("assess_impact", {"escalation_id": case_id, "depth": "degraded"}),
        ("pick_tier", {"escalation_id": case_id, "signals": ["bug_confirmed"]}),
    ):
        step = await call(client, tool, arguments)
        if step.is_error:
            raise RuntimeError(f"{tool} on the new case failed: {step.text[:300]}")
    return case_id


def valid_arguments(schema: dict[str, Any], ids: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments the schema accepts. An `escalation_id` is often a real open case, a customer a real account of
    the demo workspace, a time zone and country real ones: random text alone would mostly test "not found"."""
    properties = cast(dict[str, Any], schema.get("properties", {}))
    real: dict[str, st.SearchStrategy[Any]] = {}
    if "escalation_id" in properties and ids:
        real["escalation_id"] = st.sampled_from(list(ids))
    if properties.get("customer", {}).get("type") == "string":
        real["customer"] = st.sampled_from(DEMO_ACCOUNTS)
    if properties.get("timezone", {}).get("type") == "string":
        real["timezone"] = st.sampled_from(("America/New_York", "Asia/Seoul", "Europe/Berlin", "UTC"))
    if properties.get("country", {}).get("type") == "string":
        real["country"] = st.sampled_from(("US", "KR", "DE", "JP"))
    if properties.get("customers", {}).get("type") == "array":
        real["customers"] = st.lists(st.sampled_from(DEMO_ACCOUNTS), min_size=1, max_size=3)

    def with_real(arguments: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
        return {**arguments, **{k: v for k, v in chosen.items() if v is not _KEEP}}

    # Each real value replaces the generated one two times in three.
    chosen = st.fixed_dictionaries({k: st.one_of(v, v, st.just(_KEEP)) for k, v in real.items()})
    return st.builds(with_real, from_schema(bounded(schema)), chosen)


def _wrong_type(node: dict[str, Any], coercible: bool = True) -> st.SearchStrategy[Any]:
    kind = node.get("type")
    # Besides plainly wrong types, the ones pydantic's lax mode would coerce (`coercible`): "5" or true for a
    # number, 1 or "yes" for a boolean. The schema refuses them, so the server must too.
    candidates: list[Any] = [None, 12, 3.5, True, "text", ["a"], {"k": "v"}]
    if coercible:
        candidates += ["5", 1, 0, "yes", "true"]
    wrong = [
        c
        for c in candidates
        if not (
            (kind == "string" and isinstance(c, str))
            or (kind == "integer" and isinstance(c, int) and not isinstance(c, bool))
            or (kind == "number" and isinstance(c, int | float) and not isinstance(c, bool))
            or (kind == "boolean" and isinstance(c, bool))
            or (kind == "array" and isinstance(c, list))
            or (kind == "object" and isinstance(c, dict))
        )
    ]
    return st.sampled_from(wrong)


def _listed(value: Any) -> list[Any]:
    return [value]


def _keyed(key: str) -> Callable[[Any], dict[str, Any]]:
    return lambda value: {key: value}


def _bad_values(node: dict[str, Any], name: str, huge: Sequence[int], coercible: bool = True) -> st.SearchStrategy[Any]:
    """Values aimed at one property: each one breaks a constraint or is a known-awkward input."""
    options: list[st.SearchStrategy[Any]] = [_wrong_type(node, coercible)]
    kind = node.get("type")
    if kind in ("integer", "number"):
        # No inf or NaN: JSON cannot carry them (the client sends null, which reads as "omitted").
        edges: list[Any] = [10**30, -(10**30), 2**63, -1]
        if "maximum" in node:
            edges += [node["maximum"] + 1, node["maximum"] * 1000]
        if "minimum" in node:
            edges.append(node["minimum"] - 1)
        if "exclusiveMinimum" in node:
            edges.append(node["exclusiveMinimum"])
        if kind == "number":
            edges += [1e308, 1e-320]
        options.append(st.sampled_from(edges))
    if kind == "string":
        if "enum" in node:
            options.append(st.sampled_from(["unknown", "", str(node["enum"][0]).upper(), "x" * 300]))
        else:
            lengths: list[int] = list(huge)
            if "maxLength" in node:
                lengths.append(int(node["maxLength"]) + 1)
            options.append(st.sampled_from(lengths).map(lambda n: ("é" if n % 2 else "a") * n))
            if "minLength" in node:
                options.append(st.just("a" * (int(node["minLength"]) - 1)))
            options.append(st.text(alphabet=CONTROL, min_size=1, max_size=30))
            options.append(st.text(alphabet=CONTROL + "abc ", min_size=3, max_size=30))
        if node.get("format") == "date-time" or name in ("start", "started_at", "deadline"):
            options.append(st.sampled_from(WEIRD_DATETIMES))
        if name == "timezone":
            options.append(st.sampled_from(WEIRD_ZONES))
        if name == "country":
            options.append(st.sampled_from(["ZZ", "us", "123", "USA", "\x00\x00", ""]))
        if name == "escalation_id":
            options.append(st.sampled_from(WEIRD_IDS))
    if kind == "array":
        items = cast(dict[str, Any], node.get("items", {}))
        options.append(_wrong_type(items).map(_listed))
        if "enum" in items:
            options.append(st.just(["not-a-listed-value"]))
        options.append(st.just(["x"] * (int(node.get("maxItems", 1000)) + 1)))
        if "minItems" in node:
            options.append(st.just([]))
        for n in huge:
            options.append(st.just(["a" * n]))
    if kind == "object":
        options.append(st.just({"unknown_key": "v"}))
        options.append(st.just({"not-a-listed-value": "x"}))
        options.append(st.just({"support": "c" * 2001}))
    return st.one_of(options)


def invalid_arguments(
    schema: dict[str, Any], ids: Sequence[str], huge: Sequence[int] = (50_000,)
) -> st.SearchStrategy[dict[str, Any]]:
    """One mutation of a valid case: a property set to a bad value, or a required one dropped."""
    properties = cast(dict[str, Any], schema.get("properties", {}))
    required = cast(list[str], schema.get("required", []))
    mutations: list[st.SearchStrategy[tuple[str, str, Any]]] = []
    for name, raw in properties.items():
        node = _resolve(schema, cast(dict[str, Any], raw))
        mutations.append(st.tuples(st.just("set"), st.just(name), _bad_values(node, name, huge)))
        if node.get("type") == "object" and "properties" in node:
            for inner, inner_raw in cast(dict[str, Any], node["properties"]).items():
                bad = _bad_values(cast(dict[str, Any], inner_raw), inner, huge, NESTED_COERCIONS_REFUSED)
                mutations.append(st.tuples(st.just("nested"), st.just(name), bad.map(_keyed(inner))))
    for name in required:
        mutations.append(st.tuples(st.just("drop"), st.just(name), st.none()))

    def apply(arguments: dict[str, Any], mutation: tuple[str, str, Any]) -> dict[str, Any]:
        action, name, value = mutation
        out = dict(arguments)
        if action == "drop":
            out.pop(name, None)
        elif action == "nested":
            out[name] = {**cast(dict[str, Any], out.get(name) or {}), **cast(dict[str, Any], value)}
        else:
            out[name] = value
        return out

    return st.builds(apply, valid_arguments(schema, ids), st.one_of(mutations))


def schema_accepts(schema: dict[str, Any], arguments: dict[str, Any]) -> bool:
    """Whether the advertised schema accepts `arguments` (format checks on, as the server's validation does)."""
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    instance: Any = without_optional_nulls(schema, copy.deepcopy(arguments))
    return bool(validator.is_valid(instance))  # pyright: ignore[reportUnknownMemberType]


def without_optional_nulls(schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
    """`arguments` without null optional properties: the server reads an explicit null as "omitted" (models send
    them often), though the advertised schema leaves null out to stay small."""
    required = set(cast(list[str], schema.get("required", [])))
    properties = cast(dict[str, Any], schema.get("properties", {}))
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is None and key not in required:
            continue
        node = _resolve(schema, cast(dict[str, Any], properties.get(key, {})))
        if isinstance(value, dict) and "properties" in node:
            value = without_optional_nulls(node, cast(dict[str, Any], value))
        out[key] = value
    return out


async def call(client: Client, tool: str, arguments: dict[str, Any], bound: float = CALL_BOUND_SECONDS) -> Outcome:
    """One tool call under a time bound; a protocol error is an outcome, not an exception."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(bound):
            result = await client.call_tool(tool, arguments)
    except TimeoutError:
        return Outcome(True, "", None, time.perf_counter() - started, timed_out=True)
    except MCPError as exc:
        return Outcome(True, exc.error.message, exc.error.code, time.perf_counter() - started)
    text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
    return Outcome(bool(result.is_error), text, None, time.perf_counter() - started)


def ledger_rows(path: Path) -> tuple[int, ...]:
    """Row counts of the ledger's tables, read behind the server's back (zeros before the file exists)."""
    if not path.exists():
        return tuple(0 for _ in LEDGER_TABLES)
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return tuple(
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table in names else 0
            for table in LEDGER_TABLES
        )


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in cast(dict[str, Any], value).items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in cast(list[Any], value):
            yield from _strings(v)


def echoes(message: str, arguments: dict[str, Any], limit: int = ECHO_LIMIT) -> bool:
    """Whether `message` repeats more than `limit` consecutive characters of any input string."""
    span = limit + 1
    if len(message) < span:
        return False
    step = span // 2
    for text in _strings(arguments):
        if len(text) < span:
            continue
        # Any shared run of `span` characters contains an aligned piece of `step` + 1: cheap filter first.
        if not any(message[i : i + step + 1] in text for i in range(0, len(message) - step, step)):
            continue
        if any(message[i : i + span] in text for i in range(len(message) - span + 1)):
            return True
    return False


def violations(
    outcome: Outcome,
    arguments: dict[str, Any],
    valid: bool,
    rows_before: tuple[int, ...],
    rows_after: tuple[int, ...],
) -> list[str]:
    """Every property this call broke, as short sentences (empty when it behaved)."""
    found: list[str] = []
    if outcome.timed_out:
        return [f"no answer within {CALL_BOUND_SECONDS} s"]
    if outcome.protocol_code is not None and outcome.protocol_code != -32602:
        found.append(f"protocol error {outcome.protocol_code} (only -32602 is expected for bad arguments)")
    if not valid:
        if not outcome.is_error:
            found.append("an argument the schema refuses was accepted")
        if rows_after != rows_before:
            found.append(f"an invalid call changed the ledger: {rows_before} -> {rows_after}")
    if outcome.is_error:
        if not outcome.text.strip():
            found.append("an error with no message")
        for leak in LEAKS:
            if match := leak.search(outcome.text):
                found.append(f"the message leaks {match.group(0)!r}")
        if echoes(outcome.text, arguments):
            found.append(f"the message echoes more than {ECHO_LIMIT} characters of the input")
        if len(outcome.text) > 4000:
            found.append(f"the message is {len(outcome.text)} characters long")
    return found


@dataclass
class Tally:
    """Per-tool counts of one fuzz run, and the first violations with the arguments that caused them."""

    valid_ok: int = 0
    valid_refused: int = 0
    invalid_refused: int = 0
    invalid_accepted: int = 0
    slowest: float = 0.0
    problems: list[str] | None = None
    refusals: Counter[str] = field(default_factory=Counter[str])  # why valid calls were refused, by message

    def add(self, outcome: Outcome, valid: bool, broken: list[str], arguments: dict[str, Any]) -> None:
        self.slowest = max(self.slowest, outcome.seconds)
        if valid:
            if outcome.is_error:
                self.valid_refused += 1
                self.refusals[outcome.text[:120]] += 1
            else:
                self.valid_ok += 1
        elif outcome.is_error:
            self.invalid_refused += 1
        else:
            self.invalid_accepted += 1
        if broken:
            self.problems = self.problems or []
            self.problems.append(f"{'; '.join(broken)} <- {shorten(arguments)} -> {outcome.text[:300]!r}")


def shorten(value: Any, limit: int = 80) -> Any:
    """`value` with long strings cut, for a readable report of the arguments behind a violation."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}...({len(value)} chars)"
    if isinstance(value, dict):
        return {k: shorten(v, limit) for k, v in cast(dict[str, Any], value).items()}
    if isinstance(value, list):
        items = cast(list[Any], value)
        return [shorten(v, limit) for v in items[:5]] + ([f"...({len(items)} items)"] if len(items) > 5 else [])
    return value


def fuzz_tool(
    portal: BlockingPortal,
    client: Client,
    ledger: Path,
    tool: str,
    schema: dict[str, Any],
    ids: Sequence[str],
    cases: tuple[int, int],
    huge: Sequence[int] = (50_000,),
) -> Tally:
    """Runs `cases` = (valid, invalid) generated calls of `tool` through `client` (driven from this thread via
    `portal`) and tallies them. Deterministic: hypothesis is derandomized and keeps no example database."""
    tally = Tally()

    def one(arguments: dict[str, Any]) -> None:
        valid = schema_accepts(schema, arguments)
        before = ledger_rows(ledger)
        outcome = portal.call(call, client, tool, arguments)
        after = ledger_rows(ledger)
        tally.add(outcome, valid, violations(outcome, arguments, valid, before, after), arguments)

    for strategy, count in ((valid_arguments(schema, ids), cases[0]), (invalid_arguments(schema, ids, huge), cases[1])):
        run = settings(
            max_examples=count,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        )(given(strategy)(one))
        run()
    return tally
