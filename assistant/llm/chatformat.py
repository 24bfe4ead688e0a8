"""Chat formats for llama.cpp models: the llama-cpp-python formatter that turns messages into a prompt,
picked by llm.chat_format (the chat template stored in the GGUF file, or a format llama-cpp-python names),
and, for formats without tool support, the tools and calls written into the messages themselves. Used by
LlamaCppChat (llamacpp.py) when it loads a model and whenever it builds a prompt.
"""

from __future__ import annotations

import json
from typing import Any

from assistant.errors import ConfigError
from assistant.llm.toolcall import TOOL_CLOSE, TOOL_OPEN

GGUF_TEMPLATE = "gguf"  # chat_format value meaning: the chat template stored in the GGUF file


def make_formatter(llama: Any, chat_format: str, model_name: str) -> tuple[Any, bool]:
    """The formatter for `chat_format` on this loaded model, and whether its template renders tools."""
    from llama_cpp import llama_chat_format as lcf

    if chat_format == GGUF_TEMPLATE:
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(
                f"chat model {model_name} has no chat template inside; set llm.chat_format in the config "
                "(for example chatml, llama-3, mistral-instruct, gemma)"
            )
        eos, bos = llama.token_eos(), llama.token_bos()
        formatter = lcf.Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        return formatter, "tools" in template
    # llama-cpp-python names its formatters format_<name> ("llama-3" -> format_llama3).
    named = getattr(lcf, "format_" + chat_format.replace("-", "").replace(".", ""), None) or getattr(
        lcf, "format_" + chat_format.replace("-", "_"), None
    )
    if named is None:
        raise ConfigError(
            f"llm.chat_format '{chat_format}' is not a chat format llama-cpp-python knows; use "
            f"'{GGUF_TEMPLATE}' for the model's own template, or one of: chatml, llama-3, llama-2, "
            "mistral-instruct, gemma, phi-3, zephyr, vicuna"
        )
    return named, False  # named formats render no tool list: with_tool_prompt() describes the tools


def with_tool_prompt(messages: list[dict], tools: list[dict]) -> list[dict]:
    """For chat formats without tool support: describe the tools and the call format in the system prompt."""
    lines = "\n".join(json.dumps(t["function"]) for t in tools)
    note = (
        "\n\nYou can call these tools:\n" + lines + "\nTo call one, reply with only "
        f'{TOOL_OPEN}{{"name": <tool name>, "arguments": {{...}}}}{TOOL_CLOSE}. '
        "Tool results come back in a message from the tool."
    )
    out = [dict(m) for m in messages]
    if out and out[0]["role"] == "system":
        out[0]["content"] += note
    else:
        out.insert(0, {"role": "system", "content": note.strip()})
    for m in out:  # formats without tool roles: show calls and results as plain text
        if m.get("tool_calls"):
            calls = [c["function"] for c in m.pop("tool_calls")]
            m["content"] = (
                m["content"] + " " + " ".join(TOOL_OPEN + json.dumps(c) + TOOL_CLOSE for c in calls)
            ).strip()
        if m["role"] == "tool":
            m["role"], m["content"] = "user", f"Tool result: {m['content']}"
    return out
