"""Hands-free conversations through the real voice loop: scripted audio in, a timestamping WAV sink out."""

from __future__ import annotations

import re
import subprocess
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.decode import decode_file
from assistant.audio.sources import ScriptedSource, ScriptItem, speech_bounds
from assistant.audio.timed_sink import TimestampedWavSink
from assistant.config import Settings, VoiceSettings
from assistant.core import Assistant
from assistant.events import BargeIn
from assistant.pipeline import VoiceLoop
from assistant.store import ConversationStore


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


@pytest.fixture
def assistant(small_settings, engines, tmp_path):
    a = Assistant(small_settings, store=ConversationStore(tmp_path / "c.sqlite3"))
    a._stt, a._llm, a._tts = engines
    return a


def run_loop(assistant, source, sink, voice: VoiceSettings | None = None, echo_gain: float | None = None):
    conv = assistant.store.new_conversation()
    events: list = []
    listeners = []
    if echo_gain is not None:
        # Sori's own voice leaks back into the "microphone", attenuated, as from a laptop speaker.
        listeners.append(lambda samples, t: source.add_echo(samples, t, echo_gain))
    loop = VoiceLoop(assistant, source, sink, conv.id, voice=voice, on_event=events.append,
                     echo_listeners=listeners)
    if echo_gain is not None:
        sink_stop = sink.stop

        def stop_and_cut() -> None:
            sink_stop()
            import time

            source.cut_echo(time.monotonic())

        sink.stop = stop_and_cut
    turns = loop.run()
    sink.close()
    return conv, turns, events, loop


def test_three_spoken_questions(assistant, shared, tmp_path):
    utter = shared / "eval" / "utterances"
    script = [
        ScriptItem(utter / "q01_capital.wav"),
        ScriptItem(shared / "audio" / "jfk.flac", gap_before_s=7),
        ScriptItem(utter / "q05_math.wav", gap_before_s=7),
    ]
    out = tmp_path / "conversation.wav"
    sink = TimestampedWavSink(out)
    # JFK pauses for almost a second between phrases: a speaker like him sets a longer end-of-turn silence.
    voice = VoiceSettings(end_silence_ms=1100)
    conv, turns, events, loop = run_loop(assistant, ScriptedSource(script, tail_silence_s=8), sink, voice)
    assert loop.errors == []
    transcripts = [norm(t.transcript) for t in turns]
    assert len(turns) == 3, transcripts
    assert "capital of france" in transcripts[0]
    assert "ask not what your country can do for you" in transcripts[1]
    assert "17 times 23" in transcripts[2] or "17 23" in transcripts[2]
    assert all(t.complete and t.reply for t in turns)
    # Three answers were played into the WAV, one after each question.
    answers = [c for c in sink.chunks]
    assert len({t.turn_id for t in turns}) == 3 and len(answers) >= 3
    with wave.open(str(out)) as w:
        assert w.getnframes() / w.getframerate() > 3.0
    messages = assistant.store.messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant"] * 3
    assert all(m.source == "spoken" for m in messages[::2])
    for turn in turns:  # every milestone was measured, in order
        lat = turn.latency_ms()
        assert 0 < lat["transcript_ready_ms"] <= lat["first_token_ms"] <= lat["first_audio_ms"] < lat["last_audio_ms"]
    assert all(m.timings_ms.get("first_audio_ms") for m in messages[1::2])
