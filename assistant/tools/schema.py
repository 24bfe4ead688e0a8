"""From a function's signature and docstring to a pydantic model and a flat JSON schema."""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.errors import PydanticUserError

from .errors import PluginError

_SECTION_RE = re.compile(r"^(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments):\s*$")
_ENTRY_RE = re.compile(r"^\**(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_OTHER_SECTION_RE = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
# Keys whose values are data (not sub-schemas): never strip "title" or resolve "$ref" inside them.
_DATA_KEYS = {"default", "enum", "const", "examples"}
_SCHEMA_MAPS = {"properties", "$defs", "patternProperties", "definitions"}

FIELD_PREFIX = (
    "f_"  # model fields are "f_<arg>" with the alias "<arg>", so no arg name clashes with BaseModel
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary (first paragraph, one line) and Google-style `Args:` entries."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    summary_lines: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_RE.match(line.strip()):
            break
        summary_lines.append(line.strip())
    params: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not _SECTION_RE.match(line.strip()):
            continue
        section_indent, entry_indent, current = _indent(line), None, None
        for body in lines[i + 1 :]:
            if not body.strip():
                continue
            indent = _indent(body)
            if indent <= section_indent:  # dedent: the section is over (e.g. "Returns:")
                break
            if entry_indent is None:
                entry_indent = indent
            match = _ENTRY_RE.match(body.strip())
            if indent == entry_indent and match:
                current = match.group(1)
                params[current] = match.group(2).strip()
            elif current is not None and indent > entry_indent:
                params[current] = f"{params[current]} {body.strip()}".strip()
        break
    return " ".join(summary_lines), params


def signature_model(fn: Callable[..., Any], tool_name: str, docs: dict[str, str]) -> type[BaseModel]:
    """A pydantic model of fn's parameters; PluginError for signatures a model could not call."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise PluginError(f"tool {tool_name}: cannot read its signature ({exc})") from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # a hint naming something undefined, usually
        raise PluginError(
            f"tool {tool_name}: cannot resolve its type hints ({type(exc).__name__}: {exc})"
        ) from None
    fields: dict[str, Any] = {}
    for param in sig.parameters.values():
        where = f"tool {tool_name}: parameter {param.name!r}"
        if param.kind is param.VAR_POSITIONAL or param.kind is param.VAR_KEYWORD:
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise PluginError(f"tool {tool_name}: {star}{param.name} is not supported; name each argument")
        if param.kind is param.POSITIONAL_ONLY:
            raise PluginError(f"{where} is positional-only; remove the '/' so it can be passed by name")
        if param.name not in hints:
            raise PluginError(f"{where} needs a type hint, e.g. '{param.name}: str'")
        info: dict[str, Any] = {"alias": param.name}
        if param.name in docs:
            info["description"] = docs[param.name]
        if param.default is not param.empty:
            info["default"] = param.default
        fields[FIELD_PREFIX + param.name] = (hints[param.name], Field(**info))
    try:
        return _model(tool_name, fields)
    except _SCHEMA_ERRORS as exc:
        culprit = next((n for n, f in fields.items() if not _model_ok(tool_name, {n: f})), None)
        where = f"parameter {culprit.removeprefix(FIELD_PREFIX)!r}" if culprit else "a parameter"
        reason = str(exc).strip().split(". ")[0].splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PluginError(
            f"tool {tool_name}: {where} has an unsupported type ({reason}); use str, int, float, bool, "
            "Literal, an Enum, list or a pydantic model"
        ) from None


_SCHEMA_ERRORS = (PydanticUserError, TypeError, ValueError, NameError)


def _model(tool_name: str, fields: dict[str, Any]) -> type[BaseModel]:
    model = create_model(  # type: ignore[call-overload]
        f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    model.model_json_schema()  # fail now, not when the model first asks for the schema
    return model


def _model_ok(tool_name: str, fields: dict[str, Any]) -> bool:
    try:
        _model(tool_name, fields)
    except _SCHEMA_ERRORS:
        return False
    return True


def flat_schema(model: type[BaseModel], tool_name: str) -> dict[str, Any]:
    """model's JSON schema with every $ref put in place and titles dropped (small models read it better)."""
    raw = model.model_json_schema(by_alias=True)
    defs = raw.get("$defs", {})

    def walk(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.rsplit("/", 1)[1]
            if name in stack:
                raise PluginError(f"tool {tool_name}: the recursive type {name} is not supported")
            out.update(walk(defs.get(name, {}), (*stack, name)))
        for key, value in node.items():
            if key in ("$ref", "$defs") or (key == "title" and isinstance(value, str)):
                continue
            if key == "default" and not _plain_json(value):
                continue  # NaN, infinity: no JSON can say it (the default still applies when called)
            if key in _DATA_KEYS:
                out[key] = value
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub, stack) for name, sub in value.items()}
            else:
                out[key] = walk(value, stack)
        # pydantic wraps a lone $ref with siblings in allOf on some versions: unwrap it.
        all_of = out.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            inner = out.pop("allOf")[0]
            out = {**inner, **out}
        # pydantic sorts keys; "type" and "description" first read better.
        return {**{k: out[k] for k in ("type", "description") if k in out}, **out}

    flat = walk(raw, ())
    required = flat.get("required", [])
    schema = {
        "type": "object",
        "properties": {
            name: prop if name in required else _without_null(prop)
            for name, prop in flat.get("properties", {}).items()
        },
        "required": required,
    }
    if not _plain_json(schema):
        raise PluginError(
            f"tool {tool_name}: a parameter's choices are not plain JSON values (NaN or infinity); use "
            "strings or finite numbers"
        )
    return schema


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional `X | None = None` parameter offered as plain X: leaving it out already means None, and
    a null on offer invited small models to write one for every optional argument."""
    options = prop.get("anyOf")
    if prop.get("default", 0) is not None or not isinstance(options, list):
        return prop
    kept = [o for o in options if o != {"type": "null"}]
    if len(kept) == len(options) or not kept:
        return prop
    out = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**kept[0], **out} if len(kept) == 1 else {**out, "anyOf": kept}


def _plain_json(value: Any) -> bool:
    """Whether value is JSON every parser reads (json.dumps would write NaN, which grammars reject)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True
