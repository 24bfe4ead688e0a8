"""ToolExecutor: run one tool call for the model, and turn every way it can go wrong into a ToolResult."""

from __future__ import annotations

import asyncio
import collections
import json
import re
import threading
import time
from collections.abc import Callable
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


class _Failed(Exception):
    """Inside the worker: the tool ran but its result cannot be given to the model."""


class ToolExecutor:
    """Calls tools from a registry with validation, confirmation, a timeout and a size limit."""

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
        self.confirm = confirm
        self.history: collections.deque[ToolResult] = collections.deque(maxlen=200)  # recent calls

    def call(self, name: str, arguments: dict[str, Any] | str, *, dry_run: bool = False) -> ToolResult:
        """Run tool `name`; never raises for tool problems: they come back as ok=False with the reason."""
        t0 = time.perf_counter()
        waited = 0.0  # time spent waiting for the user, left out of duration_ms
        raw = arguments
        if isinstance(arguments, str):  # models often send the arguments as JSON text
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                return self._done(name, {"_raw": raw}, t0, 0.0, error=f"arguments are not valid JSON ({exc})")
        args = arguments if isinstance(arguments, dict) else {"_raw": arguments}
        confirmed: bool | None = None
        try:
            spec = self.registry.get(name)
            values = spec.validate(arguments)  # type: ignore[arg-type]
        except (ToolNotFound, ToolArgumentError) as exc:
            return self._done(name, args, t0, waited, error=str(exc))
        if dry_run:
            return self._done(name, args, t0, waited, content='{"dry_run": true}', dry_run=True)
        if spec.confirm:
            sentence = spec.confirmation(values)
            nobody = f"{NOT_ASKED} and there is no terminal to ask on (ask in sori chat): {sentence}"
            if self.confirm is None:
                return self._done(name, args, t0, waited, confirmed=False, error=nobody)
            asked = time.perf_counter()
            try:
                confirmed = bool(self.confirm(sentence))
            except Cancelled:
                raise
            except NobodyToAsk:  # not confirmed, but nobody was asked, so nobody declined
                return self._done(name, args, t0, waited, confirmed=False, error=nobody)
            except Exception as exc:  # e.g. EOF at the prompt: treat as a no
                confirmed = False
                sentence = f"{sentence} (the question failed: {type(exc).__name__})"
            waited = time.perf_counter() - asked
            if not confirmed:
                return self._done(
                    name, args, t0, waited, confirmed=False, error=f"the user declined: {sentence}"
                )
        timeout = spec.timeout if spec.timeout is not None else self.default_timeout
        try:
            content = self._run(spec, values, timeout)
        except _Failed as exc:
            return self._done(name, args, t0, waited, confirmed=confirmed, error=str(exc))
        return self._done(name, args, t0, waited, confirmed=confirmed, content=self._cut(content))

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
