"""A spoken turn through the window: a recorded question in, the transcript bubble, the answer spoken out."""

from __future__ import annotations

import wave

import pytest
from PySide6.QtCore import Qt

from tests.ui_support import ANSWER_TIMEOUT_MS, open_window

pytestmark = pytest.mark.slow


def test_spoken_turn_shows_the_transcript_and_speaks_the_answer(
    qtbot, small_settings, engines, shared, tmp_path
):
    question = shared / "eval" / "utterances" / "q01_capital.wav"
    answer_wav = tmp_path / "answer.wav"
    window = open_window(qtbot, small_settings, engines, audio_in=[question], audio_out=answer_wav)
    mic_states: list[str] = []
    window.bridge.micChanged.connect(mic_states.append)
    levels: list[float] = []
    window.bridge.inputLevel.connect(levels.append)
    assert window.input.mic.isEnabled(), window.input.mic.toolTip()

    with qtbot.waitSignal(window.replyShown, timeout=ANSWER_TIMEOUT_MS) as done:
        qtbot.mouseClick(window.input.mic, Qt.MouseButton.LeftButton)
    result = done.args[0]
    assert result.spoken and result.complete and "Paris" in result.text

    question_bubble, answer_bubble = window.chat.messages
    assert question_bubble.role == "user" and question_bubble.spoken
    assert question_bubble.mic_mark.isVisibleTo(window)
    assert "capital" in question_bubble.text.lower() and "france" in question_bubble.text.lower()
    assert "first audio" in question_bubble.mic_mark.toolTip()  # the turn's latency, on hover
    assert answer_bubble.text == result.text
    assert "voice → first audio" in window.status.latency.text()
    assert "listening" in mic_states and "speaking" in mic_states
    assert max(levels) > 0.3  # the level meter moved while the question played

    # The file source ended: the session closes and the button shows the microphone off.
    qtbot.waitUntil(lambda: not window.bridge.voice_active, timeout=30_000)
    qtbot.waitUntil(lambda: window.input.mic.property("micState") == "off")

    # The answer was played into the WAV sink (the file is complete once the app closes its sink).
    window.close()
    with wave.open(str(answer_wav)) as wav:
        assert wav.getnframes() > wav.getframerate() * 0.5  # at least half a second of speech
