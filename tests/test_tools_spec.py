"""Tests for @tool and ToolSpec: schemas from signatures and docstrings, validation, confirmation."""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Literal, Optional

import pytest
from pydantic import BaseModel

from assistant.errors import SoriError
from assistant.tools import PluginError, ToolSpec, tool
from assistant.tools.errors import ToolArgumentError


@tool
def roll_dice(sides: int = 6, count: int = 1) -> list[int]:
    """Roll dice and return each result.

    Args:
        sides: number of faces on each die
        count: how many dice to roll
    """
    import random

    return [random.randint(1, sides) for _ in range(count)]


class Color(Enum):
    RED = "red"
    GREEN = "green"


class Point(BaseModel):
    """A point on the map."""

    x: float
    y: float = 0.0


def spec_of(fn) -> ToolSpec:
    return fn.__sori_tool__


def test_readme_example_schema() -> None:
    spec = spec_of(roll_dice)
    assert spec.name == "roll_dice"
    assert spec.description == "Roll dice and return each result."
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "sides": {"type": "integer", "description": "number of faces on each die", "default": 6},
            "count": {"type": "integer", "description": "how many dice to roll", "default": 1},
        },
        "required": [],
    }
    assert spec.openai_schema() == {
        "type": "function",
        "function": {
            "name": "roll_dice",
            "description": "Roll dice and return each result.",
            "parameters": spec.parameters,
        },
    }
    assert spec.is_async is False and spec.confirm is False and spec.timeout is None
    assert spec.source_file is not None and spec.source_file.name == "test_tools_spec.py"
    # Still a plain function.
    assert len(roll_dice(6, 3)) == 3


def test_validate_converts_fills_defaults_and_names_bad_arguments() -> None:
    spec = spec_of(roll_dice)
    assert spec.validate({"sides": "20"}) == {"sides": 20, "count": 1}
    with pytest.raises(ToolArgumentError, match="argument 'sides'.*valid integer.*'many'"):
        spec.validate({"sides": "many"})
    with pytest.raises(ValueError, match="unknown argument 'colour'.*takes: sides, count"):
        spec.validate({"colour": "red"})
    with pytest.raises(ToolArgumentError, match="must be a JSON object"):
        spec.validate(["6"])  # type: ignore[arg-type]


def test_types_optional_literal_enum_list_nested() -> None:
    @tool(name="paint", timeout=30, examples=["paint it red"])
    def paint_fn(
        where: Point,
        color: Color = Color.RED,
        finish: Literal["matte", "gloss"] = "matte",
        layers: Optional[int] = None,  # noqa: UP045 - both spellings must work
        note: str | None = None,
        tags: list[str] | None = None,
        strokes: list[Point] = [],  # noqa: B006
        dry: bool = False,
        ratio: float = 1.5,
    ) -> str:
        """Paint something.

        More detail that the model does not need.

        Args:
            where: the spot to paint
            color: paint colour,
                one of the house colours
        Returns:
            a receipt
        """
        return f"{where.x},{color.value}"

    spec = spec_of(paint_fn)
    assert spec.name == "paint" and spec.timeout == 30.0 and spec.examples == ("paint it red",)
    assert spec.description == "Paint something."
    props = spec.parameters["properties"]
    assert spec.parameters["required"] == ["where"]
    assert props["where"]["type"] == "object"
    assert props["where"]["description"] == "the spot to paint"
    assert props["where"]["properties"] == {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}}
    assert props["where"]["required"] == ["x"]
    assert props["color"] == {
        "type": "string",
        "description": "paint colour, one of the house colours",
        "enum": ["red", "green"],
        "default": "red",
    }
    assert props["finish"]["enum"] == ["matte", "gloss"] and props["finish"]["default"] == "matte"
    # An optional `X | None = None` is offered as X alone: leaving it out means None (a null on offer was
    # written by small models for every optional argument).
    assert props["layers"] == {"type": "integer"}
    assert props["note"] == {"type": "string"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert spec.validate({"where": {"x": 1}, "layers": None})["layers"] is None
    assert props["strokes"]["items"]["properties"]["x"] == {"type": "number"}
    assert props["dry"]["type"] == "boolean" and props["ratio"]["type"] == "number"
    text = str(spec.parameters)
    assert "$ref" not in text and "$defs" not in text and "title" not in text
    # Examples feed the fast path, not the prompt: every schema token is in every prompt.
    assert "Example requests" not in spec.openai_schema()["function"]["description"]
    assert spec.examples

    values = spec.validate({"where": {"x": 1}, "color": "green", "strokes": [{"x": 2, "y": 3}]})
    assert values["where"] == Point(x=1, y=0) and values["color"] is Color.GREEN
    assert values["strokes"][0].y == 3.0 and values["layers"] is None
    assert paint_fn(**values) == "1.0,green"
    with pytest.raises(ToolArgumentError, match="'finish'"):
        spec.validate({"where": {"x": 1}, "finish": "shiny"})
    with pytest.raises(ToolArgumentError, match="'where.x'"):
        spec.validate({"where": {"x": "left"}})
    with pytest.raises(ToolArgumentError, match="missing required argument 'where'"):
        spec.validate({})


def test_async_tool() -> None:
    @tool
    async def wait_a_bit(seconds: float = 0.01) -> str:
        """Wait, then say so."""
        await asyncio.sleep(seconds)
        return "done"

    spec = spec_of(wait_a_bit)
    assert spec.is_async is True
    assert asyncio.run(wait_a_bit()) == "done"


def test_argument_names_that_clash_with_pydantic_work() -> None:
    @tool
    def odd_names(schema: str, model_config: int = 1, json: bool = False) -> str:
        """Names that BaseModel itself uses."""
        return schema

    spec = spec_of(odd_names)
    assert list(spec.parameters["properties"]) == ["schema", "model_config", "json"]
    assert spec.validate({"schema": "s"}) == {"schema": "s", "model_config": 1, "json": False}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f(x): pass", "parameter 'x' needs a type hint"),
        ("def f(*args: int): pass", r"\*args is not supported"),
        ("def f(**kw: int): pass", r"\*\*kw is not supported"),
        ("def f(x: int, /): pass", "positional-only"),
        ("def f(x: 'Undefined'): pass", "cannot resolve its type hints"),
        ("import threading\ndef f(a: int, x: threading.Lock): pass", "parameter 'x' has an unsupported type"),
    ],
)
def test_unsupported_signatures_fail_at_decoration(source: str, message: str) -> None:
    namespace: dict = {}
    exec(source, namespace)
    with pytest.raises(PluginError, match=message) as info:
        tool(namespace["f"])
    assert isinstance(info.value, SoriError) and "\n" not in str(info.value)


def test_bad_names_and_options() -> None:
    def f(x: int) -> int:
        """Doc."""
        return x

    for bad in ("1abc", "has space", "a" * 65, "dash-name", ""):
        with pytest.raises(PluginError, match="is not allowed"):
            tool(name=bad)(f)
    with pytest.raises(PluginError, match="timeout"):
        tool(timeout=0)(f)
    with pytest.raises(PluginError, match=r"uses \{y\}, but the arguments are \{x\}"):
        tool(confirm="Use {y}?")(f)
    with pytest.raises(PluginError, match="functions"):
        tool(Point)  # type: ignore[arg-type]
    assert spec_of(tool(name="A_" + "b" * 62)(f)).name.startswith("A_")


def test_patterns_compile_case_insensitive_and_bad_ones_are_refused() -> None:
    def f(x: int) -> int:
        """Doc."""
        return x

    spec = spec_of(tool(patterns=r"^roll (?:a|\d+) dice?\b")(f))
    assert spec.patterns[0].search("Roll 2 dice please") and not spec.patterns[0].search("rock and roll")
    with pytest.raises(PluginError, match=r"pattern '\(unclosed' is not a valid regular expression"):
        tool(patterns=["(unclosed"])(f)
    with pytest.raises(PluginError, match="matches every request"):
        tool(patterns=[r"\w*"])(f)
    with pytest.raises(PluginError, match="list of regular expressions"):
        tool(patterns=[3])(f)  # type: ignore[list-item]


def test_confirmation_sentences() -> None:
    @tool(confirm=True)
    def launch(target: str, count: int = 2) -> str:
        """Launch."""
        return target

    @tool(confirm="Open {url} in your browser?")
    def open_url(url: str) -> str:
        """Open a page."""
        return url

    @tool(confirm="Paint it {color}?")
    def paint(color: Color) -> str:
        """Paint."""
        return color.value

    @tool(confirm=True)
    def nothing() -> None:
        """No arguments."""

    assert spec_of(launch).confirmation({"target": "moon"}) == "Run launch with target='moon', count=2?"
    assert spec_of(open_url).confirmation({"url": "https://x.org"}) == "Open https://x.org in your browser?"
    assert spec_of(paint).confirmation({"color": "green"}) == "Paint it green?"
    assert spec_of(nothing).confirmation({}) == "Run nothing?"
    assert spec_of(roll_dice).confirmation({"count": 2}) == "Run roll_dice with sides=6, count=2?"
