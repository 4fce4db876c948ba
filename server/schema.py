"""Smaller JSON schemas for tool listings: every byte is paid in the model's context on every turn.

Pydantic's schemas repeat a title per field, spell nullable types as `anyOf` pairs and state
`default: null`; none of it tells a model anything the field name and type do not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

if TYPE_CHECKING:
    from pydantic_core import core_schema

# How many problems one answer lists: a wholly wrong call says the first few, not hundreds.
_MOST = 5


def compact(schema: dict[str, Any], *, output: bool = False, opaque: frozenset[str] = frozenset()) -> dict[str, Any]:
    """`schema` without titles and null defaults, with `anyOf [X, null]` folded.

    In an input schema the fold leaves X alone: an optional parameter is left out rather than
    sent as null, and a plain type reads on every client (type arrays draw portability warnings).
    An output schema keeps `[X, "null"]`, since the server does send nulls, and loses its defaults,
    `required` lists and string formats: they constrain what the server sends, which the server
    already guarantees. `$defs` named in `opaque` become plain objects: records whose fields the
    model reads in the result itself and need not be told on every turn.
    """
    compacted = cast(dict[str, Any], _walk(schema, output=output, in_properties=False))
    if not opaque:
        return compacted
    refs = {f"#/$defs/{name}" for name in opaque}
    inlined = cast(dict[str, Any], _inline(compacted, refs))
    defs = {k: v for k, v in cast(dict[str, Any], inlined.get("$defs", {})).items() if k not in opaque}
    return {**inlined, "$defs": defs} if defs else {k: v for k, v in inlined.items() if k != "$defs"}


def _inline(node: Any, refs: set[str]) -> Any:
    """Every `$ref` to one of `refs` replaced by a plain object schema."""
    if isinstance(node, list):
        return [_inline(v, refs) for v in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    node = cast(dict[str, Any], node)
    if node.get("$ref") in refs:
        return {"type": "object"}
    return _fold_nullable({k: _inline(v, refs) for k, v in node.items()}, output=True)


_OUTPUT_ONLY_NOISE = frozenset({"default", "required", "format", "minimum", "maximum", "minLength", "maxLength"})


def _walk(node: Any, *, output: bool, in_properties: bool) -> Any:
    if isinstance(node, list):
        return [_walk(v, output=output, in_properties=False) for v in cast(list[Any], node)]
    if not isinstance(node, dict):
        return node
    node = cast(dict[str, Any], node)
    if in_properties:  # keys are field names here, not schema keywords
        return {k: _walk(v, output=output, in_properties=False) for k, v in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if (key == "default" and value is None) or (output and key in _OUTPUT_ONLY_NOISE):
            continue
        out[key] = _walk(value, output=output, in_properties=key in ("properties", "$defs"))
    return _fold_nullable(out, output=output)


def shallow(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema reduced to its top-level fields and their JSON types.

    The model reads the result itself; what it needs on every turn is only which fields come back.
    A field that may be null has no type, so any value it takes conforms.
    """
    fields: dict[str, Any] = {}
    for name, spec in cast(dict[str, dict[str, Any]], schema.get("properties", {})).items():
        kind = spec.get("type")
        fields[name] = {"type": kind} if isinstance(kind, str) else {}
    return {"type": "object", "properties": fields}


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`shallow(compact(schema, output=True))` of the schema the SDK derives for a tool returning `model`.

    Made without writing out the models nested in it: a field holding one is a `$ref` in the top level
    whatever the definition says, and `shallow` keeps nothing else of it. Writing them all out (the SDK's
    way) cost 30 ms of every start, 20 of them for gather_context's result.
    """
    schema = TypeAdapter(model).json_schema(schema_generator=_TopLevelOnly)
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):  # a model that nests itself: the SDK inlines the root
        schema = {**schema["$defs"][ref.removeprefix("#/$defs/")], **{k: v for k, v in schema.items() if k != "$ref"}}
    return shallow(compact(schema, output=True))


class _TopLevelOnly(GenerateJsonSchema):
    """Writes each model nested below the outermost one as a bare object (see `output_schema`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._depth = 0

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        if self._depth:
            return {"type": "object"}
        self._depth += 1
        try:
            return super().model_schema(schema)
        finally:
            self._depth -= 1


def _fold_nullable(node: dict[str, Any], *, output: bool) -> dict[str, Any]:
    options = node.get("anyOf")
    if not isinstance(options, list) or len(cast(list[Any], options)) != 2:
        return node
    options = cast(list[dict[str, Any]], options)
    rest = [o for o in options if o != {"type": "null"}]
    if not output and len(rest) == 1 and "$ref" in rest[0]:  # an optional object parameter: just the object
        return {**{k: v for k, v in node.items() if k != "anyOf"}, **rest[0]}
    if len(rest) != 1 or not isinstance(rest[0].get("type"), str):
        return node
    folded = {k: v for k, v in node.items() if k != "anyOf"}
    merged = {**rest[0], **folded, "type": [rest[0]["type"], "null"] if output else rest[0]["type"]}
    if output and "enum" in merged:  # a null the server sends must be one of the allowed values
        merged["enum"] = [*merged["enum"], None]
    return merged


def argument_problems(tool: str, exc: ValidationError) -> str:
    """What is wrong with a call's arguments, in plain words: the field and what to fix, no value echoed."""
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False)[:_MOST]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "required"
        elif error["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            message = "not a parameter of this tool"
        elif str(error["type"]).startswith(("datetime", "timezone")):
            message += " (write ISO 8601 with an offset, e.g. 2026-11-20T09:00:00Z)"
        problems.append(f"{where}: {message}")
    more = len(exc.errors()) - _MOST
    tail = f" (and {more} more)" if more > 0 else ""
    return f"invalid arguments for {tool}: " + "; ".join(problems) + tail + ". Fix them and call again."
