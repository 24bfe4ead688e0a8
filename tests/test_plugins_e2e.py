"""Plugins through the whole assistant: typed and spoken requests, hot reload, misbehaving tools, consent."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from assistant.audio.sources import ScriptedSource, ScriptItem
from assistant.audio.timed_sink import TimestampedWavSink
from assistant.config import Settings
from assistant.core import Assistant
from assistant.pipeline import VoiceLoop
from assistant.services.timers import TimerService
from assistant.store import ConversationStore

DATA = Path(__file__).parent / "data" / "plugins"
ROLL = "Roll two six-sided dice for me."


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    folder.chmod(0o755)
    return folder


@pytest.fixture
def tool_assistant(small_settings, engines, tmp_path, plugin_dir):
    data = small_settings.model_dump()
    # A result cut at 1,000 characters, not 4,000: the cut is the same code, and every later turn of the
    # conversation evaluates the cut result again on one thread.
    data["plugins"] = {"dirs": [str(plugin_dir)], "timeout_s": 2.0, "max_result_chars": 1000}
    a = Assistant(Settings.model_validate(data), store=ConversationStore(tmp_path / "c.sqlite3"))
    a._stt, a._llm, a._tts = engines
    yield a
    a.tools.stop_watching()


def _install(name: str, folder: Path) -> Path:
    target = folder / name
    shutil.copy(DATA / name, target)
    target.chmod(0o644)
    return target


def _wait(condition, seconds: float = 2.0) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "not within the time a user would wait"
        time.sleep(0.05)
    return time.monotonic() - start


def called(reply, name: str) -> list[dict]:
    return [c for c in reply.tool_calls if c["name"] == name]


def test_plugin_added_edited_and_deleted_while_running(tool_assistant, plugin_dir):
    a = tool_assistant
    conv = a.store.new_conversation()
    a.tools.start_watching(interval=0.2)
    assert not called(a.reply(conv.id, ROLL), "roll_dice")

    path = _install("roll_dice.py", plugin_dir)
    _wait(lambda: "roll_dice" in a.tools.tools)
    reply = a.reply(conv.id, ROLL)
    (call,) = called(reply, "roll_dice")
    assert call["ok"] and call["arguments"] == {"sides": 6, "count": 2}
    assert len(json.loads(call["content"])) == 2

    path.write_text(
        path.read_text().replace(
            "return [random.randint(1, sides) for _ in range(count)]", "return [42] * count"
        )
    )
    _wait(lambda: a.executor.call("roll_dice", {"count": 1}).content == "[42]")
    reply = a.reply(conv.id, ROLL)
    assert called(reply, "roll_dice")[0]["content"] == "[42, 42]" and "42" in reply.text

    path.unlink()
    _wait(lambda: "roll_dice" not in a.tools.tools)
    assert not called(a.reply(conv.id, ROLL), "roll_dice")
    stored = [m for m in a.store.messages(conv.id) if m.role == "assistant"]
    assert [bool(m.tool_calls) for m in stored] == [False, True, True, False]


def test_misbehaving_plugins_do_not_break_the_good_one(tool_assistant, plugin_dir):
    a = tool_assistant
    for name in ("roll_dice.py", "broken_syntax.py", "raises_at_import.py", "misbehaving.py"):
        _install(name, plugin_dir)
    a.tools.load()
    errors = {Path(e.file).name: str(e) for e in a.tools.errors}
    assert set(errors) == {"broken_syntax.py", "raises_at_import.py"}
    assert "broken_syntax.py:4" in errors["broken_syntax.py"] and "SyntaxError" in errors["broken_syntax.py"]
    assert (
        "raises_at_import.py:1" in errors["raises_at_import.py"]
        and "cannot start" in errors["raises_at_import.py"]
    )

    conv = a.store.new_conversation()
    start = time.monotonic()
    (hang,) = called(a.reply(conv.id, "Hang forever now."), "hang_forever")
    assert not hang["ok"] and "did not finish within 2" in hang["error"]
    assert time.monotonic() - start < 30  # abandoned, not waited for
    (bomb,) = called(a.reply(conv.id, "Explode the bomb now."), "explode_bomb")
    assert not bomb["ok"] and "the bomb exploded" in bomb["error"]
    (odd,) = called(a.reply(conv.id, "Make an unserializable object."), "unserializable_object")
    assert not odd["ok"] and "object" in odd["error"]
    (roll,) = called(a.reply(conv.id, ROLL), "roll_dice")
    assert roll["ok"]
    # Last: every later turn would evaluate its 1,000 characters again.
    (flood,) = called(a.reply(conv.id, "Flood me with text."), "flood_text")
    assert flood["ok"] and len(flood["content"]) <= a.settings.plugins.max_result_chars
    assert "truncated" in flood["content"]
    assert len([m for m in a.store.messages(conv.id) if m.role == "assistant" and m.tool_calls]) == 5


def test_confirmation_is_required_and_a_no_is_respected(tool_assistant, plugin_dir):
    a = tool_assistant
    _install("misbehaving.py", plugin_dir)
    conv = a.store.new_conversation()
    asked: list[str] = []
    a.confirm = lambda sentence: asked.append(sentence) or False
    reply = a.reply(conv.id, "Wipe the folder called junk.")
    (call,) = called(reply, "wipe_folder")
    assert asked and asked[0].startswith("Delete everything in") and asked[0].endswith("?")
    assert call["confirmed"] is False and not call["ok"] and "declined" in call["content"]
    assert "wiped" not in reply.text
    a.confirm = lambda sentence: True
    (call,) = called(a.reply(conv.id, "Wipe the folder called junk."), "wipe_folder")
    assert call["confirmed"] is True and call["ok"] and "wiped" in call["content"]


def test_ask_json_lists_the_readme_plugin(sori, plugin_dir):
    _install("roll_dice.py", plugin_dir)
    r = sori("--plugins-dir", str(plugin_dir), "ask", "--json", ROLL)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [c["name"] for c in out["tool_calls"]] == ["roll_dice"] and out["tool_calls"][0]["ok"]


def test_world_writable_plugins_are_refused(sori, plugin_dir):
    _install("roll_dice.py", plugin_dir)
    plugin_dir.chmod(0o777)
    r = sori("--plugins-dir", str(plugin_dir), "plugins", "list")
    assert "writable by other users" in r.stdout + r.stderr and "chmod go-w" in r.stdout + r.stderr
    assert "roll_dice  " not in r.stdout


def test_spoken_timer_fires_and_is_announced(tool_assistant, tmp_path):
    a = tool_assistant
    raw, speech = tmp_path / "raw.wav", tmp_path / "timer.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), "Set a timer for five seconds."], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", str(speech), "pad", "0.3", "1"], check=True)
    source = ScriptedSource([ScriptItem(speech)], tail_silence_s=math.inf)  # listening until stopped
    sink = TimestampedWavSink(tmp_path / "out.wav")
    conv = a.store.new_conversation()
    loop = VoiceLoop(a, source, sink, conv.id)
    timers = TimerService(on_due=lambda timer: loop.announce(timer.message()))
    timers.start()

    def stop_after_announcement() -> None:
        deadline = time.monotonic() + 120
        while not loop.announcements and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(4)  # let it be spoken
        loop.stop()

    threading.Thread(target=stop_after_announcement, daemon=True).start()
    try:
        turns = loop.run()
    finally:
        timers.stop()
        sink.close()
    assert "timer" in turns[0].transcript.lower()
    messages = a.store.messages(conv.id)
    (call,) = [c for m in messages for c in m.tool_calls if c["name"] == "set_timer"]
    assert call["ok"] and call["arguments"]["duration_seconds"] == 5
    assert len(loop.announcements) == 1 and "done" in loop.announcements[0][1].lower()
    rang_at = loop.announcements[0][0]
    assert any(c.t_start >= rang_at for c in sink.chunks), "the announcement was not spoken"
    assert messages[-1].role == "assistant" and "done" in messages[-1].text.lower()


def test_the_choice_to_use_a_tool_is_not_sampled(small_settings, engines, tmp_path):
    # Answers are sampled (temperature 0.7), but whether to call an offered tool is the model's likeliest
    # choice ([llm] tool_temperature = 0): sampled, the same request ran its tool once and not the next time.
    data = small_settings.model_dump()
    data["llm"].update(temperature=0.7, seed=-1)
    a = Assistant(Settings.model_validate(data), store=ConversationStore(tmp_path / "c.sqlite3"))
    stt, llm, tts = engines
    used: list[tuple[float, bool]] = []

    class Recording:  # the real model, noting the temperature and whether tools were offered
        def __getattr__(self, name: str):
            return getattr(llm, name)

        def generate(self, messages, **kwargs):
            used.append((kwargs["temperature"], bool(kwargs.get("tools"))))
            return llm.generate(messages, **kwargs)

    a._stt, a._llm, a._tts = stt, Recording(), tts
    question = "How do I set a timer on an Android phone?"  # offered set_timer; not the fast path
    assert "set_timer" in [t["function"]["name"] for t in a.tool_schemas(question)]
    a.reply(a.store.new_conversation().id, question)
    a.reply(a.store.new_conversation().id, "Tell me a joke about computers")  # no tool offered
    assert used[0] == (0.0, True) and used[-1] == (0.7, False)
