"""Hands-free conversations through the real voice loop: scripted audio in, a timestamping WAV sink out."""

from __future__ import annotations

import math
import subprocess
import threading
import time
import wave
from pathlib import Path

import jiwer
import pytest

from assistant.audio.decode import decode_file
from assistant.audio.sources import ScriptedSource, ScriptItem, speech_bounds
from assistant.audio.timed_sink import TimestampedWavSink
from assistant.config import VoiceSettings
from assistant.core import Assistant
from assistant.events import BargeIn, ConfirmationAnswered, ConfirmationAsked, ReplyDone, UserSpeechStarted
from assistant.pipeline import VoiceLoop
from assistant.store import ConversationStore
from tests.conftest import norm
from tests.plugin_files import GARAGE_PLUGIN

pytestmark = pytest.mark.realtime  # audio in and out at the speed of speech


def run_loop(assistant, source, sink, voice: VoiceSettings | None = None, then=None):
    """then(event, events): called with each event on the loop's threads (to speak the next question once
    an answer is done, or close a source that listens until closed)."""
    conv = assistant.store.new_conversation()
    events: list = []

    def on_event(event) -> None:
        events.append(event)
        if then is not None:
            then(event, events)

    loop = VoiceLoop(assistant, source, sink, conv.id, voice=voice, on_event=on_event)
    give_up = threading.Timer(300, source.close)  # an answer that never comes fails below, not by hanging
    give_up.start()
    try:
        turns = loop.run()
    finally:
        give_up.cancel()
    sink.close()
    return conv, turns, events, loop


def close_after_answer(source: ScriptedSource):
    """Listening goes on until an answer was given in full, however long the machine takes for it."""

    def then(event, events) -> None:
        if isinstance(event, ReplyDone) and event.complete:
            source.close()

    return then


def echoing_sink(path: Path, source: ScriptedSource, gain: float, **kw) -> TimestampedWavSink:
    """A sink whose playback leaks back into the source, attenuated, like a laptop speaker into its mic."""
    return TimestampedWavSink(
        path,
        on_play=lambda samples, rate, t: source.add_echo(samples, t, gain, sample_rate=rate),
        on_stop=source.cut_echo,
        **kw,
    )


def test_three_spoken_questions(assistant, shared, tmp_path):
    utter = shared / "eval" / "utterances"
    source = ScriptedSource([ScriptItem(utter / "q01_capital.wav")], tail_silence_s=math.inf)
    # Each next question comes two seconds after the last answer was spoken, however long that took.
    questions = [decode_file(shared / "audio" / "jfk.flac"), decode_file(utter / "q05_math.wav")]
    offset = [len(decode_file(utter / "q01_capital.wav"))]

    def ask_next(event, events) -> None:
        if not isinstance(event, ReplyDone):
            return
        if not questions:
            source.close()
            return
        # Placed on the source's timeline as a script places a clip after the one before (the same phase
        # within the 20 ms frames), so the detector and Whisper hear the very same frames on every run.
        audio = questions.pop(0)
        n = math.ceil((time.monotonic() + 2.0 - source.t0) * 16000)
        n += (offset[0] - n) % source.frame_samples
        source.add_echo(audio, source.t0 + n / 16000)
        offset[0] += len(audio)

    out = tmp_path / "conversation.wav"
    sink = TimestampedWavSink(out)
    # JFK pauses for almost a second between phrases: a speaker like him sets a longer end-of-turn silence.
    voice = VoiceSettings(end_silence_ms=1100)
    conv, turns, events, loop = run_loop(assistant, source, sink, voice, ask_next)
    assert loop.errors == []
    transcripts = [norm(t.transcript) for t in turns]
    assert len(turns) == 3, transcripts
    assert "capital of france" in transcripts[0]
    assert "ask not what your country can do for you" in transcripts[1]
    assert "17 times 23" in transcripts[2] or "17 23" in transcripts[2]
    assert all(t.complete and t.reply for t in turns), [
        (t.transcript, t.reply, t.barged_in_at) for t in turns
    ]
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
        order = ["transcript_ready_ms", "first_token_ms", "first_audio_ms", "last_audio_ms"]
        assert lat[order[0]] > 0 and [lat[k] for k in order] == sorted(lat[k] for k in order), lat
    assert all(m.timings_ms.get("first_audio_ms") for m in messages[1::2])


def test_barge_in_stops_playback_and_answers_the_new_question(assistant, shared, tmp_path):
    utter = shared / "eval" / "utterances"
    source = ScriptedSource([ScriptItem(utter / "q07_joke.wav")], tail_silence_s=math.inf)
    interruption = decode_file(utter / "q01_capital.wav")
    lead_in, _ = speech_bounds(interruption)
    onset: list[float] = []
    played = [0.0]

    def on_play(samples, rate, t):
        seconds = len(samples) / rate
        # One second into Sori's voice, the user asks something else (counted in audio, not in clock
        # time: a busy machine may leave gaps between the first clauses).
        if not onset and played[0] + seconds > 1.0:
            at = t + 1.0 - played[0]
            source.add_echo(interruption, at)
            onset.append(at + lead_in)
        played[0] += seconds

    sink = TimestampedWavSink(tmp_path / "out.wav", on_play=on_play)
    conv, turns, events, loop = run_loop(assistant, source, sink, then=close_after_answer(source))
    assert len(turns) == 2, [t.transcript for t in turns]
    first, second = turns
    assert first.barged_in_at is not None and not first.complete
    assert any(isinstance(e, BargeIn) and e.turn_id == first.turn_id for e in events)
    # Playback stopped soon after the user's voice began (the sink's own timestamps).
    cut = [c for c in sink.chunks if c.stopped]
    assert cut, "no chunk was cut short"
    stop_ms = (cut[0].t_end - onset[0]) * 1000
    assert 0 < stop_ms < 400, stop_ms
    # The next answer is about the new question; the old one is stored as heard, marked cut off.
    assert "capital of france" in norm(second.transcript) and "paris" in second.reply.lower()
    messages = assistant.store.messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant"] * 2
    assert not messages[1].complete and messages[1].text
    assert len(messages[1].text) < 400
    assert messages[3].complete


def _sox(path: Path, *args: str) -> Path:
    subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", str(path), *args], check=True)
    return path


@pytest.mark.parametrize(
    "name,effect",
    [
        ("silence", ["trim", "0", "10"]),
        ("white_noise", ["synth", "10", "whitenoise", "vol", "0.3"]),
        ("brown_noise", ["synth", "10", "brownnoise", "vol", "0.3"]),
        ("burst", ["synth", "0.15", "whitenoise", "vol", "0.8", "pad", "1", "2"]),
    ],
)
def test_no_turn_from_silence_or_noise(assistant, tmp_path, name, effect):
    path = _sox(tmp_path / f"{name}.wav", *effect)
    source = ScriptedSource([ScriptItem(path)], realtime=False)
    conv, turns, events, loop = run_loop(
        assistant, source, TimestampedWavSink(tmp_path / "o.wav", realtime=False)
    )
    assert turns == [] and not [e for e in events if isinstance(e, UserSpeechStarted)]
    assert assistant.store.messages(conv.id) == []


@pytest.mark.parametrize("barge_in", [False, True])
def test_own_voice_echo_neither_starts_a_turn_nor_cuts_sori_off(assistant, shared, tmp_path, barge_in):
    joke = shared / "eval" / "utterances" / "q07_joke.wav"
    source = ScriptedSource([ScriptItem(joke)], tail_silence_s=math.inf)
    sink = echoing_sink(tmp_path / "out.wav", source, gain=0.3)
    voice = VoiceSettings(barge_in=barge_in)
    conv, turns, events, loop = run_loop(assistant, source, sink, voice, close_after_answer(source))
    assert len(turns) == 1, [t.transcript for t in turns]
    assert turns[0].complete and turns[0].barged_in_at is None
    assert sink.seconds > 2.0 and not any(c.stopped for c in sink.chunks)
    assert [m.role for m in assistant.store.messages(conv.id)] == ["user", "assistant"]


def test_sixty_second_monologue_is_transcribed_completely(assistant, shared, tmp_path):
    sentences = [s.strip() for s in (shared / "eval" / "harvard.txt").read_text().splitlines() if s.strip()]
    text = " ".join(sentences * 2)
    path = tmp_path / "monologue.wav"
    # Another voice than Sori's: espeak-ng, slowed to about a minute, resampled to 16 kHz.
    raw = tmp_path / "raw.wav"
    subprocess.run(["espeak-ng", "-s", "170", "-g", "8", "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", str(path)], check=True)
    seconds = len(decode_file(path)) / 16000
    assert 50 < seconds < 80, seconds
    source = ScriptedSource([ScriptItem(path)], realtime=False, tail_silence_s=3)
    conv, turns, events, loop = run_loop(
        assistant, source, TimestampedWavSink(tmp_path / "o.wav", realtime=False)
    )
    heard = " ".join(t.transcript for t in turns)
    loop_words = jiwer.process_words(norm(text), norm(heard))
    print(f"\n60 s monologue: {len(turns)} turn(s), WER {loop_words.wer:.3f}")
    # No words lost to turn splitting: no more words missing than when the whole file is transcribed in one
    # go. Substitutions are compared loosely: Whisper cuts a minute into 30 s windows, and where a window
    # ends depends on the few hundred ms of silence around the speech, so a word or two near a cut differ
    # ("Four hours of steady" / "for our extended") whoever splits the turns.
    direct = jiwer.process_words(norm(text), norm(assistant.transcribe(path).text))
    assert loop_words.deletions <= direct.deletions + 2, (loop_words.deletions, direct.deletions, heard)
    assert loop_words.wer <= direct.wer + 0.05, (loop_words.wer, direct.wer, heard)
    assert loop_words.wer < 0.15, heard
    spoken = [m for m in assistant.store.messages(conv.id) if m.role == "user"]
    assert len(spoken) == len(turns) >= 1


@pytest.mark.parametrize(
    "answer,barge_in", [("Yes, please.", True), ("No.", False), (None, True)], ids=["yes", "no", "silence"]
)
def test_a_tool_asks_aloud_and_the_spoken_answer_decides(
    small_settings, engines, tmp_path, monkeypatch, answer, barge_in
):
    plugins = tmp_path / "plugins"
    plugins.mkdir(mode=0o700)
    (plugins / "garage.py").write_text(GARAGE_PLUGIN)
    garage = tmp_path / "garage.txt"
    monkeypatch.setenv("SORI_TEST_GARAGE", str(garage))
    settings = small_settings.model_copy(deep=True)
    settings.plugins.dirs = [str(plugins)]
    assistant = Assistant(settings, store=ConversationStore(tmp_path / "c.sqlite3"))
    assistant._stt, assistant._llm, assistant._tts = engines
    # The user's request and answer, in another voice than Sori's (espeak-ng).
    for name, text in (("ask", "Open the garage door."), ("answer", answer or "")):
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(tmp_path / f"{name}.wav"), text], check=True)
    reply = decode_file(tmp_path / "answer.wav")
    # Listening goes on until the answer is done, however long the machine takes.
    source = ScriptedSource([ScriptItem(tmp_path / "ask.wav")], tail_silence_s=math.inf)
    events: list = []

    played_until: list[float] = []
    answered_at: list[float] = []

    def answer_when_asked() -> None:
        # The user answers 0.8 s after Sori has finished saying the question.
        while not played_until or time.monotonic() < played_until[-1] + 0.8:
            time.sleep(0.05)
        answered_at.append(time.monotonic())
        source.add_echo(reply, answered_at[0])

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, ConfirmationAsked) and answer:
            threading.Thread(target=answer_when_asked, daemon=True).start()
        if isinstance(event, ReplyDone):
            source.close()

    def on_play(samples, rate, t) -> None:
        if any(isinstance(e, ConfirmationAsked) for e in events):
            played_until.append(t + len(samples) / rate)

    sink = TimestampedWavSink(tmp_path / "out.wav", on_play=on_play)
    conv = assistant.store.new_conversation()
    voice = VoiceSettings(barge_in=barge_in, confirm_timeout_s=3)
    loop = VoiceLoop(assistant, source, sink, conv.id, voice=voice, on_event=on_event)
    assistant.confirm = loop.confirm
    turns = loop.run()
    sink.close()
    assert loop.errors == []
    asked = [e for e in events if isinstance(e, ConfirmationAsked)]
    answered = [e for e in events if isinstance(e, ConfirmationAnswered)]
    assert [e.sentence for e in asked] == ["Open the garage door?"]
    allowed = bool(answer and answer.startswith("Yes"))
    assert len(answered) == 1 and answered[0].allowed is allowed, answered
    assert (answered[0].text == "") is (answer is None)  # silence: no answer in time is a no
    # Only the request is a turn: the answer to the question neither interrupted it nor started another.
    assert len(turns) == 1 and turns[0].complete and turns[0].barged_in_at is None
    assert garage.exists() is allowed
    messages = assistant.store.messages(conv.id)
    assert [m.role for m in messages] == ["user", "assistant"]
    calls = messages[1].tool_calls
    assert [(c["name"], c["confirmed"]) for c in calls] == [("open_garage", allowed)], calls
    # The question was spoken, and its answer came after it (the sink's own timestamps).
    assert played_until and (answer is None or played_until[0] < answered_at[0])
    assert ("did not" in messages[1].text) is not allowed, messages[1].text
