"""The `@tool` decorator and ToolSpec: what the model sees of a Python function, and how to call it."""

from __future__ import annotations

import inspect
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

import regex
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from .errors import PluginError, ToolArgumentError
from .schema import FIELD_PREFIX, flat_schema, parse_docstring, signature_model

NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, eq=False)  # eq=False: `parameters` is a dict, and specs compare by identity
class ToolSpec:
    """One tool: its name, description and JSON schema for the model, and the function that runs it."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    is_async: bool
    confirm: bool | str = False
    timeout: float | None = None  # None: the executor's default
    examples: tuple[str, ...] = ()
    # Regular expressions for requests that plainly ask for this tool: a match takes the fast path.
    patterns: tuple[regex.Pattern[str], ...] = ()
    source_file: Path | None = None
    source_line: int | None = None
    args_model: type[BaseModel] | None = field(default=None, repr=False)

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """Check and convert arguments (defaults filled in); ToolArgumentError names the bad one."""
        if not isinstance(args, dict):
            raise ToolArgumentError(
                f"arguments for {self.name} must be a JSON object, not {type(args).__name__}"
            )
        if self.args_model is None:
            raise PluginError(f"tool {self.name} was not made with @tool")
        try:
            checked = self.args_model.model_validate(args)
        except ValidationError as exc:
            raise ToolArgumentError(self._explain(exc)) from None
        return {
            name.removeprefix(FIELD_PREFIX): getattr(checked, name) for name in type(checked).model_fields
        }

    def _explain(self, exc: ValidationError) -> str:
        known = ", ".join(self.parameters.get("properties", {})) or "none"
        problems: list[str] = []
        for err in exc.errors(include_url=False)[:3]:
            where = ".".join(str(part) for part in err["loc"]) or "arguments"
            if err["type"] == "missing":
                problems.append(f"missing required argument {where!r}")
            elif err["type"] == "extra_forbidden":
                problems.append(f"unknown argument {where!r} ({self.name} takes: {known})")
            else:
                got = repr(err.get("input"))
                got = got if len(got) <= 60 else got[:57] + "..."
                problems.append(f"argument {where!r}: {err['msg']} (got {got})")
        more = exc.error_count() - len(problems)
        return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")

    def confirmation(self, args: dict[str, Any]) -> str:
        """The question to ask the user before running this tool with these arguments."""
        try:
            values = self.validate(args)
        except ToolArgumentError:
            values = dict(args)
        shown = {k: to_jsonable_python(v, fallback=str) for k, v in values.items()}
        if isinstance(self.confirm, str):
            try:
                return self.confirm.format(**shown)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                pass  # a format spec that does not fit the value: fall back to the plain sentence
        if not shown:
            return f"Run {self.name}?"
        parts = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        return f"Run {self.name} with {parts}?"

    def openai_schema(self) -> dict[str, Any]:
        """The tool in OpenAI's function-calling format.

        Examples stay out: every token here is in every prompt (the fast path uses them instead).
        """
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_template(template: str, params: list[str], name: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise PluginError(f"tool {name}: confirm template {template!r} is malformed ({exc})") from None
    for f in fields:
        base = re.split(r"[.\[]", f, maxsplit=1)[0]
        if base not in params:
            choices = ", ".join("{" + p + "}" for p in params) or "no arguments"
            raise PluginError(f"tool {name}: confirm template uses {{{f}}}, but the arguments are {choices}")


def _compile_patterns(patterns: object, name: str) -> tuple[regex.Pattern[str], ...]:
    items = (patterns,) if isinstance(patterns, str) else patterns
    if not isinstance(items, list | tuple) or not all(isinstance(p, str) for p in items):
        raise PluginError(f"tool {name}: patterns must be a list of regular expressions (strings)")
    compiled = []
    for pattern in items:
        try:
            compiled_one = regex.compile(pattern, regex.IGNORECASE)
        except regex.error as exc:
            raise PluginError(
                f"tool {name}: pattern {pattern!r} is not a valid regular expression ({exc})"
            ) from None
        if compiled_one.search("") and compiled_one.search("zq xv"):
            raise PluginError(f"tool {name}: pattern {pattern!r} matches every request; make it stricter")
        compiled.append(compiled_one)
    return tuple(compiled)


def make_spec(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    confirm: bool | str = False,
    timeout: float | None = None,
    examples: list[str] | tuple[str, ...] | str = (),
    patterns: list[str] | tuple[str, ...] | str = (),
) -> ToolSpec:
    """Build the ToolSpec of fn; PluginError says what to change when fn cannot be a tool."""
    if not inspect.isfunction(fn):
        raise PluginError(f"@tool decorates functions, not {type(fn).__name__} objects")
    tool_name = name if name is not None else fn.__name__
    if not isinstance(tool_name, str) or not NAME_RE.match(tool_name):
        raise PluginError(
            f"tool name {tool_name!r} is not allowed; use letters, digits and _ (at most 64, not starting "
            "with a digit)"
        )
    if not isinstance(confirm, bool | str):
        raise PluginError(f"tool {tool_name}: confirm must be True, False or a sentence template")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
        raise PluginError(f"tool {tool_name}: timeout must be a number of seconds")
    if timeout is not None and timeout <= 0:
        raise PluginError(f"tool {tool_name}: timeout must be more than 0 seconds")
    example_list = (examples,) if isinstance(examples, str) else tuple(examples)
    if not all(isinstance(e, str) for e in example_list):
        raise PluginError(f"tool {tool_name}: examples must be a list of strings")
    compiled = _compile_patterns(patterns, tool_name)
    summary, docs = parse_docstring(fn.__doc__)
    model = signature_model(fn, tool_name, docs)
    params = [a.alias or n for n, a in model.model_fields.items()]
    if isinstance(confirm, str):
        _check_template(confirm, params, tool_name)
    code = fn.__code__
    return ToolSpec(
        name=tool_name,
        description=summary,
        parameters=flat_schema(model, tool_name),
        fn=fn,
        is_async=inspect.iscoroutinefunction(fn),
        confirm=confirm,
        timeout=float(timeout) if timeout is not None else None,
        examples=example_list,
        patterns=compiled,
        source_file=Path(code.co_filename),
        source_line=code.co_firstlineno,
        args_model=model,
    )


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(
    *,
    name: str | None = None,
    confirm: bool | str = False,
    timeout: float | None = None,
    examples: list[str] | tuple[str, ...] | str = (),
    patterns: list[str] | tuple[str, ...] | str = (),
) -> Callable[[F], F]: ...
def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    confirm: bool | str = False,
    timeout: float | None = None,
    examples: list[str] | tuple[str, ...] | str = (),
    patterns: list[str] | tuple[str, ...] | str = (),
) -> Any:
    """Mark a function as a tool the model may call: `@tool` or `@tool(confirm=True, timeout=30, ...)`.

    The function is returned unchanged (still directly callable) with its ToolSpec in `__sori_tool__`.
    `confirm` is True (ask "Run NAME with a=1?") or a template such as "Open {url} in your browser?".
    `patterns` are regular expressions (searched case-insensitively) for requests that can only mean this
    tool: one that matches runs it at once, the model filling in the arguments.
    """

    def decorate(f: F) -> F:
        spec = make_spec(f, name=name, confirm=confirm, timeout=timeout, examples=examples, patterns=patterns)
        f.__sori_tool__ = spec  # type: ignore[attr-defined]
        return f

    return decorate(fn) if fn is not None else decorate
