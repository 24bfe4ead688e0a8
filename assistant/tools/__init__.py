"""Sori's plugin framework: `@tool` functions in plugin files become tools the model can call.

    from assistant.tools import tool

    @tool
    def roll_dice(sides: int = 6, count: int = 1) -> list[int]:
        \"\"\"Roll dice and return each result.\"\"\"

ToolRegistry finds and (re)loads plugins; ToolExecutor runs one call safely and returns a ToolResult.
"""

from .errors import LoadError, PluginError, ToolArgumentError, ToolNotFound
from .executor import ToolExecutor, ToolResult
from .loader import ToolRegistry
from .spec import ToolSpec, tool

__all__ = [
    "LoadError",
    "PluginError",
    "ToolArgumentError",
    "ToolExecutor",
    "ToolNotFound",
    "ToolRegistry",
    "ToolResult",
    "ToolSpec",
    "tool",
]
