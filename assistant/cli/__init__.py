"""Sori's command line: `sori` and its subcommands (chat, listen, plugins, voice, doctor, bench, …).

Each module adapts the core to a terminal; none holds logic another front end would need.
"""

from assistant.cli.main import main

__all__ = ["main"]
