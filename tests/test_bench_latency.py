"""`sori bench latency` measures the answer, not a filler: over scripted engines and a real recording.

The benchmark run here and the one through the real models (test_bench.py) are in `make test-bench`; the
filler's own tests here are in `make test`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from assistant import chain as chain_module
from assistant.cli.bench_voice import NEUTRAL_QUESTION, bench_latency
from assistant.speaker import ReplySpeaker
from assistant.tools.spec import tool
from tests.fakes import (
    RecordingSink,
    ScriptedLocalChat,
    ScriptedSTT,
    ToneTTS,
    ToolSet,
    Turn,
    make_assistant,
    speech_output,
)

FILLER = "One moment."
CHARS_PER_S = 40.0  # the filler lasts 11 / 40 = 0.275 s


@tool(examples=["what's the weather in Seoul"])
def get_weather(city: str) -> dict:
    """The weather in a city now (a slow service)."""
    time.sleep(0.3)
    return {"location": city, "conditions": "sunny"}


def test_a_filler_is_kept_apart_from_the_answers_first_audio():
    tts = ToneTTS(chars_per_s=CHARS_PER_S)
    speech = speech_output(tts, RecordingSink(realtime=True))
    speaker = ReplySpeaker(speech)
    speaker.aside(FILLER)
    speaker("It is sunny in Seoul.")
    speaker.finish("It is sunny in Seoul.")
    marks = speaker.marks
    assert tts.spoken == [FILLER, "It is sunny in Seoul."]
    assert marks["filler_audio"] < marks["first_audio"], marks
    # The answer cannot sound before the filler has been played (a generous bound below its length).
    assert marks["first_audio"] - marks["filler_audio"] >= 0.8 * tts.duration_s(FILLER), marks
    assert speech.first_audio_t == marks["filler_audio"]  # the voice was audible from the filler on


def test_without_a_filler_first_audio_is_the_answer(tmp_path):
    speech = speech_output(ToneTTS(chars_per_s=2000))
    speaker = ReplySpeaker(speech)
    speaker("Paris.")
    speaker.finish("Paris.")
    assert "first_audio" in speaker.marks and "filler_audio" not in speaker.marks


def _weather_chat() -> ScriptedLocalChat:
    def respond(request) -> Turn:
        if request.tools and not any(m.role == "tool" for m in request.messages):
            return Turn(calls=[("get_weather", {"city": "Seoul"})])
        return Turn("It is sunny in Seoul today.")

    return ScriptedLocalChat(respond)


@pytest.mark.bench  # the benchmark itself, a real recording in real time thrice: `make test-bench`
def test_bench_latency_counts_the_answer_not_the_filler(tmp_path, shared, monkeypatch):
    monkeypatch.setattr(chain_module, "FILLER_AFTER_S", 0.05)
    data = tmp_path / "shared"
    folder = data / "eval" / "utterances"
    folder.mkdir(parents=True)
    shutil.copy(shared / "eval" / "utterances" / "q08_weather.wav", folder)
    question = "What's the weather like in Seoul today?"
    (folder / "transcripts.tsv").write_text(f"file\ttext\nq08_weather.wav\t{question}\n")
    llm = _weather_chat()
    a = make_assistant(
        tmp_path,
        llm=llm,
        stt=ScriptedSTT(default=question),
        tts=ToneTTS(chars_per_s=CHARS_PER_S),
        tools=ToolSet(get_weather),
        settings={"plugins": {"fast_path": False}, "voice": {"filler": FILLER}},
    )
    result = bench_latency(a, runs=1, data=Path(data), limit=1)
    [row] = result["questions"]
    assert row["question"] == "q08_weather.wav" and row["transcript"] == question
    assert row["tool"] == "get_weather"
    # The filler played first; first audio is the answer's, after the filler's own length.
    assert row["filler_audio_ms"] is not None and row["first_audio_ms"] is not None, row
    assert row["first_audio_ms"] - row["filler_audio_ms"] >= 0.8 * 1000 * len(FILLER) / CHARS_PER_S, row
    assert row["transcript_ready_ms"] <= row["first_token_ms"] <= row["first_audio_ms"], row
    assert row["baseline_first_audio_ms"] is not None and row["baseline_first_audio_ms"] > 0
    assert result["p50_ms"] == row["first_audio_ms"] and result["fillers"] == 1 and result["runs"] == 1
    assert list(result["stages_ms"])[-1] == "first_audio_ms"
    # Both timed runs started from the same cache state: an unrelated exchange, not the question.
    neutral = [p for p in llm.prefilled if p.messages[-1].content == NEUTRAL_QUESTION]
    assert len(neutral) == 2


def test_a_filler_is_never_stored_as_part_of_the_reply():
    """Cut off after "One moment." and part of the answer: what was heard of the answer is kept, not the
    filler (the history would otherwise say Sori replied "One moment.")."""
    speech = speech_output()
    speech.say("One moment.", aside=True)
    speech.say("It is sunny in Lisbon today.")
    speech.finish()
    assert speech.played_text() == "It is sunny in Lisbon today."
