"""Tools are registered as the SDK would register them, with output schemas made the short way.

`server.schema.output_schema` skips writing out nested models (a start-up cost); what it returns must be
exactly what cutting the SDK's full schema down gives, or tools/list would change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import pytest
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from server.app import TOOLS, _tool, write_tools  # pyright: ignore[reportPrivateUsage]
from server.schema import compact, output_schema, shallow

ALL_TOOLS = [*TOOLS, *write_tools()]


@pytest.mark.parametrize(("fn", "annotations"), ALL_TOOLS, ids=[fn.__name__ for fn, _ in ALL_TOOLS])
def test_a_tool_is_registered_as_the_sdk_would_with_its_schemas_compacted(
    fn: Callable[..., Any], annotations: ToolAnnotations
) -> None:
    sdk = Tool.from_function(fn, annotations=annotations)
    ours = _tool(fn, annotations)

    assert sdk.fn_metadata.output_schema is not None
    assert ours.fn_metadata.output_model is sdk.fn_metadata.output_model
    assert ours.fn_metadata.wrap_output == sdk.fn_metadata.wrap_output
    assert ours.output_schema == shallow(compact(sdk.fn_metadata.output_schema, output=True))
    assert ours.parameters == compact(sdk.parameters)
    assert (ours.name, ours.context_kwarg, ours.is_async) == (sdk.name, sdk.context_kwarg, sdk.is_async)


class Leaf(BaseModel):
    at: datetime
    note: str | None = None


class Tree(BaseModel):
    label: str
    children: list[Tree] = Field(default_factory=list["Tree"])


class Mixed(BaseModel):
    count: int
    ratio: float = 0.5
    kind: Literal["a", "b"]
    one: Literal[1]
    maybe: str | None = None
    leaf: Leaf
    again: Leaf | None = None  # the same nested model twice: pydantic shares one definition
    leaves: list[Leaf]
    by_name: dict[str, Leaf]
    tree: Tree  # recursive
    either: int | str
    anything: Any = None
    flags: frozenset[str] = frozenset()


def sdk_output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The output schema the SDK derives for a tool returning `model`."""

    def returns() -> None: ...

    returns.__annotations__ = {"return": model}
    schema = Tool.from_function(returns).fn_metadata.output_schema
    assert schema is not None
    return schema


@pytest.mark.parametrize("model", [Leaf, Tree, Mixed])
def test_the_short_output_schema_equals_the_sdks_cut_down(model: type[BaseModel]) -> None:
    assert output_schema(model) == shallow(compact(sdk_output_schema(model), output=True))
    assert output_schema(model)["properties"]
