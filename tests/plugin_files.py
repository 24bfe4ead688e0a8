"""Plugin files for the tests that load plugins: good, broken in every way, and one that asks first."""

from __future__ import annotations

import textwrap
from pathlib import Path

# The README's plugin, as a user saves it.
GOOD = (Path(__file__).parent / "data" / "plugins" / "roll_dice.py").read_text(encoding="utf-8")

# Each of these must disable (at load) or fail (when called) on its own, never the good plugin.
BROKEN = {
    "syntax.py": "from assistant.tools import tool\n\ndef oops(:\n    pass\n",
    "raises.py": "from assistant.tools import tool\nx = 1\nraise RuntimeError('plugin is broken')\n",
    "hangs.py": '''
from assistant.tools import tool
import time

@tool(timeout=0.5)
def hang() -> str:
    """Never finishes."""
    time.sleep(60)
    return "late"
''',
    "fails.py": '''
from assistant.tools import tool

@tool
def explode(reason: str = "boom") -> str:
    """Raise an error."""
    raise ValueError(reason)
''',
    "weird.py": '''
from assistant.tools import tool

@tool
def weird() -> object:
    """Return something JSON cannot hold."""
    return [1, object()]
''',
    "huge.py": '''
from assistant.tools import tool

@tool
def huge() -> str:
    """Return 10 MB of text."""
    return "x" * (10 * 1024 * 1024)
''',
}


def write(folder: Path, name: str, text: str, mode: int = 0o644) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(mode)
    return path


def make_folder(tmp_path: Path, name: str = "plugins") -> Path:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # tmp dirs may be created with odd modes
    return folder


def mixed_folder(tmp_path: Path) -> Path:
    """One good plugin beside every kind of broken one."""
    folder = make_folder(tmp_path)
    write(folder, "good.py", GOOD)
    for name, text in BROKEN.items():
        write(folder, name, text)
    write(folder, "_private.py", "raise RuntimeError('must not be loaded')\n")
    write(folder, "notes.txt", "not a plugin")
    return folder


# Asks before it acts; the test points SORI_TEST_GARAGE at a file the call writes.
GARAGE_PLUGIN = '''
import os
from pathlib import Path

from assistant.tools import tool


@tool(confirm="Open the garage door?", examples=["open the garage door", "open the garage"])
def open_garage() -> str:
    """Open the garage door."""
    Path(os.environ["SORI_TEST_GARAGE"]).write_text("open")
    return "the garage door is open"
'''
