"""The chat model: real answers from the small model, prefix reuse, context limits, cancellation."""

from __future__ import annotations

import json
import threading

import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import ConfigError, EngineError, InputError, ModelError
from assistant.llm import ChatMessage, ChatModel, LocalChatModel
from assistant.store import ConversationStore
from tests.conftest import assert_clean_error


def test_ask_capital(sori):
    r = sori("ask", "What is the capital of France?")
    assert r.returncode == 0, r.stderr
    assert "paris" in r.stdout.lower()


def test_ask_spoken_question_json(sori, shared):
    r = sori("ask", "--json", "--audio-in", str(shared / "eval" / "utterances" / "q01_capital.wav"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"transcript", "answer", "tool_calls", "timings_ms"}
    assert "capital of france" in out["transcript"].lower()
    assert "paris" in out["answer"].lower()
    assert out["tool_calls"] == []
    assert {"stt_ms", "first_token_ms", "llm_total_ms", "total_ms"} <= set(out["timings_ms"])
    assert all(v > 0 for v in out["timings_ms"].values())


def test_typed_json_has_null_transcript(sori):
    r = sori("ask", "--json", "Say hello.")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["transcript"] is None and out["answer"]


def test_follow_up_reuses_prefix(assistant):
    conv = assistant.store.new_conversation()
    first = assistant.reply(conv.id, "Name one primary colour.")
    second = assistant.reply(conv.id, "Name another one.")
    s1, s2 = first.stats, second.stats
    assert s2.prompt_tokens > s1.prompt_tokens
    # The system prompt, the first question and answer come from the cache: only the new turn is evaluated.
    assert s2.prompt_tokens_evaluated < s2.prompt_tokens - s1.prompt_tokens + 10
    assert s2.prompt_tokens_evaluated < s2.prompt_tokens / 2
    # Both turns and both answers are in the store, committed.
    roles = [m.role for m in assistant.store.messages(conv.id)]
    assert roles == ["user", "assistant", "user", "assistant"]


def test_conversation_longer_than_context_still_answers(small_settings, engines, tmp_path):
    from assistant.llm.llamacpp import LlamaCppChat

    llm = engines[1]
    small = LlamaCppChat(llm.model, context_size=512, n_threads=llm.n_threads, seed=7)
    history = [ChatMessage("system", "You are terse.")]
    for i in range(40):
        history.append(ChatMessage("user", f"Remember the number {i} and the word apple{i}, please."))
        history.append(ChatMessage("assistant", f"Noted: {i}, apple{i}."))
    history.append(ChatMessage("user", "What is the capital of France?"))
    gen = small.generate(history, max_tokens=32, temperature=0.0)
    text = "".join(gen)
    assert "paris" in text.lower()
    assert gen.stats.dropped_messages > 40
    assert gen.stats.prompt_tokens <= 512


def test_cancel_stops_between_tokens(assistant):
    conv = assistant.store.new_conversation()
    cancel = threading.Event()
    deltas: list[str] = []

    def on_delta(d: str) -> None:
        deltas.append(d)
        if len(deltas) == 5:
            cancel.set()

    reply = assistant.reply(
        conv.id, "Count from one to one hundred in words.", on_delta=on_delta, cancel=cancel
    )
    assert len(deltas) == 5
    assert not reply.complete
    stored = assistant.store.messages(conv.id)
    assert stored[-1].role == "assistant" and not stored[-1].complete
    assert stored[-1].text == "".join(deltas).strip()


def test_blank_and_huge_questions(sori, assistant):
    assert_clean_error(sori("ask", "   "), "empty")
    huge = "why" + "y" * 119_997
    assert_clean_error(sori("ask", huge), "120,000 characters")
    conv = assistant.store.new_conversation()
    with pytest.raises(InputError):
        assistant.reply(conv.id, "x1 " * 6000)  # fits the char limit, not the context window
    # Nothing half-written: the store still works and holds no orphan question.
    assert assistant.store.messages(conv.id) == []
    assert "paris" in assistant.reply(conv.id, "What is the capital of France?").text.lower()


def test_truncated_gguf(sori, engines, tmp_path):
    src = engines[1].model.path
    cut = tmp_path / "cut.gguf"
    with src.open("rb") as f:
        cut.write_bytes(f.read(5_000_000))
    r = sori("--llm-model", str(cut), "ask", "hi")
    assert_clean_error(r, "cut.gguf", "truncated")


def test_not_a_gguf(sori, tmp_path):
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model" * 100)
    assert_clean_error(sori("--llm-model", str(fake), "ask", "hi"), "not a gguf")


def test_the_configured_threads_evaluate_prompts_too(engines):
    # n_threads = 1 (the test config): a prompt is evaluated on one thread as well, not on every core.
    _, llm, _ = engines
    llm.load()
    params = llm._llama.context_params
    assert llm.n_threads == 1 and (params.n_threads, params.n_threads_batch) == (1, 1)


def test_unknown_chat_format(engines):
    from assistant.llm.llamacpp import LlamaCppChat

    llm = LlamaCppChat(engines[1].model, chat_format="no-such-format")
    with pytest.raises(ConfigError, match="no-such-format"):
        llm.load()


def test_server_unreachable_is_clear(small_settings, tmp_path):
    s = Settings.model_validate(
        {**small_settings.model_dump(), "llm": {"server_url": "http://127.0.0.1:9/v1"}}
    )
    a = Assistant(s, store=ConversationStore(tmp_path / "c.sqlite3"))
    with pytest.raises(EngineError, match="127.0.0.1:9"):
        a.llm.load()


def test_only_the_local_model_has_the_local_abilities(small_settings, tmp_path):
    # warm, prefill, fit and forced_call (the fast path) exist where Sori runs the model itself.
    local = Assistant(small_settings, store=ConversationStore(tmp_path / "a.sqlite3"))
    assert isinstance(local.llm, LocalChatModel) and local.local_llm is local.llm
    s = Settings.model_validate(
        {**small_settings.model_dump(), "llm": {"server_url": "http://127.0.0.1:9/v1"}}
    )
    server = Assistant(s, store=ConversationStore(tmp_path / "b.sqlite3"))
    assert isinstance(server.llm, ChatModel) and not isinstance(server.llm, LocalChatModel)
    assert server.local_llm is None
    server.prefill(server.store.new_conversation().id, "Hello?")  # a no-op for a server, not a request


def test_unknown_model_id(small_settings):
    from assistant import models

    with pytest.raises(ModelError, match="unknown model"):
        models.resolve("llm", "no-such-model", "small")


@pytest.mark.parametrize("with_params", [False, True])
def test_grammar_allows_only_declared_arguments(engines, with_params):
    """A tool without parameters gets {} (the grammar once let the model invent a schema as arguments)."""
    from assistant.tools import tool

    if with_params:

        @tool
        def open_garage(door: str = "main") -> str:
            """Open a garage door.

            Args:
                door: which door
            """
            return door

    else:

        @tool
        def open_garage() -> str:
            """Open the garage door."""
            return "open"

    schema = open_garage.__sori_tool__.openai_schema()
    messages = [ChatMessage("user", "Open the garage door, please.")]
    calls = engines[1].forced_call(messages, schema, 64)
    assert len(calls) == 1 and calls[0].name == "open_garage"
    assert set(calls[0].arguments) <= ({"door"} if with_params else set()), calls[0].arguments


def test_a_fast_path_call_starts_from_the_prompt_the_prefill_readied(assistant):
    """Real small model: after the speculative prefill of a plain tool request, the call evaluates only the
    last token of its prompt before writing the arguments (not the call's opening, ~15 tokens)."""
    from assistant.tools.said import said_arguments

    # Typed in lower case: the place is not taken as said, so the model writes the call.
    question = "what's the weather like in oslo today?"
    conv = assistant.store.new_conversation().id
    llm = assistant.local_llm
    llm.load()
    tools = assistant.tool_schemas(question)
    tool = next(t for t in tools if t["function"]["name"] == assistant.router().confident(question))
    assert said_arguments(assistant.router(), tool, question) is None
    messages = [*assistant.history(conv), ChatMessage("user", question)]
    llama = llm._llama
    evaluated: list[int] = []
    real_eval = llama.eval

    def counting(tokens):
        evaluated.append(len(tokens))
        return real_eval(tokens)

    llama.eval = counting
    try:
        assistant.prefill(conv, question)
        evaluated.clear()
        calls = llm.forced_call(messages, tool, assistant.settings.llm.max_tokens, offered=tools)
    finally:
        del llama.eval
    assert calls and calls[0].name == "get_weather" and "oslo" in str(calls[0].arguments).lower()
    assert evaluated and evaluated[0] == 1, evaluated


def test_prefill_tells_whether_the_users_words_sound_finished(engines):
    # Read from the logits right after the user's words, on the way through the prefill.
    llm = engines[1]

    def turn_end(text: str) -> float | None:
        messages = [ChatMessage("system", "You are a helpful voice assistant."), ChatMessage("user", text)]
        return llm.prefill(messages, 64).turn_end

    whole = ("How many legs does a spider have?", "What is the capital of France?")
    finished = {t: turn_end(t) for t in whole}
    # Whisper's question mark after a pause mid-sentence does not make the words finished.
    unfinished = {t: turn_end(t) for t in ("Can you", "So I was thinking, and", "What is seven times?")}
    assert all(p is not None and p > 0.3 for p in finished.values()), finished
    assert all(p is not None and p < 0.01 for p in unfinished.values()), unfinished
    # The same words again (already in the cache) still get their guess.
    again = turn_end("What is the capital of France?")
    assert again == pytest.approx(finished["What is the capital of France?"], abs=0.02)


TIDES = '''
from assistant.tools import tool


@tool
def tide_times(harbour: str) -> str:
    """{doc}"""
    return "High tide at 14:05."
'''


def test_tool_prompt_prefix_saved_reused_and_rebuilt_when_a_plugin_changes(small_settings, engines, tmp_path):
    from assistant import paths
    from assistant.config import apply_overrides
    from assistant.llm.llamacpp import LlamaCppChat

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "tides.py").write_text(TIDES.format(doc="When high and low tide are at a harbour."))
    settings = apply_overrides(small_settings, **{"plugins.dirs": [str(plugins)]})
    cache = paths.data_dir() / "cache"
    question = "When is high tide at Brest harbour?"

    def prefix_state(assistant: Assistant, llm: LlamaCppChat) -> tuple[str, list[str]]:
        tools = assistant.tool_schemas(question)
        assert "tide_times" in [t["function"]["name"] for t in tools]
        state = llm.warm(settings.llm.system_prompt, tools, cache)
        return state, sorted(p.name for p in cache.glob("prefix-*.kv"))

    a = Assistant(settings, store=ConversationStore(tmp_path / "c.sqlite3"))
    a._llm = llm = LlamaCppChat(engines[1].model, n_threads=1, seed=7)
    state, saved = prefix_state(a, llm)
    assert state == "evaluated" and len(saved) == 1  # the system prompt with the tool's schema, on disk
    conv = a.store.new_conversation()
    first = a.reply(conv.id, question)
    second = a.reply(conv.id, "When is low tide at Roscoff harbour?")  # the same tools offered
    # The second turn evaluates only itself: the prefix and the first exchange come from the cache.
    assert second.stats.prompt_tokens_evaluated < second.stats.prompt_tokens - first.stats.prompt_tokens + 10
    llm.close()

    # A later start loads the saved prefix instead of evaluating it.
    again = LlamaCppChat(engines[1].model, n_threads=1, seed=7)
    assert prefix_state(Assistant(settings), again) == ("loaded", saved)
    # The plugin file changes: its schema, so the prefix, is another one: evaluated once, saved beside.
    (plugins / "tides.py").write_text(TIDES.format(doc="The times of high and low tide at a harbour."))
    state, now = prefix_state(Assistant(settings), again)
    assert state == "evaluated" and len(now) == 2 and set(saved) < set(now)
    assert prefix_state(Assistant(settings), again) == ("cached", now)  # still in the KV cache
    again.close()
