"""A BFCL case's functions written as one Sori plugin file, the way a user would write them by hand.

BFCL describes functions in JSON ("dict", "float", "tuple" and "any" beside the JSON-schema types); each
becomes a Python function with type hints (Literal for enums, list[...] for arrays, a pydantic model for an
object with properties) and a docstring whose Args section carries the descriptions. Dotted names become
identifiers ("math.factorial" -> "math_factorial"); the mapping back is kept for scoring. A function that
cannot be a Python function (a parameter named like a keyword, an unknown type) is reported, not dropped.
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

_SCALARS = {
    "string": "str",
    "integer": "int",
    "float": "float",
    "number": "float",
    "boolean": "bool",
    "any": "Any",
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Unconvertible(ValueError):
    """This function cannot be written as a Python function; the message says why."""


@dataclass
class PluginFile:
    source: str
    names: dict[str, str] = field(default_factory=dict)  # plugin tool name -> BFCL function name
    skipped: list[str] = field(default_factory=list)  # "name: why" for each function left out


def identifier(name: str) -> str:
    """A valid tool name for a BFCL function name (Sori's tool names: [A-Za-z_][A-Za-z0-9_]{0,63})."""
    ident = re.sub(r"\W", "_", name.strip())
    if not ident or ident[0].isdigit():
        ident = "f_" + ident
    if keyword.iskeyword(ident):
        ident += "_"
    return ident[:64]


class _Writer:
    def __init__(self) -> None:
        self.models: list[str] = []  # class definitions, in dependency order

    def hint(self, schema: dict[str, Any], where: str) -> str:
        if not isinstance(schema, dict):
            raise Unconvertible(f"{where} has no type")
        enum = schema.get("enum")
        if isinstance(enum, list) and enum and all(isinstance(v, str | int | bool) for v in enum):
            return "Literal[" + ", ".join(repr(v) for v in dict.fromkeys(enum)) + "]"
        kind = schema.get("type")
        if kind in _SCALARS:
            return _SCALARS[kind]
        if kind in ("array", "tuple"):
            items = schema.get("items")
            return f"list[{self.hint(items, where + ' items')}]" if items else "list[Any]"
        if kind in ("dict", "object"):
            props = schema.get("properties")
            if not props:
                return "dict[str, Any]"
            return self.model(props, schema.get("required", list(props)), where)
        raise Unconvertible(f"{where} has the type {kind!r}, which has no Python equivalent here")

    def model(self, props: dict[str, Any], required: list[str], where: str) -> str:
        name = f"Model{len(self.models) + 1}"
        lines = [f"class {name}(BaseModel):"]
        for pname, pschema in props.items():
            _check_param(pname, where)
            hint = self.hint(pschema, f"{where}.{pname}")
            desc = pschema.get("description", "") if isinstance(pschema, dict) else ""
            default = "" if pname in required else " = None"
            if default:
                hint = f"{hint} | None"
            lines.append(f"    {pname}: {hint}{default}" + (f"  # {_one_line(desc)}" if desc else ""))
        self.models.append("\n".join(lines))
        return name


def _check_param(name: str, where: str) -> None:
    if not _IDENT.match(name) or keyword.iskeyword(name):
        raise Unconvertible(f"{where}: the parameter {name!r} cannot be a Python parameter name")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _function(fn: dict[str, Any], writer: _Writer) -> tuple[str, str]:
    """(tool name, source) of one BFCL function."""
    name = fn.get("name", "")
    tool_name = identifier(name)
    params = fn.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    required = [r for r in params.get("required", []) if r in props]
    args, docs = [], []
    # Required parameters first: Python needs them before those with defaults.
    for pname in sorted(props, key=lambda p: p not in required):
        pschema = props[pname]
        _check_param(pname, name)
        hint = writer.hint(pschema, f"{name}: parameter {pname!r}")
        if pname in required:
            args.append(f"{pname}: {hint}")
        elif isinstance(pschema, dict) and "default" in pschema and _literal_ok(pschema["default"]):
            args.append(f"{pname}: {hint} = {pschema['default']!r}")
        else:
            args.append(f"{pname}: {hint} | None = None")
        desc = _one_line(pschema.get("description", "")) if isinstance(pschema, dict) else ""
        docs.append(f"        {pname}: {desc or pname}")
    doc = _one_line(fn.get("description", "")) or name
    if docs:
        doc += "\n\n    Args:\n" + "\n".join(docs) + "\n    "
    source = (
        f"@tool(name={tool_name!r})\n"
        f"def {tool_name}({', '.join(args)}) -> dict:\n"
        f"    {_docstring(doc)}\n"
        f"    return {{'called': {name!r}}}\n"
    )
    return tool_name, source


def _literal_ok(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError):
        return False


def _docstring(text: str) -> str:
    return '"""' + text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"') + '"""'


def plugin_file(functions: list[dict[str, Any]], title: str = "") -> PluginFile:
    """One plugin file holding every function that can be written; the others are listed as skipped."""
    out = PluginFile("")
    writer = _Writer()
    bodies = []
    for fn in functions:
        models_before = len(writer.models)
        try:
            tool_name, source = _function(fn, writer)
        except Unconvertible as exc:
            del writer.models[models_before:]
            out.skipped.append(f"{fn.get('name', '?')}: {exc}")
            continue
        if tool_name in out.names:
            out.skipped.append(f"{fn.get('name')}: the same tool name as {out.names[tool_name]}")
            continue
        out.names[tool_name] = fn.get("name", "")
        bodies.append(source)
    header = [
        f'"""{_one_line(title)}"""' if title else '"""Functions from a BFCL case."""',
        "from typing import Any, Literal",
        "",
        "from pydantic import BaseModel",
        "",
        "from assistant.tools import tool",
    ]
    out.source = "\n".join(header) + "\n\n\n" + "\n\n".join([*writer.models, *bodies]) + "\n"
    return out
