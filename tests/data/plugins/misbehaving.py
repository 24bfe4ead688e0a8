"""Tools that go wrong in every way a tool can, for Sori's tests."""

import time

from assistant.tools import tool


@tool(examples=["hang forever now"])
def hang_forever() -> str:
    """Hang forever: never returns."""
    time.sleep(3600)
    return "never"


@tool(examples=["explode the bomb now"])
def explode_bomb() -> str:
    """Explode the bomb: raises an error."""
    raise ValueError("the bomb exploded")


@tool(examples=["make an unserializable object"])
def unserializable_object() -> object:
    """Make an unserializable object."""
    return object()


@tool(examples=["flood me with text"])
def flood_text() -> str:
    """Flood with text: ten megabytes of it."""
    return "x" * 10_000_000


@tool(confirm="Delete everything in {folder}?", examples=["wipe the folder"])
def wipe_folder(folder: str) -> str:
    """Wipe a folder (asks first).

    Args:
        folder: which folder to wipe
    """
    return f"wiped {folder}"
