"""The Session every front end adapts, over scripted engines (tests/fakes.py): turns, questions, timers,
plugins and listening. The same behaviour through each front end and the real models: test_frontends.py."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant import paths
from assistant.audio.sources import ScriptedSource
from assistant.events import (
    ConfirmationAnswered,
    ConfirmationAsked,
    ConversationStarted,
    ListeningStopped,
    PluginsChanged,
    ReplyDelta,
    ReplyDone,
    StateChanged,
    TimerRang,
    TurnStarted,
)
from assistant.services.timers import add_timer, pending_timers
from assistant.session import Busy, Session
from assistant.session_audio import chime
from tests.fakes import RecordingSink, ScriptedLocalChat, ToneTTS, make_assistant
from tests.plugin_files import GARAGE_PLUGIN


class Events(list):
    """What the session reported, in order; wait() polls for one that matches."""

    def __call__(self, event: object) -> None:
        self.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self if isinstance(e, kind)]

    def wait(self, match: Callable[[object], bool], timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((e for e in list(self) if match(e)), None)
            if found is not None:
                return found
            time.sleep(0.01)
        raise AssertionError(f"no such event within {timeout} s; got {[type(e).__name__ for e in self]}")


def open_session(tmp_path: Path, llm, *, tools: list[Path] | None = None, **kw) -> tuple[Session, Events]:
    assistant = make_assistant(tmp_path, llm=llm, tts=ToneTTS(chars_per_s=500), tools=tools)
    events = Events()
    session = Session(assistant, on_event=events, **kw)
    session.use_sink(RecordingSink())
    return session, events


@pytest.fixture
def garage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    plugins = tmp_path / "garage-plugins"
    plugins.mkdir(mode=0o700)
    (plugins / "garage.py").write_text(GARAGE_PLUGIN)
    door = tmp_path / "garage.txt"
    monkeypatch.setenv("SORI_TEST_GARAGE", str(door))
    return plugins, door


def test_a_typed_turn_starts_a_conversation_streams_and_is_stored(tmp_path):
    session, events = open_session(tmp_path, ScriptedLocalChat(["Paris is the capital of France."]))
    session.send("What is the capital of France?")
    assert session.wait(10)
    (started,) = events.of(ConversationStarted)
    assert session.conversation_id == started.conversation_id
    (turn,) = events.of(TurnStarted)
    assert (turn.conversation_id, turn.source) == (started.conversation_id, "typed")
    assert "".join(e.text for e in events.of(ReplyDelta)) == "Paris is the capital of France."
    (done,) = events.of(ReplyDone)
    assert done.turn_id == turn.turn_id and done.complete
    assert [e.state for e in events.of(StateChanged)] == ["thinking", "stopped"]
    stored = session.assistant.store.messages(turn.conversation_id)
    assert [(m.role, m.text) for m in stored] == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]
    assert session.sink.sink.chunks, "the answer was not spoken"
    session.close()


def test_one_answer_at_a_time_and_stop_keeps_what_was_said(tmp_path):
    words = " ".join(f"word{i}" for i in range(200))
    session, events = open_session(tmp_path, ScriptedLocalChat([words], delay_s=0.02), speak=False)
    session.send("Tell me a long story.")
    events.wait(lambda e: isinstance(e, ReplyDelta))
    assert session.busy
    with pytest.raises(Busy, match="stop it first"):
        session.send("Another question")
    session.interrupt()
    assert session.wait(10) and not session.busy
    (done,) = events.of(ReplyDone)
    assert not done.complete and 0 < len(done.text) < len(words)
    (question, answer) = session.assistant.store.messages(session.conversation_id)
    assert question.text == "Tell me a long story." and not answer.complete and answer.text == done.text
    session.close()


@pytest.mark.parametrize("how", ["button", "text", "timeout", "stopped"])
def test_a_tool_question_is_settled_once_by_whoever_answers(tmp_path, garage, how):
    plugins, door = garage
    llm = ScriptedLocalChat(forced={"open_garage": {}})
    session, events = open_session(tmp_path, llm, tools=[plugins], confirm_timeout_s=0.5, speak=False)
    session.send("Open the garage door")
    asked = events.wait(lambda e: isinstance(e, ConfirmationAsked))
    assert asked.sentence == "Open the garage door?" and session.asking
    if how == "button":
        assert session.confirmations.answer(asked.question_id, True, "button")
    elif how == "text":
        session.send("yes please")  # answers the question; no new turn
    elif how == "stopped":
        session.interrupt()
    assert session.wait(10)
    (answered,) = events.of(ConfirmationAnswered)
    allowed = how in ("button", "text")
    assert (answered.question_id, answered.allowed, answered.by) == (asked.question_id, allowed, how)
    assert door.exists() is allowed
    assert not session.confirmations.answer(asked.question_id, not allowed)  # the first answer stands
    assert len(events.of(TurnStarted)) == 1
    calls = session.assistant.store.messages(session.conversation_id)[-1].tool_calls
    assert [(c["name"], c["confirmed"]) for c in calls] == [("open_garage", allowed)]
    session.close()


def test_the_terminal_asker_is_asked_on_the_turn_thread(tmp_path, garage):
    plugins, door = garage
    asked: list[tuple[str, str]] = []

    def asker(question) -> bool:
        asked.append((question.sentence, threading.current_thread().name))
        return True

    session, events = open_session(
        tmp_path, ScriptedLocalChat(forced={"open_garage": {}}), tools=[plugins], asker=asker, speak=False
    )
    session.send("Open the garage door")
    assert session.wait(10)
    assert asked == [("Open the garage door?", "sori-turn")] and door.exists()
    assert [(e.allowed, e.by) for e in events.of(ConfirmationAnswered)] == [(True, "text")]
    session.close()


def test_a_timer_rings_with_a_chime_after_the_answer_being_spoken(tmp_path):
    session, events = open_session(tmp_path, ScriptedLocalChat(), chime=True)
    session.start()
    timer = add_timer(1, "tea")
    rang = events.wait(lambda e: isinstance(e, TimerRang), timeout=10)
    assert (rang.timer_id, rang.message, rang.late) == (timer.id, "Timer 'tea' is done.", False)
    sink = session.sink.sink
    deadline = time.monotonic() + 5
    while not sink.chunks and time.monotonic() < deadline:
        time.sleep(0.01)
    samples, rate = sink.chunks[-1]
    assert len(samples) == len(chime(rate)) and pending_timers() == []
    session.close()


def test_a_timer_due_while_sori_was_closed_rings_late_at_the_next_start(tmp_path):
    add_timer(1, "laundry")
    time.sleep(1.2)  # Sori is not running
    session, events = open_session(tmp_path, ScriptedLocalChat())
    session.start()
    rang = events.wait(lambda e: isinstance(e, TimerRang), timeout=10)
    assert rang.late and rang.message.startswith("Timer 'laundry' is done. (Late: it was due")
    session.close()
    assert session.timers is not None and not session.timers._thread  # stopped with the session


def test_a_plugin_file_dropped_in_is_callable_without_a_restart(tmp_path):
    folder = paths.plugins_dir()
    folder.mkdir(parents=True, mode=0o700)
    llm = ScriptedLocalChat(forced={"secret_word": {}})
    session, events = open_session(tmp_path, llm, speak=False)
    session.start()
    assert events.of(PluginsChanged)[0].first
    dropped = time.monotonic()
    (folder / "secret.py").write_text(
        "from assistant.tools import tool\n\n"
        "@tool(patterns=[r'^secret word'])\n"
        "def secret_word() -> str:\n"
        '    """The secret word."""\n'
        "    return 'pineapple'\n"
    )
    changed = events.wait(lambda e: isinstance(e, PluginsChanged) and "secret_word" in e.tools)
    print(f"\nplugin picked up {time.monotonic() - dropped:.2f} s after it was written")
    assert not changed.first and changed.errors == ()
    # In the background, the prompt the new tool will be offered in is prepared (evaluated, saved).
    assert session.preparing is not None
    session.preparing.join(10)
    assert any(tools and "secret_word" in [t["function"]["name"] for t in tools] for _, tools in llm.warmed)
    session.send("secret word please")
    assert session.wait(10)
    assert "pineapple" in events.of(ReplyDone)[-1].text
    session.close()
    assert not session.assistant.tools.watching and session.assistant.confirm is None


def test_typed_lines_join_the_voice_loop_and_its_turns_follow_the_typed_ones(tmp_path):
    session, events = open_session(tmp_path, ScriptedLocalChat(["First.", "Second.", "Third."]))
    session.send("one")
    assert session.wait(10)
    source = ScriptedSource([], tail_silence_s=math.inf)  # a microphone in a quiet room
    session.listen(source)
    session.send("two")
    second = events.wait(lambda e: isinstance(e, ReplyDone) and e.text == "Second.")
    starts = events.of(TurnStarted)
    assert [(t.text, t.source) for t in starts] == [("one", "typed"), ("two", "typed")]
    assert starts[1].turn_id > starts[0].turn_id and second.turn_id == starts[1].turn_id
    assert starts[1].conversation_id == starts[0].conversation_id
    session.stop_listening()
    assert session.wait_listening(10) and not session.listening
    assert events.wait(lambda e: isinstance(e, ListeningStopped)).error == ""
    session.send("three")  # a turn of its own again
    assert session.wait(10)
    assert events.of(TurnStarted)[-1].turn_id > second.turn_id
    texts = [m.text for m in session.assistant.store.messages(session.conversation_id)]
    assert texts == ["one", "First.", "two", "Second.", "three", "Third."]
    session.close()


def test_a_source_that_cannot_open_ends_listening_with_the_reason(tmp_path):
    from assistant.audio.sources import AudioInputUnavailable

    session, events = open_session(tmp_path, ScriptedLocalChat())

    def no_microphone():
        raise AudioInputUnavailable("no microphone found; plug one in")

    session.listen(no_microphone)
    stopped = events.wait(lambda e: isinstance(e, ListeningStopped))
    assert stopped.error == "no microphone found; plug one in" and not session.listening
    session.close()


def test_a_missing_microphone_is_reported_and_listening_goes_on(tmp_path):
    from assistant.events import MicrophoneChanged

    session, events = open_session(tmp_path, ScriptedLocalChat(["Typed answer."]))
    if session.audio.microphone_problem() is None:
        pytest.skip("this machine has a microphone")
    session.listen(session.audio.microphone())
    lost = events.wait(lambda e: isinstance(e, MicrophoneChanged))
    assert not lost.available and not lost.again and "microphone" in lost.message.lower()
    session.send("typed meanwhile")  # typed lines still join the conversation
    assert events.wait(lambda e: isinstance(e, ReplyDone)).text == "Typed answer."
    assert session.listening
    session.close()
