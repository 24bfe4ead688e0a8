"""A chat backend for any OpenAI-compatible server (llama.cpp server, vLLM, Ollama)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence

import httpx

from assistant.errors import EngineError
from assistant.llm import ChatMessage, Generation


class OpenAICompatChat:
    """Streams /chat/completions over server-sent events; closing the stream cancels the request.

    A plain ChatModel: the server owns its prompt cache, so there is nothing to warm, prefill or fit here,
    and no grammar to force a call (no fast path).
    """

    def __init__(
        self, base_url: str, *, model: str = "", api_key: str = "", timeout_s: float = 120.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model or self.base_url
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=5.0))

    def load(self) -> None:
        """Check the server answers, so a wrong URL is reported before the first question."""
        try:
            self._client.get(f"{self.base_url}/models").raise_for_status()
        except httpx.HTTPError as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> EngineError:
        return EngineError(
            f"chat server {self.base_url} failed: {exc or type(exc).__name__}; start the server or clear "
            "llm.server_url in the config to run the model locally"
        )

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        cancel: threading.Event | None = None,
        tools: list[dict] | None = None,
        allow_calls: bool = True,
    ) -> Generation:
        gen = Generation()
        body: dict = {
            "model": self.model or "default",
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto" if allow_calls else "none"
        body["messages"] = [_wire(m) for m in messages]
        gen.stream(self._run(gen, body), cancel)
        return gen

    def _run(self, gen: Generation, body: dict) -> Iterator[str]:
        pending: dict[int, dict[str, str]] = {}
        try:
            with self._client.stream("POST", f"{self.base_url}/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise EngineError(
                        f"chat server {self.base_url} answered HTTP {response.status_code}: "
                        f"{response.text[:200].strip()}; check llm.server_model and the server's log"
                    )
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if usage := chunk.get("usage"):
                        gen.stats.prompt_tokens = usage.get("prompt_tokens", 0)
                        gen.stats.prompt_tokens_evaluated = gen.stats.prompt_tokens
                    for choice in chunk.get("choices") or []:
                        if choice.get("finish_reason"):
                            gen.stats.finish_reason = choice["finish_reason"]
                        delta = choice.get("delta") or {}
                        for call in delta.get("tool_calls") or []:  # streamed in pieces, by index
                            slot = pending.setdefault(call.get("index", 0), {"name": "", "arguments": ""})
                            fn = call.get("function") or {}
                            slot["name"] += fn.get("name") or ""
                            slot["arguments"] += fn.get("arguments") or ""
                        yield delta.get("content") or ""
        except httpx.HTTPError as exc:
            raise self._error(exc) from None
        except json.JSONDecodeError:
            raise EngineError(
                f"chat server {self.base_url} sent a malformed stream; is it OpenAI-compatible?"
            ) from None
        finally:
            gen.tool_calls = [c for slot in pending.values() if (c := _call(slot))]


def _wire(message: ChatMessage) -> dict:
    """A message as OpenAI's API expects it (tool calls carry JSON-encoded arguments and ids)."""
    out = message.to_dict()
    if out.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {
                    "name": c["function"]["name"],
                    "arguments": json.dumps(c["function"]["arguments"]),
                },
            }
            for i, c in enumerate(out["tool_calls"])
        ]
    return out


def _call(slot: dict[str, str]):
    from assistant.llm.toolcall import ToolCall

    try:
        args = json.loads(slot["arguments"] or "{}")
    except json.JSONDecodeError:
        return None
    return ToolCall(slot["name"], args) if slot["name"] and isinstance(args, dict) else None
