"""The tool chain's rules and the reply speaker, over scripted engines (tests/fakes.py): milliseconds each.

The same behaviour through the real models is in test_plugins_e2e.py, test_voice_loop.py and test_llm.py.
"""

from __future__ import annotations

import threading
import time

import pytest

from assistant import chain as chain_module
from assistant.chain import MAX_TOOL_STEPS, ToolChain
from assistant.speaker import ReplySpeaker
from assistant.tools import ToolExecutor
from assistant.tools.executor import CallRefused, confirmation
from assistant.tools.router import ToolRouter
from assistant.tools.spec import tool
from tests.fakes import (
    RecordingSink,
    ScriptedChat,
    ScriptedLocalChat,
    ToneTTS,
    ToolSet,
    Turn,
    make_assistant,
    make_settings,
    speech_output,
)

OPENED: list[str] = []


@tool(examples=["what's the weather in Paris"])
def get_weather(city: str) -> dict:
    """The weather in a city now."""
    return {"location": city, "conditions": "sunny", "temperature_c": 21}


@tool(confirm="Open the {door} door?", examples=["open the garage door"])
def open_door(door: str) -> str:
    """Open a door of the house."""
    OPENED.append(door)
    return f"opened {door}"


@tool
def count_sheep(number: int) -> int:
    """Count sheep, one by one."""
    if number < 0:
        raise ValueError("sheep cannot be negative")
    return number


@tool
def brew_tea(minutes: int) -> str:
    """Brew a pot of tea (slow)."""
    time.sleep(0.12)
    return "tea is ready"


TOOLS = ToolSet(get_weather, open_door, count_sheep, brew_tea)
WEATHER = get_weather.__sori_tool__.openai_schema()  # type: ignore[attr-defined]
SHEEP = count_sheep.__sori_tool__.openai_schema()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _no_doors_open():
    OPENED.clear()


def run_chain(llm, question: str, tools: list[dict], *, settings=None, **kwargs) -> ToolChain:
    """One turn of the chain alone: the system prompt, the question, the given tools."""
    from assistant.llm import ChatMessage

    settings = settings or make_settings({"plugins": {"fast_path": False}})
    chain = ToolChain(llm, ToolExecutor(TOOLS), settings, **kwargs)
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", question)]
    chain.run(question, messages, tools, lambda delta: None)
    return chain


# -- the chain's rules ------------------------------------------------------------------------------


def test_call_limit_then_the_last_result_is_said_plainly():
    cities = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Bern"]
    llm = ScriptedChat([Turn(calls=[("get_weather", {"city": c})]) for c in cities])
    chain = run_chain(llm, "Weather in " + ", ".join(cities) + "?", [WEATHER])
    assert len(llm.requests) == MAX_TOOL_STEPS
    # The last step must answer: calls stay offered (the prompt's cached prefix) but are not allowed.
    assert [r.allow_calls for r in llm.requests] == [True, True, True, True, False]
    assert [c["arguments"]["city"] for c in chain.calls] == cities[:4]
    # It wrote a call anyway: the last result is said instead of running a fifth tool.
    assert chain.text == "In Lima it is sunny, 21 °C."


def test_a_repeated_call_is_not_run_again_and_the_model_must_answer():
    llm = ScriptedChat(
        [
            Turn(calls=[("get_weather", {"city": "Paris"})]),
            Turn(calls=[("get_weather", {"city": "Paris"})]),
            Turn("It is sunny in Paris."),
        ]
    )
    chain = run_chain(llm, "What's the weather in Paris?", [WEATHER])
    assert len(chain.calls) == 1
    assert [r.allow_calls for r in llm.requests] == [True, True, False]
    assert chain.text == "It is sunny in Paris." and not chain.cancelled


def test_a_tool_error_goes_back_to_the_model_which_answers():
    llm = ScriptedChat([Turn(calls=[("count_sheep", {"number": -3})]), Turn("I could not count them.")])
    chain = run_chain(llm, "Count -3 sheep.", [SHEEP])
    (call,) = chain.calls
    assert not call["ok"] and call["error"] == "tool count_sheep failed: ValueError: sheep cannot be negative"
    told = llm.requests[1].messages[-1]
    assert told.role == "tool" and "sheep cannot be negative" in told.content
    assert chain.text == "I could not count them."


def test_failed_calls_beyond_the_retries_make_the_model_answer():
    llm = ScriptedChat([Turn(calls=[("count_sheep", {"number": -n})]) for n in (1, 2, 3)] + ["Sorry."])
    chain = run_chain(llm, "Count -1, -2 or -3 sheep.", [SHEEP])
    assert [c["ok"] for c in chain.calls] == [False, False, False]
    assert [r.allow_calls for r in llm.requests] == [True, True, True, False]
    assert chain.text == "Sorry."


def test_a_model_confused_by_the_tools_is_asked_again_without_them():
    llm = ScriptedChat([Turn(confused=True), Turn("Paris is the capital of France.")])
    chain = run_chain(llm, "What is the capital of France?", [WEATHER])
    assert [r.tool_names for r in llm.requests] == [["get_weather"], []]
    assert chain.text == "Paris is the capital of France." and chain.calls == []


def test_a_made_up_required_argument_is_not_run():
    # "The weather in a city now": a city copied from the tool's description, not said by the user.
    llm = ScriptedChat([Turn(calls=[("get_weather", {"city": "city now"})]), Turn("Which city?")])
    chain = run_chain(llm, "Is it going to rain?", [WEATHER])
    assert chain.calls == [] and llm.requests[1].tools is None
    assert chain.text == "Which city?"


def test_hooks_see_every_call_and_may_refuse_one():
    seen: list[tuple[str, bool]] = []

    def not_too_many(call) -> None:
        if call.values.get("number", 0) > 100:
            raise CallRefused("too many sheep to count")

    llm = ScriptedChat(
        [Turn(calls=[("count_sheep", {"number": 500})]), Turn(calls=[("count_sheep", {"number": 5})]), "5."]
    )
    chain = run_chain(
        llm,
        "Count 500 sheep, or 5.",
        [SHEEP],
        before_call=[not_too_many],
        after_call=[lambda call, result: seen.append((call.name, result.ok))],
    )
    assert [c["error"] for c in chain.calls] == ["too many sheep to count", None]
    assert seen == [("count_sheep", False), ("count_sheep", True)]


def test_fast_path_calls_the_tool_at_once_and_answers_from_a_template():
    llm = ScriptedLocalChat(forced={"get_weather": {"city": "Paris"}})
    chain = run_chain(
        llm,
        "What's the weather in Paris?",
        [WEATHER, SHEEP],
        settings=make_settings(),
        local=llm,
        router=lambda: ToolRouter(TOOLS.tools.values()),  # built when first needed, as the Assistant does
    )
    assert llm.forced_calls == [("get_weather", ["get_weather", "count_sheep"])]
    assert llm.requests == []  # no model call at all: the template answers
    assert chain.text == "In Paris it is sunny, 21 °C." and chain.stats.finish_reason == "fast_path"


def test_several_calls_in_one_answer_run_in_order_and_each_result_is_said():
    from assistant.llm.toolcall import ToolCall

    class TwoCities(ScriptedLocalChat):
        def forced_call(self, messages, tool, max_tokens=512, offered=None):
            super().forced_call(messages, tool, max_tokens, offered)
            return [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_weather", {"city": "Oslo"})]

    llm = TwoCities()
    chain = run_chain(
        llm,
        "What's the weather in Paris and in Oslo?",
        [WEATHER],
        settings=make_settings(),
        local=llm,
        router=ToolRouter(TOOLS.tools.values()),
    )
    assert [c["arguments"] for c in chain.calls] == [{"city": "Paris"}, {"city": "Oslo"}]
    assert chain.text == "In Paris it is sunny, 21 °C. In Oslo it is sunny, 21 °C."


def test_fast_path_with_the_model_phrasing_the_answer():
    llm = ScriptedLocalChat(["Sunny, 21 degrees."], forced={"get_weather": {"city": "Paris"}})
    settings = make_settings({"plugins": {"fast_path_reply": "model"}})
    chain = run_chain(
        llm, "What's the weather in Paris?", [WEATHER], settings=settings, local=llm, router=ToolRouter([])
    )
    # ToolRouter([]) is confident about nothing: the normal path, the model decides (and answers).
    assert llm.forced_calls == [] and chain.text == "Sunny, 21 degrees."
    llm = ScriptedLocalChat(["Sunny, 21 degrees."], forced={"get_weather": {"city": "Paris"}})
    router = ToolRouter(TOOLS.tools.values())
    chain = run_chain(
        llm, "What's the weather in Paris?", [WEATHER], settings=settings, local=llm, router=router
    )
    assert len(chain.calls) == 1 and llm.requests[0].messages[-1].role == "tool"
    assert chain.text == "Sunny, 21 degrees."


# -- through the Assistant: confirmation, cancelling, the filler -------------------------------------


@pytest.mark.parametrize(
    "answer,said",
    [
        (True, "opened garage"),
        (False, "All right, I did not do it."),
        (
            None,
            "I did not do it: it needs your yes, and there is no terminal to ask on here (use sori chat).",
        ),
    ],
    ids=["yes", "no", "nobody-to-ask"],
)
def test_confirmation_is_a_before_call_hook_asking_the_user(tmp_path, answer, said):
    llm = ScriptedLocalChat(forced={"open_door": {"door": "garage"}})
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS)
    asked: list[str] = []
    if answer is not None:
        a.confirm = lambda sentence: asked.append(sentence) or answer
    conv = a.store.new_conversation()
    reply = a.reply(conv.id, "Open the garage door.")
    assert asked == ([] if answer is None else ["Open the garage door?"])
    assert (["garage"] if answer else []) == OPENED
    (call,) = a.store.messages(conv.id)[-1].tool_calls
    assert call["confirmed"] is bool(answer) and call["ok"] is bool(answer)
    assert reply.text == said and reply.complete


def test_the_model_is_told_when_the_user_declines(tmp_path):
    llm = ScriptedLocalChat(
        [Turn(calls=[("open_door", {"door": "garage"})]), "All right, the garage stays shut."]
    )
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS, settings={"plugins": {"fast_path": False}})
    a.confirm = lambda sentence: False
    reply = a.reply(a.store.new_conversation().id, "Open the garage door.")
    assert llm.requests[1].messages[-1].content == "the user declined: Open the garage door?"
    assert reply.text == "All right, the garage stays shut." and OPENED == []


def test_a_cancelled_turn_is_stored_as_incomplete(tmp_path):
    words = "one two three four five six seven eight nine ten eleven twelve"
    a = make_assistant(tmp_path, llm=ScriptedLocalChat([words], delay_s=0.01), tools=TOOLS)
    cancel = threading.Event()
    shown: list[str] = []

    def on_delta(delta: str) -> None:
        shown.append(delta)
        if len(shown) == 3:
            cancel.set()

    conv = a.store.new_conversation()
    reply = a.reply(conv.id, "Count to twelve.", on_delta=on_delta, cancel=cancel)
    stored = a.store.messages(conv.id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert not reply.complete and not stored[1].complete
    assert stored[1].text == reply.text == "one two three"


def test_an_engine_failing_mid_answer_keeps_what_was_said(tmp_path):
    from assistant.errors import EngineError

    llm = ScriptedLocalChat([Turn("Paris is the", error=EngineError("chat server went away"))])
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS)
    conv = a.store.new_conversation()
    with pytest.raises(EngineError, match="went away"):
        a.reply(conv.id, "What is the capital of France?")
    stored = a.store.messages(conv.id)
    assert [(m.role, m.text, m.complete) for m in stored[1:]] == [("assistant", "Paris is the", False)]


def test_the_filler_is_said_once_while_a_slow_tool_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(chain_module, "FILLER_AFTER_S", 0.05)
    llm = ScriptedLocalChat(
        [Turn(calls=[("brew_tea", {"minutes": 3}), ("brew_tea", {"minutes": 4})]), "Your tea is ready."]
    )
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS, settings={"plugins": {"fast_path": False}})
    tts = ToneTTS(chars_per_s=2000)
    speech = speech_output(tts)
    reply = a.reply(a.store.new_conversation().id, "Brew tea for 3 or 4 minutes.", speech=speech)
    assert len(reply.tool_calls) == 2
    assert tts.spoken == ["One moment.", "Your tea is ready."]  # once, though both calls were slow
    assert reply.text == "Your tea is ready."  # the filler is not part of the answer


def test_the_time_a_user_takes_to_confirm_is_no_slow_tool(tmp_path, monkeypatch):
    monkeypatch.setattr(chain_module, "FILLER_AFTER_S", 0.05)
    llm = ScriptedLocalChat(forced={"open_door": {"door": "garage"}})
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS)
    a.confirm = lambda sentence: time.sleep(0.2) or True
    tts = ToneTTS(chars_per_s=2000)
    reply = a.reply(a.store.new_conversation().id, "Open the garage door.", speech=speech_output(tts))
    assert reply.text == "opened garage" and tts.spoken == ["opened garage"]


def test_a_server_model_takes_no_fast_path_and_is_not_warmed(tmp_path):
    llm = ScriptedChat(["Sunny."])
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS)
    assert a.local_llm is None
    reply = a.reply(a.store.new_conversation().id, "What's the weather in Paris?")
    assert reply.text == "Sunny." and reply.tool_calls == [] and llm.loaded
    local = ScriptedLocalChat(forced={"get_weather": {"city": "Paris"}})
    b = make_assistant(tmp_path / "b", llm=local, tools=TOOLS)
    assert b.local_llm is local
    b.reply(b.store.new_conversation().id, "What's the weather in Paris?")
    assert local.warmed and local.forced_calls


def test_the_prefill_gives_its_guess_first_then_readies_a_fast_path_call(tmp_path):
    llm = ScriptedLocalChat(forced={"get_weather": {"city": "Paris"}}, turn_end=lambda text: 0.9)
    a = make_assistant(tmp_path, llm=llm, tools=TOOLS)
    conv = a.store.new_conversation().id
    seen: list[tuple[float | None, list[str]]] = []
    guess = a.prefill(
        conv, "What's the weather in Paris?", on_guess=lambda p: seen.append((p, list(llm.prefilled_calls)))
    )
    assert guess == 0.9 and seen == [(0.9, [])]  # handed on before the call's opening is evaluated
    assert llm.prefilled_calls == ["get_weather"]
    a.prefill(conv, "Tell me a story about a fox.")  # no tool fits plainly: nothing more to evaluate
    assert llm.prefilled_calls == ["get_weather"]


@tool(patterns=[r"\bweather in (?P<city>[A-Z][a-z]+)\b"])
def city_weather(city: str) -> dict:
    """The weather in a city now."""
    return {"location": city, "conditions": "sunny"}


@tool(patterns=[r"^(?:add|take) a note(?: that)? (?P<text>.+?)[.!]?$"])
def jot(text: str) -> str:
    """Add a note."""
    return "noted"


@tool(patterns=[r"^count (?P<number>\d+) sheep in (?P<field>[A-Z][a-z]+)[.!]?$"])
def count_in(number: int, field: str) -> int:
    """Count sheep in a field."""
    return number


@tool(patterns=[r"^what day is it\b"])
def what_day() -> str:
    """Today's day of the week."""
    return "Monday"


def test_a_request_a_tool_takes_whole_is_whole_without_the_model(tmp_path):
    llm = ScriptedLocalChat(turn_end=lambda text: 0.02)
    a = make_assistant(tmp_path, llm=llm, tools=ToolSet(city_weather, jot))
    conv = a.store.new_conversation().id
    seen: list[float | None] = []
    # The place is in the words: the tool answers in a fixed sentence, so the model has nothing to do.
    assert a.prefill(conv, "What's the weather in Paris?", on_guess=seen.append) == 1.0
    assert seen == [1.0] and llm.prefilled == []
    # A statement whose values cannot go on (a number, a name) is whole too, unless the words are a fragment
    # of free text ("Add a note that", a note's whole pattern too); a question without its place: the
    # model's guess decides.
    c = make_assistant(tmp_path / "c", llm=llm, tools=ToolSet(count_in, what_day))
    assert c.prefill(c.store.new_conversation().id, "Count 12 sheep in Dover") == 1.0
    assert c.prefill(c.store.new_conversation().id, "What day is it?") == 1.0  # nothing to say: whole
    for words in ("Add a note that.", "What's the weather in?"):
        assert a.prefill(conv, words, on_guess=seen.append) == 0.02
    assert seen == [1.0, 0.02, 0.02] and len(llm.prefilled) == 2
    # When the model phrases the tool's result, its prompt is readied after the guess.
    model = {"plugins": {"fast_path_reply": "model"}}
    b = make_assistant(tmp_path / "b", llm=llm, tools=ToolSet(city_weather), settings=model)
    assert b.prefill(b.store.new_conversation().id, "What's the weather in Oslo?") == 1.0
    assert len(llm.prefilled) == 3


# -- the reply speaker -----------------------------------------------------------------------------


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within a generous bound"
        time.sleep(0.005)


def test_each_clause_is_spoken_as_soon_as_it_is_complete():
    tts = ToneTTS(chars_per_s=2000)
    shown: list[str] = []
    speaker = ReplySpeaker(speech_output(tts), shown.append)
    # After each delta: what the voice has been given, while the model is still writing.
    expected = [[], ["Hello there,"], ["Hello there,", "my friend."]]
    for delta, spoken in zip(["Hello there", ", my friend", ". How"], expected, strict=True):
        speaker(delta)
        _wait_for(lambda spoken=spoken: tts.spoken == spoken)
    speaker(" are you")
    speaker(" today")
    assert speaker.finish("".join(shown)) == "Hello there, my friend. How are you today"
    assert tts.spoken == ["Hello there,", "my friend.", "How are you today"]
    marks = speaker.marks
    assert marks["first_token"] <= marks["first_tts_chunk"] <= marks["first_audio"] <= marks["last_audio"]


def test_an_interrupted_reply_is_what_the_listener_heard(tmp_path):
    text = (
        "The first sentence is heard in full. The second one is cut off somewhere in the middle of it. "
        "A third one is never heard at all."
    )
    sink = RecordingSink(realtime=True)
    speech = speech_output(ToneTTS(chars_per_s=80), sink)
    a = make_assistant(tmp_path, llm=ScriptedLocalChat([text]), tools=TOOLS)

    def barge_in() -> None:
        _wait_for(lambda: speech.first_audio_t is not None)
        time.sleep(0.6)  # the first sentence lasts 0.45 s, the second 0.7 s more
        speech.stop()

    threading.Thread(target=barge_in, daemon=True).start()
    conv = a.store.new_conversation()
    reply = a.reply(conv.id, "Say three sentences.", speech=speech)
    heard = reply.text.split()
    assert heard[:7] == text.split()[:7] and 7 < len(heard) < len(text.split()) - 6, reply.text
    stored = a.store.messages(conv.id)[-1]
    assert stored.text == reply.text and not stored.complete and not reply.complete
    assert {"first_token_ms", "first_tts_chunk_ms", "first_audio_ms", "last_audio_ms"} <= set(
        reply.timings_ms
    )


def test_without_speech_the_speaker_only_shows_the_text():
    shown: list[str] = []
    speaker = ReplySpeaker(None, shown.append)
    speaker("Hi.")
    speaker.aside("One moment.")
    assert speaker.finish("Hi.") == "Hi." and shown == ["Hi."] and set(speaker.marks) == {"first_token"}


def test_the_confirmation_hook_alone():
    executor = ToolExecutor(TOOLS)
    hook = confirmation(lambda sentence: True)
    assert executor.call("open_door", {"door": "front"}, before=[hook]).confirmed is True
    # Without a hook that got a yes, a confirm=True tool never runs.
    unasked = executor.call("open_door", {"door": "back"})
    assert not unasked.ok and unasked.confirmed is False and OPENED == ["front"]
