"""A Session's plugins: the plugin files watched for additions, edits and removals, each change reported
with PluginsChanged, and, for the tools a change brought, the prompt prefixes they will be offered in
evaluated and saved in the background, so that the first request for one does not wait for them. No Qt
here: everything reports through the session's emit callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from assistant.core import Assistant
from assistant.events import PluginsChanged, SessionWarning

PLUGIN_POLL_S = 0.5  # a plugin file added or edited is picked up within about this (plus its check)


class PluginWatch:
    """Watches one Assistant's plugin files for a session, from start() until stop()."""

    def __init__(
        self, assistant: Assistant, emit: Callable[[object], None], closed: Callable[[], bool]
    ) -> None:
        self.assistant = assistant
        self.emit = emit
        self._closed = closed  # the session ended: background preparation stops
        self.watching = False
        self._known_tools: dict = {}  # the tool specs last seen, to tell which a plugin change brought
        self.preparing: threading.Thread | None = None  # prompt prefixes for changed tools, being prepared

    def start(self) -> None:
        """Plugin files added, edited or removed from now on take effect within about a second."""
        if self.watching or not self.assistant.settings.plugins.enabled:
            return
        try:
            registry = self.assistant.tools  # loads them the first time
            registry.start_watching(PLUGIN_POLL_S, on_change=lambda: self._changed(first=False))
        except Exception as exc:  # the plugin framework must never stop a conversation
            self.emit(SessionWarning("plugins", f"plugins cannot be loaded ({type(exc).__name__}: {exc})"))
            return
        self.watching = True
        self._changed(first=True)

    def stop(self) -> None:
        if self.watching:
            self.assistant.tools.stop_watching()

    def _changed(self, *, first: bool) -> None:
        registry = self.assistant.tools
        specs = dict(registry.tools)
        new = [spec for name, spec in specs.items() if self._known_tools.get(name) is not spec]
        self._known_tools = specs
        if not first and new:
            self._prepare_prompts(new)  # under way before anyone hears of the change
        self.emit(PluginsChanged(tuple(registry.tools), tuple(str(e) for e in registry.errors), first))

    def _prepare_prompts(self, specs: list) -> None:
        """The prompt prefixes that new or changed tools will be offered in, evaluated and saved now, in the
        background: the first request for such a tool would otherwise wait for them (1.6 s for one small
        tool on the default model; a saved one loads in about 5 ms)."""
        if self.assistant.local_llm is None:
            return
        requests = [text for spec in specs for text in (*spec.examples, spec.description) if text]

        def prepare() -> None:
            seen: set[tuple[str, ...]] = set()
            for text in requests:
                tools = self.assistant.tool_schemas(text)
                names = tuple(t["function"]["name"] for t in tools)
                if not names or names in seen:
                    continue
                seen.add(names)
                if self._closed():
                    return
                try:
                    self.assistant.warm(tools)
                except Exception:  # optional work: the next turn meets (and reports) the same problem
                    return

        thread = threading.Thread(target=prepare, name="sori-prompt-prefixes", daemon=True)
        thread.start()
        self.preparing = thread  # started: whoever sees it may join it
