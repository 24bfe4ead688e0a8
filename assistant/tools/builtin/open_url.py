"""Built-in tool: open a web page in the user's browser (after the user says yes)."""

from __future__ import annotations

import os
import re
import sys
import webbrowser
from urllib.parse import urlsplit

from assistant.tools import tool

MAX_CHARS = 2000
# "wikipedia.org" or "docs.python.org/3/": a bare host name that people (and models) say without https://
_BARE_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?::\d+)?(?:[/?#].*)?$", re.I)


def checked_url(url: str) -> str:
    """The URL to open: http(s) only, with https:// added to a bare host name; ValueError otherwise."""
    url = url.strip()
    if not url or len(url) > MAX_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError("that is not a web address (it is empty, too long, or has spaces in it)")
    if "://" not in url and _BARE_HOST.match(url):
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https web addresses can be opened, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host name")
    return url


@tool(
    confirm="Open {url} in your browser?",
    examples=["open github.com", "go to https://www.python.org in the browser"],
)
def open_url(url: str) -> dict:
    """Open a web page (an http or https address) in the user's web browser.

    Args:
        url: the web address, e.g. "https://example.com" or "wikipedia.org"
    """
    target = checked_url(url)
    # Without a desktop, webbrowser would start a text browser that takes over Sori's terminal.
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ValueError(f"there is no graphical desktop here to open a browser in; the address is {target}")
    if not webbrowser.open(target):
        raise ValueError(f"no web browser could be started; the address is {target}")
    return {"opened": target}
