"""Every voice at one loudness (assistant/tts/loudness.py), on signals made here: milliseconds each.

The real voices at one loudness: test_tts.py::test_every_voice_speaks_at_one_loudness.
"""

from __future__ import annotations

import numpy as np

from assistant.audio.sources import speech_power
from assistant.tts.loudness import CEILING, Leveller, limit
from assistant.tts.select import VoiceSwitch
from tests.fakes import ToneTTS

RATE = 24_000


def _speechlike(seconds: float, dbfs: float, seed: int = 0) -> np.ndarray:
    """Noise in syllables (4 a second) with pauses between words, at `dbfs` of speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2 * (np.sin(2 * np.pi * 0.7 * t) > -0.6)
    x = rng.standard_normal(t.size) * envelope
    power, _ = speech_power(x, RATE)
    return (x * 10 ** (dbfs / 20) / np.sqrt(power)).astype(np.float32)


def _dbfs(x: np.ndarray) -> float:
    return 10 * np.log10(speech_power(x, RATE)[0])


def test_peaks_are_turned_down_smoothly_and_quiet_audio_is_left_alone():
    loud = _speechlike(2.0, -6.0)
    assert np.abs(loud).max() > 1.5  # far over full scale
    out = limit(loud, RATE)
    assert np.abs(out).max() <= CEILING + 1e-6
    # A limiter, not a clipper: the gain changes over milliseconds, so no sample jumps.
    gain = np.where(np.abs(loud) > 1e-3, out / np.where(loud == 0, 1, loud), np.nan)
    assert np.nanmax(np.abs(np.diff(gain))) < 0.02
    quiet = _speechlike(1.0, -30.0)
    assert np.array_equal(limit(quiet, RATE), quiet)


def test_quiet_and_loud_voices_come_out_at_the_same_level():
    for level in (-32.0, -25.0, -12.0):
        out = Leveller(-16.0)(_speechlike(3.0, level), RATE)
        assert abs(_dbfs(out) - (-16.0)) < 1.0, level
        assert np.abs(out).max() <= CEILING + 1e-6


def test_the_gain_follows_the_voice_not_each_sentence():
    level = Leveller(-16.0)
    first = level(_speechlike(3.0, -25.0, seed=1), RATE)
    # A short quieter word after it is made as much louder as the voice was, not brought to -16 itself.
    word = _speechlike(0.4, -31.0, seed=2)
    gained = level(word, RATE)
    assert abs(_dbfs(first) - (-16.0)) < 1.0
    assert -24.5 < _dbfs(gained) < -19.0
    assert level(np.zeros(4800, np.float32), RATE).max() == 0.0  # silence passes as silence


def test_the_assistant_s_voice_is_levelled_and_zero_leaves_it_as_it_comes():
    tone = ToneTTS(chars_per_s=20)
    bare = np.concatenate([c.samples for c in tone.synthesize("Hello there. How are you?")])
    levelled = VoiceSwitch(tone, -16.0)
    out = [c for c in levelled.synthesize("Hello there. How are you?")]
    assert [c.text for c in out] == [c.text for c in tone.synthesize("Hello there. How are you?")]
    assert abs(_dbfs(np.concatenate([c.samples for c in out])) - (-16.0)) < 1.0
    as_it_comes = VoiceSwitch(tone, 0.0)
    same = np.concatenate([c.samples for c in as_it_comes.synthesize("Hello there. How are you?")])
    assert np.array_equal(same, bare)
