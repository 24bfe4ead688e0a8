"""Tool calls a local llama.cpp model writes under a grammar, once it has decided to call (decide.py): the
calls' JSON generated under a JSON-schema grammar built from the tools' schemas (a known tool name,
arguments matching its schema), written as a JSON list so that one answer can make several calls, and the
model's own P(another call) after each to tell whether the list goes on. LlamaCppChat (llamacpp.py) owns
one CallWriter and uses it under its lock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from assistant.llm.kvcache import probability, reusable, rewind
from assistant.llm.toolcall import TOOL_CLOSE, TOOL_OPEN, ToolCall, call_schema, parse_tool_calls

MAX_CALLS = 5  # tool calls the model may write in one answer
# P(another call) after a call, against the list's end, at which another is written. On BFCL's development
# cases single requests stayed below 0.001, and requests for several things went on at 0.00086 to 0.9999:
# the probability cannot tell "one more" from "done" on its own, so the call written is judged too (`adds`).
MORE_CALLS_THRESHOLD = 0.001

Adds = Callable[[ToolCall, list[ToolCall]], bool]  # another call, the calls before it: keep it?
Left = Callable[[list[ToolCall]], bool]  # the calls so far: does the request still list something undone?


class CallWriter:
    """Writes one model's calls: the vocabulary it needs is scanned when the model loads, and the last
    grammar is kept, as building one from a schema takes a while and the same tools come again."""

    def __init__(self) -> None:
        self._grammar: Any = None
        self._grammar_key = ""
        self._comma_ids: list[int] = []  # tokens after a call in a list: another call, or the list's end
        self._list_end_ids: list[int] = []

    def scan(self, texts: list[str]) -> None:
        """Find the tokens that follow a call in a list, in the vocabulary (`texts`, one per token id)."""
        texts = [t.lstrip(" \u0120") for t in texts]  # "Ġ": a leading space in GPT-2 style vocabularies
        self._comma_ids = [i for i, t in enumerate(texts) if t.startswith(",")]
        self._list_end_ids = [i for i, t in enumerate(texts) if t.startswith("]")]

    def write(
        self,
        llama: Any,
        prompt: list[int],
        preamble: str,
        tools: list[dict],
        adds: Adds | None = None,
        left: Left | None = None,
    ) -> list:
        """Generate calls' JSON under a grammar: a known tool name, arguments matching its schema.

        With one tool the name is not the model's to choose: it goes into the prompt with the call's
        opening, and only the arguments are generated (a dozen tokens fewer: about half a second here).
        The calls are written as a JSON list, so that the model can ask for several ("the weather in Paris
        and in Oslo"): after a tagged call it all but never writes a second tag, and it crams both places
        into one argument; in a list it writes one place per call. After each call, P(a comma rather than
        the list's end) at least MORE_CALLS_THRESHOLD means another is written, up to MAX_CALLS, and so does
        `left` saying the request lists a value no call has used yet; it is kept when `adds` says it does
        more than the ones before it (and is not one of them).
        """
        item_open = _item_open(tools)
        closing = "}" if item_open else ""
        schema = call_schema(tools)
        if item_open:
            schema = schema["properties"]["arguments"]
        grammar = self._grammar_for(schema)
        calls: list = []
        head = preamble + self.opening(tools)
        while len(calls) < MAX_CALLS:
            prompt = prompt + llama.tokenize(head.encode("utf-8"), add_bos=False, special=True)
            # A light repetition penalty: under the grammar a small model can loop ("7 * 7 * 7 * ...") until
            # max_tokens, seconds of a turn for nothing.
            out = llama.create_completion(
                prompt=prompt, max_tokens=384, temperature=0.0, repeat_penalty=1.1, grammar=grammar
            )
            text = out["choices"][0]["text"] + closing  # type: ignore[index]
            found = parse_tool_calls(TOOL_OPEN + item_open + text + TOOL_CLOSE)
            if not found or found[0] in calls or (calls and adds is not None and not adds(found[0], calls)):
                break
            calls.append(found[0])
            prompt = prompt + llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
            more = self._next_in_list(llama, prompt) >= MORE_CALLS_THRESHOLD
            if not more and not (left is not None and left(calls)):
                break
            head = ", " + item_open
        return calls

    @staticmethod
    def opening(tools: list[dict]) -> str:
        """What write() puts after the prompt before the model writes: the call list's opening, and with
        one tool its name (the prompt a fast-path call can be prefilled with)."""
        return TOOL_OPEN + "\n[" + _item_open(tools)

    def _grammar_for(self, schema: dict) -> Any:
        from llama_cpp import LlamaGrammar

        key = json.dumps(schema, sort_keys=True)
        if self._grammar_key != key:
            self._grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            self._grammar_key = key
        return self._grammar

    def _next_in_list(self, llama: Any, tokens: list[int]) -> float:
        """After a call in the list: P(a comma) / P(a comma or the list's end), evaluating only what the KV
        cache lacks."""
        reused = reusable(llama, tokens)
        rewind(llama, reused)
        llama.eval(tokens[reused:])
        comma = probability(llama, self._comma_ids)
        end = probability(llama, self._list_end_ids)
        return comma / (comma + end) if comma + end > 0 else 0.0


def _item_open(tools: list[dict]) -> str:
    if len(tools) != 1:
        return ""
    return '{"name": ' + json.dumps(tools[0]["function"]["name"]) + ', "arguments": '
