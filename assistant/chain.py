"""The tool chain: one turn's alternation of model generations and tool calls, until the model answers.

Each generation may ask for tools; their results go back into the conversation and the model is asked
again, at most `limit` times. Before-call hooks decide whether a validated call runs (the user's yes for a
confirm=True tool is one); after-call hooks see each result. The rules that keep small models on track:

- the fast path: a request that plainly matches one tool calls it at once, its arguments generated under
  the tool's grammar, and (by default) a template sentence answers instead of a second model call;
- grounding: arguments nobody said are dropped, and a made-up required one means answer without tools;
- a model confused by the offered tools is asked again without them;
- a repeated call, too many failed calls, or the last step: the model must answer in words, and if it
  writes a call anyway the last result is said plainly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from assistant.llm import ChatMessage, ChatModel, Generation, GenerationStats, LocalChatModel, last_user_text
from assistant.tools.executor import BeforeCall, PendingCall, ToolExecutor, ToolResult
from assistant.tools.phrasing import phrase

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.llm.toolcall import ToolCall
    from assistant.store import Message
    from assistant.tools.router import ToolRouter

MAX_TOOL_STEPS = 5  # model calls per turn: tool rounds plus the final answer
MAX_TOOL_RETRIES = 2  # failed calls (bad arguments, errors) the model may retry before it must answer
FILLER_AFTER_S = 1.0  # a tool slower than this gets "One moment." said while it runs

AfterCall = Callable[["ToolCall", ToolResult], None]


class ToolChain:
    """One turn. Its fields hold what was said and called so far, also when run() raised or was cancelled.

    executor, router: the objects, or functions that build them when first needed (a turn without tools
    loads no plugins). local: the model again when it runs locally and may take the fast path (None: no
    fast path; it also needs the router).
    on_slow_call: called once, from a timer thread, when the turn's first tool runs longer than
    FILLER_AFTER_S (the time a user takes to confirm it does not count).
    """

    def __init__(
        self,
        llm: ChatModel,
        executor: ToolExecutor | Callable[[], ToolExecutor],
        settings: Settings,
        *,
        local: LocalChatModel | None = None,
        router: ToolRouter | Callable[[], ToolRouter] | None = None,
        before_call: Sequence[BeforeCall] = (),
        after_call: Sequence[AfterCall] = (),
        dry_run: bool = False,
        on_slow_call: Callable[[], None] | None = None,
        limit: int = MAX_TOOL_STEPS,
        max_retries: int = MAX_TOOL_RETRIES,
    ) -> None:
        self.llm = llm
        self._executor = executor
        self.settings = settings
        self.local = local
        self._router = router
        self.before_call = list(before_call)
        self.after_call = list(after_call)
        self.dry_run = dry_run
        self.on_slow_call = on_slow_call
        self.limit = limit
        self.max_retries = max_retries
        self.texts: list[str] = []  # each generation's text, and template sentences
        self.calls: list[dict] = []  # ToolResult.to_dict() of every call run
        self.results: list[ToolResult] = []
        self.stats = GenerationStats()  # the last generation's
        self.cancelled = False
        self.messages: list[ChatMessage] = []
        self._streaming: Generation | None = None  # the generation being streamed, until it ends

    @property
    def text(self) -> str:
        """The answer so far, with the part of a generation that an engine error or Ctrl-C cut short."""
        partial = self._streaming.text.strip() if self._streaming is not None else ""
        return " ".join([*self.texts, partial] if partial else self.texts).strip()

    def run(
        self,
        question: str,
        messages: Sequence[ChatMessage],
        tools: list[dict],
        on_text: Callable[[str], None],
        cancel: threading.Event | None = None,
    ) -> None:
        """Answer the conversation `messages` (ending with `question`), streaming the answer to on_text."""
        self.messages = messages = list(messages)
        seen: set[str] = set()
        allow_calls = True
        invalid = 0
        last: ToolResult | None = None  # for a template answer when the model gives none
        fast = self._fast_path_call(question, messages, tools)
        for step in range(self.limit):
            if fast is not None:
                gen, fast = fast, None
            else:
                gen = self._streaming = self._generate(messages, tools, allow_calls, cancel)
                for delta in gen:
                    on_text(delta)
                self._streaming = None
            self.stats = gen.stats
            self.cancelled = gen.cancelled
            if gen.text.strip():
                self.texts.append(gen.text.strip())
            if gen.confused and tools and not self.cancelled:
                tools = []  # offered tools only confused the model: ask again without them
                continue
            if self.cancelled or not gen.tool_calls:
                return
            grounded = ground_calls(gen.tool_calls, tools, messages)
            if grounded is None:
                tools = []  # a required argument nobody said (copied from an example): answer instead
                continue
            fresh = [c for c in grounded if _call_key(c) not in seen]
            if not fresh or not allow_calls:
                if last is not None and not allow_calls:
                    # Asked to answer, the model wrote another call: say the result plainly instead.
                    self._say(phrase(last), on_text)
                    return
                allow_calls = False  # the same call again: small models loop; make it answer now
                continue
            messages.append(ChatMessage("assistant", gen.text, tuple(fresh)))
            step_results = []
            for call in fresh:  # several in one answer ("in Paris and in Oslo"): run in the order written
                seen.add(_call_key(call))
                last = self._call(call)
                step_results.append(last)
                messages.append(ChatMessage("tool", last.content))
                invalid += int(not last.ok)
            if gen.stats.finish_reason == "fast_path" and self.settings.plugins.fast_path_reply == "template":
                self._say(" ".join(phrase(r) for r in step_results), on_text)
                return
            if invalid > self.max_retries or step >= self.limit - 2:
                allow_calls = False  # enough tool rounds: the next step must answer
            if cancel is not None and cancel.is_set():
                self.cancelled = True
                return

    def _generate(
        self,
        messages: list[ChatMessage],
        tools: list[dict],
        allow_calls: bool,
        cancel: threading.Event | None,
    ) -> Generation:
        # Whether to call a tool is a decision, not prose: sampled at 0.7 the same request ran its tool
        # one time and was answered from memory the next.
        cfg = self.settings.llm
        return self.llm.generate(
            messages,
            max_tokens=cfg.max_tokens,
            temperature=cfg.tool_temperature if tools else cfg.temperature,
            cancel=cancel,
            tools=tools or None,
            allow_calls=allow_calls,
        )

    def _say(self, sentence: str, on_text: Callable[[str], None]) -> None:
        on_text(sentence)
        self.texts.append(sentence)

    def _fast_path_call(
        self, question: str, messages: list[ChatMessage], tools: list[dict]
    ) -> Generation | None:
        """A request that plainly matches one tool: call it at once, arguments filled in under its grammar.

        Skips the model's free-text decision (and its chance to answer from memory instead of the tool).
        Returns a finished Generation holding the call, or None to take the normal path.
        """
        if self.local is None or self._router is None:
            return None
        from assistant.llm.toolcall import ToolCall
        from assistant.tools.said import said_arguments

        router = self._router() if callable(self._router) else self._router
        tool = fast_path_tool(router, question, tools)
        if tool is None:
            return None
        gen = Generation()
        said = said_arguments(router, tool, question)
        if said is not None:  # the tool's pattern took every argument from the words, exactly
            gen.tool_calls = [ToolCall(tool["function"]["name"], said)]
        else:
            calls = self.local.forced_call(messages, tool, self.settings.llm.max_tokens, offered=tools)
            # Optional arguments nobody said are left out; a made-up required one: let the model decide.
            gen.tool_calls = ground_calls(calls, tools, messages) or []
        gen.stats.finish_reason = "fast_path"
        return gen if gen.tool_calls else None

    def _call(self, call: ToolCall) -> ToolResult:
        """Run one call through the hooks; the first of the turn says the filler once if it is slow."""
        hooks = list(self.before_call)
        timer: threading.Timer | None = None
        done = threading.Event()
        if self.on_slow_call is not None and not self.calls:
            slow = self.on_slow_call

            def arm(_pending: PendingCall) -> None:
                # The last hook: the tool starts now, after any question the user had to answer.
                nonlocal timer
                timer = threading.Timer(FILLER_AFTER_S, lambda: done.is_set() or slow())
                timer.daemon = True
                timer.start()

            hooks.append(arm)
        executor = self._executor() if callable(self._executor) else self._executor
        try:
            result = executor.call(call.name, call.arguments, dry_run=self.dry_run, before=hooks)
        finally:
            done.set()
            if timer is not None:
                timer.cancel()
        self.results.append(result)
        self.calls.append(result.to_dict())
        for hook in self.after_call:
            hook(call, result)
        return result


def chat_messages(system_prompt: str, stored: Sequence[Message]) -> list[ChatMessage]:
    """A stored conversation as the model sees it: each turn's tool calls and their results included."""
    from assistant.llm.toolcall import ToolCall

    msgs = [ChatMessage("system", system_prompt)]
    for m in stored:
        if m.role == "assistant" and m.tool_calls:
            calls = [c for c in m.tool_calls if "name" in c]
            msgs.append(
                ChatMessage(
                    "assistant", "", tuple(ToolCall(c["name"], c.get("arguments", {})) for c in calls)
                )
            )
            msgs += [ChatMessage("tool", str(c.get("content", ""))) for c in calls]
        if m.role in ("user", "assistant") and m.text:
            msgs.append(ChatMessage(m.role, m.text))  # type: ignore[arg-type]
    return msgs


def fast_path_tool(router: ToolRouter, question: str, tools: list[dict]) -> dict | None:
    """The offered tool a request plainly asks for (the router is confident), called without the model's
    decision; None when there is none."""
    name = router.confident(question) if tools else None
    return next((t for t in tools if t["function"]["name"] == name), None)


def ground_calls(calls: list, tools: list[dict], messages: list[ChatMessage]) -> list | None:
    """The calls without arguments nobody said in the conversation (None: a required one was made up),
    and with the length of time the request names where an argument takes one (durations.py).

    The system prompt, where the tools' descriptions and their examples are, does not count.
    """
    from assistant.tools.durations import exact_durations
    from assistant.tools.grounding import ground_calls as ground

    grounded = ground(calls, tools, [m.content for m in messages if m.role != "system"])
    if grounded is None:
        return None
    request = last_user_text(messages)
    by_name = {t["function"]["name"]: t for t in tools}
    return [exact_durations(call, by_name.get(call.name), request) for call in grounded]


def _call_key(call: ToolCall) -> str:
    return call.name + json.dumps(call.arguments, sort_keys=True, default=str)
