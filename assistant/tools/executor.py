"""ToolExecutor: run one tool call for the model, and turn every way it can go wrong into a ToolResult."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from pydantic_core import PydanticSerializationError, to_jsonable_python

from assistant.errors import Cancelled
from assistant.text.utf8 import scrub

from .errors import NobodyToAsk, ToolArgumentError, ToolNotFound
from .loader import ToolRegistry
from .spec import ToolSpec


@dataclass
class ToolResult:
    """One tool call: what was asked, and what the model is told back (`content`)."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    content: str  # the JSON text given to the model, or the error message
    error: str | None = None
    duration_ms: float = 0.0  # validation and running; not the time the user took to confirm
    confirmed: bool | None = None  # None: the tool did not ask
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (arguments the model sent that are not JSON become strings)."""
        data = asdict(self)
        data["arguments"] = to_jsonable_python(self.arguments, fallback=repr)
        return data


NOT_ASKED = "not run: it needs the user's confirmation"


class CallRefused(Exception):
    """Raised by a before-call hook: the call is not run, and the model is told `reason`."""

    def __init__(self, reason: str, *, confirmed: bool | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.confirmed = confirmed  # False: the user was asked, or could not be, and did not say yes


@dataclass
class PendingCall:
    """A call whose arguments passed validation, about to run: what before-call hooks decide on."""

    spec: ToolSpec
    arguments: dict[str, Any]  # as the model sent them
    values: dict[str, Any]  # validated, defaults filled in
    confirmed: bool | None = None  # set True by the hook that got the user's yes

    @property
    def name(self) -> str:
        return self.spec.name


# Runs before a validated call: returns to let it run, raises CallRefused to stop it (Cancelled ends the
# turn). Time spent in hooks (a user answering) is left out of the call's duration.
BeforeCall = Callable[[PendingCall], None]


def nobody_to_ask(sentence: str) -> str:
    return f"{NOT_ASKED} and there is no terminal to ask on (ask in sori chat): {sentence}"


def confirmation(ask: Callable[[str], bool] | None) -> BeforeCall:
    """The before-call hook that asks before a confirm=True tool runs.

    ask(sentence) -> True to go ahead; it may raise NobodyToAsk (no terminal, no window), which is a no
    without anyone having declined. A question that fails otherwise (EOF at the prompt) is a no too.
    """

    def hook(call: PendingCall) -> None:
        if not call.spec.confirm or call.confirmed:  # an earlier hook already has the user's yes
            return
        sentence = call.spec.confirmation(call.values)
        if ask is None:
            raise CallRefused(nobody_to_ask(sentence), confirmed=False)
        try:
            confirmed = bool(ask(sentence))
        except Cancelled:
            raise
        except NobodyToAsk:  # not confirmed, but nobody was asked, so nobody declined
            raise CallRefused(nobody_to_ask(sentence), confirmed=False) from None
        except Exception as exc:  # e.g. EOF at the prompt: treat as a no
            confirmed = False
            sentence = f"{sentence} (the question failed: {type(exc).__name__})"
        if not confirmed:
            raise CallRefused(f"the user declined: {sentence}", confirmed=False)
        call.confirmed = True

    return hook


class _Failed(Exception):
    """Inside the worker: the tool ran but its result cannot be given to the model."""


class ToolExecutor:
    """Calls tools from a registry with validation, before-call hooks, a timeout and a size limit.

    A confirm=True tool runs only when a hook confirmed it: `confirm` (ask(sentence) -> bool) installs
    the confirmation hook for every call; callers may pass their own hooks per call.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        default_timeout: float = 15.0,
        max_result_chars: int = 4000,
        confirm: Callable[[str], bool] | None = None,
    ) -> None:
        self.registry = registry
        self.default_timeout = default_timeout
        self.max_result_chars = max_result_chars
        self.before: list[BeforeCall] = [confirmation(confirm)] if confirm is not None else []
        self.history: collections.deque[ToolResult] = collections.deque(maxlen=200)  # recent calls

    def call(
        self,
        name: str,
        arguments: dict[str, Any] | str,
        *,
        dry_run: bool = False,
        before: Sequence[BeforeCall] = (),
    ) -> ToolResult:
        """Run tool `name`; never raises for tool problems: they come back as ok=False with the reason.

        Arguments are validated first; a dry run stops there. Then the hooks (`before`, then the
        executor's own) run in order, and the tool runs unless one refused.
        """
        t0 = time.perf_counter()
        raw = arguments
        if isinstance(arguments, str):  # models often send the arguments as JSON text
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return self._done(name, {"_raw": raw}, t0, 0.0, error=f"arguments are not valid JSON ({exc})")
        args = arguments if isinstance(arguments, dict) else {"_raw": arguments}
        try:
            spec = self.registry.get(name)
            values = spec.validate(arguments)  # type: ignore[arg-type]
        except (ToolNotFound, ToolArgumentError) as exc:
            return self._done(name, args, t0, 0.0, error=str(exc))
        if dry_run:
            return self._done(name, args, t0, 0.0, content='{"dry_run": true}', dry_run=True)
        pending = PendingCall(spec, args, values)
        asked = time.perf_counter()
        try:
            for hook in (*before, *self.before):
                hook(pending)
        except CallRefused as exc:
            waited = time.perf_counter() - asked
            return self._done(name, args, t0, waited, confirmed=exc.confirmed, error=exc.reason)
        waited = time.perf_counter() - asked
        if spec.confirm and pending.confirmed is not True:  # no hook asked: never run it unasked
            error = nobody_to_ask(spec.confirmation(values))
            return self._done(name, args, t0, waited, confirmed=False, error=error)
        timeout = spec.timeout if spec.timeout is not None else self.default_timeout
        try:
            content = self._run(spec, values, timeout)
        except _Failed as exc:
            return self._done(name, args, t0, waited, confirmed=pending.confirmed, error=str(exc))
        return self._done(name, args, t0, waited, confirmed=pending.confirmed, content=self._cut(content))

    def _run(self, spec: ToolSpec, values: dict[str, Any], timeout: float) -> str:
        """Run in a daemon thread, so a hung tool is abandoned after `timeout` and the caller goes on."""
        box: dict[str, Any] = {}
        done = threading.Event()

        def work() -> None:
            try:
                value = asyncio.run(_bounded(spec, values, timeout)) if spec.is_async else spec.fn(**values)
                box["content"] = _to_json(spec.name, value)
            except _Failed as exc:
                box["error"] = str(exc)
            except BaseException as exc:  # SystemExit too: a tool must not end Sori
                text = " ".join(str(exc).split())
                box["error"] = f"tool {spec.name} failed: {type(exc).__name__}" + (
                    f": {text}" if text else ""
                )
            finally:
                done.set()

        threading.Thread(target=work, name=f"sori-tool-{spec.name}", daemon=True).start()
        if not done.wait(timeout):
            raise _Failed(f"tool {spec.name} did not finish within {timeout:g} s")
        if "error" in box:
            raise _Failed(self._cut(box["error"]))
        return box["content"]

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_result_chars:
            return text
        marker = f"… [truncated: {len(text):,} characters in all]"
        return text[: max(0, self.max_result_chars - len(marker))] + marker

    def _done(
        self,
        name: str,
        args: dict[str, Any],
        t0: float,
        waited: float,
        *,
        content: str | None = None,
        error: str | None = None,
        confirmed: bool | None = None,
        dry_run: bool = False,
    ) -> ToolResult:
        # A plugin's text (a file name read from disk, say) may hold bytes that are not UTF-8: they would
        # fail the store and the tokenizer, so they become U+FFFD here, where every result comes through.
        error = scrub(error) if error is not None else None
        result = ToolResult(
            name=name,
            arguments=args,
            ok=error is None,
            content=scrub(content) if error is None and content is not None else (error or ""),
            error=error,
            duration_ms=(time.perf_counter() - t0 - waited) * 1000,
            confirmed=confirmed,
            dry_run=dry_run,
        )
        self.history.append(result)
        return result


async def _bounded(spec: ToolSpec, values: dict[str, Any], timeout: float) -> Any:
    # Cancelling the coroutine at the deadline lets its thread end too (a sync tool's cannot).
    try:
        async with asyncio.timeout(timeout) as scope:
            return await spec.fn(**values)
    except TimeoutError:
        if scope.expired():  # the deadline, not a TimeoutError the tool raised itself
            raise _Failed(f"tool {spec.name} did not finish within {timeout:g} s") from None
        raise


def _to_json(name: str, value: Any) -> str:
    try:
        plain = to_jsonable_python(value)
        return json.dumps(plain, ensure_ascii=False)
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        # Name the type that failed, which may sit deep inside a list or dict.
        inner = re.search(r"<class '([^']+)'>", str(exc))
        kind = inner.group(1) if inner else f"{type(value).__module__}.{type(value).__qualname__}"
        kind = kind.removeprefix("builtins.")
        raise _Failed(
            f"tool {name} returned a value of type {kind}, which cannot be turned into JSON; return text, "
            f"numbers, lists, dicts or pydantic models ({type(exc).__name__})"
        ) from None
