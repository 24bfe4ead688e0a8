"""The file `sori plugins new NAME` writes: a working, commented example plugin."""

from __future__ import annotations

import keyword
import os
from pathlib import Path

from .errors import PluginError
from .spec import NAME_RE

PLUGIN_TEMPLATE = '''\
"""A Sori plugin. Every function marked with @tool in this file becomes a tool the assistant can call.

Sori loads each .py file in its plugin folders (names starting with "_" are skipped) and reloads a file
when you save it. Check this one with:  sori plugins check THIS_FILE
"""

from assistant.tools import tool


# The model sees the function's name, the first paragraph of its docstring, and its arguments:
# each needs a type hint (int, float, str, bool, Literal[...], an Enum, list[...], a pydantic model),
# and each "Args:" line below becomes that argument's description. Arguments with a default are optional.
#
# Options: @tool(confirm=True) asks the user before each run ("Run roll_dice with sides=6, count=1?"),
# or give the question yourself: @tool(confirm="Roll {count} dice?"). timeout=30 allows 30 s (default 15).
# examples=[...] are typical requests: they pick which tools a request is offered, and one said as written
# runs the tool at once. patterns=[...] are regular expressions for requests that can only mean this tool
# (matched case-insensitively): they run it at once too, so keep them strict ("rock and roll" is no dice).
# A named group, (?P<count>\\d+), is that argument as said: no model writes the call when it has them all.
@tool(
    examples=["roll a die", "roll two twenty-sided dice"],
    patterns=[r"^\\W*roll\\s+(?:a|an|one|two|three|\\d+)\\s+(?:[\\w-]+\\s+)?(?:die|dice)\\b"],
)
def roll_dice(sides: int = 6, count: int = 1) -> list[int]:
    """Roll dice and return each result.

    Args:
        sides: number of faces on each die
        count: how many dice to roll
    """
    import random

    # Return something JSON can hold (text, numbers, lists, dicts, pydantic models); keep it short:
    # long results are cut before the model reads them.
    return [random.randint(1, sides) for _ in range(count)]
'''


def check_plugin_name(name: str) -> None:
    """PluginError unless name works as a tool, a function and a file name that Sori will load."""
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise PluginError(
            f"{name!r} cannot be a plugin name; use letters, digits and _ (at most 64, a letter first)"
        )
    if name.startswith("_"):
        raise PluginError(f"{name!r} cannot be a plugin name: files starting with '_' are not loaded")


def new_plugin(name: str, folder: Path) -> Path:
    """Write the template as folder/NAME.py with its tool called NAME; never overwrites a file."""
    check_plugin_name(name)
    path = folder / f"{name}.py"
    if path.exists():
        raise PluginError(f"{path} already exists; pick another name or edit that file")
    if not folder.exists():
        folder.mkdir(parents=True)
        # A umask of 002 would leave it group-writable, and Sori refuses such folders.
        os.chmod(folder, 0o700)
    text = PLUGIN_TEMPLATE.replace("roll_dice", name)
    try:
        with open(path, "x", encoding="utf-8") as f:  # "x": refuse even if it appeared just now
            f.write(text)
    except FileExistsError:
        raise PluginError(f"{path} already exists; pick another name or edit that file") from None
    os.chmod(path, 0o644)
    return path
