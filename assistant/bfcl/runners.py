"""The two sides of `sori bench bfcl`: Sori with a case's functions as a plugin file, and the bare model.

Sori: the functions are written into a plugin folder and picked up like a file the user dropped there; the
question goes through the same path as a typed message (router, fast path, model, grammar) with tools in
dry-run mode. Bare: llama-cpp-python with the model's own chat template and the case's functions as OpenAI
tools, greedy like Sori's tool decisions; the calls it writes are parsed from its text.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

from assistant.bfcl.data import Case
from assistant.bfcl.plugin import plugin_file
from assistant.bfcl.score import Call
from assistant.config import Settings
from assistant.core import Assistant
from assistant.store import ConversationStore

_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


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
        reply = self.assistant.reply(conv.id, case.question)
        return [{names.get(c["name"], c["name"]): c.get("arguments", {})} for c in reply.tool_calls]


class BareRunner:
    """The same GGUF file through llama-cpp-python alone: its chat template, the case's tools, greedy."""

    def __init__(self, model_path: Path, *, n_ctx: int, n_threads: int, max_tokens: int) -> None:
        import llama_cpp
        from llama_cpp import llama_chat_format as lcf

        self.llama = llama_cpp.Llama(
            model_path=str(model_path), n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=0, verbose=False
        )
        template = self.llama.metadata.get("tokenizer.chat_template", "")
        eos, bos = self.llama.token_eos(), self.llama.token_bos()
        self.format = lcf.Jinja2ChatFormatter(
            template=template,
            eos_token=self.llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=self.llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
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
        out = self.llama.create_completion(
            prompt.prompt, max_tokens=self.max_tokens, temperature=0.0, stop=prompt.stop
        )
        text = out["choices"][0]["text"]  # type: ignore[index]
        return [{c.name: c.arguments} for c in parse_tool_calls(text)]
