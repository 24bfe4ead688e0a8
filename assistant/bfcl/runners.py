"""The two sides of `sori bench bfcl`: Sori with a case's functions as a plugin file, and the bare model.

Sori: the functions are written into a plugin folder and picked up like a file the user dropped there; the
question goes through the same path as a typed message (router, fast path, model, grammar) with tools in
dry-run mode. Bare: llama-cpp-python with the model's own chat template and the case's functions as OpenAI
tools, greedy like Sori's tool decisions; the calls it writes are parsed from its text.

Both sides stop at the same point: once an answer has PROSE_WORDS words of prose (calls are not prose).
Only the calls are scored, and a model that has written that much without calling is answering in words;
before this rule most of the bench's time went into answers nobody read (up to max_tokens on the bare side).
"""

from __future__ import annotations

import copy
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

from assistant.bfcl.data import Case
from assistant.bfcl.plugin import plugin_file
from assistant.bfcl.score import Call
from assistant.config import Settings
from assistant.core import Assistant
from assistant.store import ConversationStore

_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}
PROSE_WORDS = 40  # an answer is cut here on both sides: by then it is words, not a call
_CLOSED_CALL = re.compile(r"<tool_call>.*?</tool_call>|```.*?```", re.S)


def prose_full(text: str) -> bool:
    """Whether an answer so far has PROSE_WORDS words outside anything that is or may become a call."""
    return len(_prose(text).split()) >= PROSE_WORDS


def _prose(text: str) -> str:
    """The text without its tagged or fenced calls; a call still open, or a bare JSON answer, is no prose."""
    from assistant.llm.toolcall import TOOL_OPEN

    if text.lstrip().startswith(("{", "[")):
        return ""
    text = _CLOSED_CALL.sub(" ", text)
    for opening in (TOOL_OPEN, "```"):  # one still being written: what comes after it is no prose
        text = text.partition(opening)[0]
    return text


def openai_parameters(schema: Any) -> Any:
    """BFCL's parameter schema in JSON-schema words ("dict" -> "object", "float" -> "number", ...)."""
    if isinstance(schema, list):
        return [openai_parameters(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: openai_parameters(v) for k, v in schema.items()}
    if isinstance(out.get("type"), str):
        out["type"] = _JSON_TYPES.get(out["type"], out["type"])
    return out


class SoriRunner:
    """One Assistant for the whole run; each case's plugin file replaces the previous one."""

    def __init__(self, settings: Settings) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sori-bfcl-")
        root = Path(self._tmp.name)
        self.plugins = root / "plugins"
        self.plugins.mkdir(mode=0o700)
        settings = copy.deepcopy(settings)
        settings.plugins.dirs = [*settings.plugins.dirs, self.plugins]
        self.assistant = Assistant(settings, store=ConversationStore(root / "bench.sqlite3"))
        self.assistant.dry_run_tools = True
        self.name = self.assistant.llm.name
        self._file: Path | None = None
        self._cases = 0

    def close(self) -> None:
        self.assistant.close()
        self._tmp.cleanup()

    def load(self, case: Case) -> tuple[dict[str, str], list[str]]:
        """Write the case's plugin file and load it: (tool name -> BFCL name, functions skipped)."""
        written = plugin_file(case.functions, title=f"BFCL {case.id}")
        if self._file is not None:
            self._file.unlink(missing_ok=True)
        # A new name per case: the registry sees one file go and another come, as a user's edit would.
        self._cases += 1
        self._file = self.plugins / f"bfcl_case_{self._cases}.py"
        self._file.write_text(written.source, "utf-8")
        registry = self.assistant.tools
        registry.refresh()
        failed = [f"{e.message}" for e in registry.errors if e.file == self._file]
        return written.names, written.skipped + failed

    def calls(self, case: Case, names: dict[str, str]) -> list[Call]:
        store = self.assistant.store
        conv = store.new_conversation(title=f"bfcl {case.id}")
        said: list[str] = []
        enough = threading.Event()

        def on_delta(delta: str) -> None:  # prose only: a tagged call is held back until it is written
            said.append(delta)
            if prose_full("".join(said)):
                enough.set()

        reply = self.assistant.reply(conv.id, case.question, on_delta=on_delta, cancel=enough)
        return [{names.get(c["name"], c["name"]): c.get("arguments", {})} for c in reply.tool_calls]


class BareRunner:
    """The same GGUF file through llama-cpp-python alone: its chat template, the case's tools, greedy."""

    def __init__(self, model_path: Path, *, n_ctx: int, n_threads: int, max_tokens: int) -> None:
        import llama_cpp

        from assistant.llm.chatformat import GGUF_TEMPLATE, make_formatter

        self.llama = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=0, verbose=False
        )
        # The model's own template, rendered by llama-cpp-python's formatter as Sori's chat model does.
        self.format, _ = make_formatter(self.llama, GGUF_TEMPLATE, model_path.name)
        self.max_tokens = max_tokens

    def close(self) -> None:
        self.llama.close()

    def calls(self, case: Case) -> list[Call]:
        from assistant.llm.toolcall import parse_tool_calls

        tools = [
            {
                "type": "function",
                "function": {
                    "name": f["name"],
                    "description": f.get("description", ""),
                    "parameters": openai_parameters(f.get("parameters") or {"type": "object"}),
                },
            }
            for f in case.functions
        ]
        prompt = self.format(messages=case.messages, tools=tools)
        stream = self.llama.create_completion(
            prompt.prompt, max_tokens=self.max_tokens, temperature=0.0, stop=prompt.stop, stream=True
        )
        text = ""
        for chunk in stream:
            text += chunk["choices"][0]["text"]  # type: ignore[index]
            if prose_full(text):
                break  # leaving the loop ends the generation
        return [{c.name: c.arguments} for c in parse_tool_calls(text)]
