"""How loud Sori's echo can be at the microphone, band by band, and whether the microphone hears more.

AEC3 removes the echo well once it has converged, but now and then it lets a burst of 40-140 ms of
Sori's voice through nearly as loud as a user (in reverberant tails, on a speaker driven into clipping;
`sori bench echo`), and webrtcvad calls that speech. This model is independent of AEC3 and deliberately
generous about the echo: it finds the playback delay from the loudness envelopes of what was played and
what was heard, then per band predicts the echo as the played power at that delay, held with a slow
decay (the room rings on), times a high quantile of the coupling seen so far. A frame is near-end speech
evidence only where the microphone is well above that bound: a burst of leftover echo never is (the
microphone then holds nothing but the echo), while a user who speaks in Sori's pauses, or louder than
her, is.
"""

from __future__ import annotations

import numpy as np

from assistant.audio.decode import SAMPLE_RATE

HOP = SAMPLE_RATE // 100  # 10 ms, the APM's frame
_WIN = 2 * HOP
_BANDS = 24
_EDGES_HZ = np.geomspace(200.0, 7000.0, _BANDS + 1)
_FIRST_SPEECH_BAND = 3  # from ~310 Hz: below it a laptop speaker plays little and a fan hums
_HOLD_DB = -1.5  # per 10 ms: the predicted echo decays no faster than this after a loud frame
_QUANTILE = 0.9  # the coupling estimate sits above 90 % of what was seen: a bound, not a mean
_STEP_DB = 1.0
_MARGIN = 10 ** (6.0 / 10)  # the microphone must be 6 dB above the bound in a band to count
_SLACK = 2  # frames: the delay found is good to 10-20 ms, and a syllable's onset must not slip past
_MAX_LAG = 60  # delays searched beyond the sink's own latency: 0-590 ms of unreported buffering
_ENVELOPE = 400  # 4 s of loudness envelope for the delay search
_SEARCH_EVERY = 25  # frames between delay searches
_MIN_AUDIBLE = 25  # frames of Sori's audible voice before the first search (the canceller waits on it)
_AUDIBLE_SHARE = 0.5  # a search needs Sori audible in half the envelope (not the user's turn after her)
_MIN_CORRELATION = 0.4  # of the two envelopes at the best lag; below it the last delay found stands
_READY = 100  # frames of Sori's audible voice before the model speaks at all (its coupling is rough before)
_LEARN_RANGE = 1e-4  # the coupling is learnt only from played power within 40 dB of the loudest
_FLOOR_RISE = 1.002  # the noise floor may rise 0.009 dB per frame (about 1 dB/s)


def _band_matrix() -> np.ndarray:
    freqs = np.fft.rfftfreq(_WIN, 1 / SAMPLE_RATE)
    which = np.digitize(freqs, _EDGES_HZ) - 1
    return np.stack([(which == b).astype(np.float64) for b in range(_BANDS)], axis=1)


class EchoBound:
    """Fed every 10 ms with what was played at that clock time and what the microphone heard (both as
    floats in [-1, 1]); update() returns the share of the microphone's speech-band energy that Sori's
    echo cannot explain (0..1), or None until the playback delay is known and a second of Sori's voice
    has been heard. Only frames with sound in them mean anything: on the room's noise alone it is noise."""

    def __init__(self, latency_frames: int = 0) -> None:
        self._bands = _band_matrix()
        self._window = np.hanning(_WIN)
        self._ref_prev = np.zeros(HOP)
        self._mic_prev = np.zeros(HOP)
        self._hist = _MAX_LAG + 100  # held reference kept, frames (covers a sink latency up to 1 s)
        self._held = np.zeros((self._hist, _BANDS))  # ring: the held reference power per band
        self._acc = np.zeros(_BANDS)
        self._ref_env = np.full(_ENVELOPE, -120.0)  # ring: broadband loudness, dB
        self._mic_env = np.full(_ENVELOPE, -120.0)
        self._env_audible = np.zeros(_ENVELOPE, bool)
        self._t = 0  # frames seen
        self._audible = 0
        self._first_audible: int | None = None  # frame of Sori's first audible word
        self._latency = max(0, min(latency_frames, self._hist - _MAX_LAG - 1))
        self.delay: int | None = None  # frames from the reference timeline to the microphone
        self._gain_db = np.full(_BANDS, np.nan)  # per band: the coupling's upper quantile
        self._noise: np.ndarray | None = None
        self._ref_peak = 0.0  # the loudest played frame lately (decays over some seconds)

    def _powers(self, prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(np.concatenate([prev, cur]) * self._window)
        return (spec.real**2 + spec.imag**2) @ self._bands

    def set_latency(self, frames: int) -> None:
        self._latency = max(0, min(frames, self._hist - _MAX_LAG - 1))

    def update(self, ref: np.ndarray, mic: np.ndarray, audible: bool) -> float | None:
        ref = ref.astype(np.float64)
        mic = mic.astype(np.float64)
        r, m = self._powers(self._ref_prev, ref), self._powers(self._mic_prev, mic)
        self._ref_prev, self._mic_prev = ref, mic
        slot = self._t % self._hist
        self._acc = np.maximum(r, self._acc * 10 ** (_HOLD_DB / 10))
        self._ref_peak = max(self._ref_peak * 0.999, float(r.sum()))
        self._held[slot] = self._acc
        e = self._t % _ENVELOPE
        self._ref_env[e] = 10 * np.log10(r.sum() + 1e-9)
        self._mic_env[e] = 10 * np.log10(m.sum() + 1e-9)
        self._env_audible[e] = audible
        self._noise = m.copy() if self._noise is None else np.minimum(self._noise * _FLOOR_RISE, m + 1e-12)
        self._t += 1
        self._audible += audible
        if audible and self._first_audible is None:
            self._first_audible = self._t - 1
        if audible and self._audible >= _MIN_AUDIBLE and self._t % _SEARCH_EVERY == 0:
            self._search_delay()
        if self.delay is None or self._t <= self.delay + _SLACK:
            return None
        lags = np.arange(self.delay - _SLACK, self.delay + _SLACK)
        x = self._held[(self._t - 1 - np.maximum(lags, 0)) % self._hist].max(axis=0)
        score = self._score(m, x)
        return score if self._audible >= _READY else None

    def _score(self, m: np.ndarray, x: np.ndarray) -> float:
        noise = self._noise if self._noise is not None else np.zeros(_BANDS)
        g = self._gain_db
        known = ~np.isnan(g)
        bound = np.where(known, 10 ** (np.where(known, g, 0.0) / 10), np.inf) * x
        lo = _FIRST_SPEECH_BAND
        beyond = m[lo:] > _MARGIN * (bound[lo:] + 2 * noise[lo:])
        total = float(m[lo:].sum())
        score = float(m[lo:][beyond].sum()) / total if total > 0 else 0.0
        # Learn the coupling where Sori's voice reaches this band and the microphone hears something; not
        # from the far end of the held decay, where the room's noise over next to nothing would inflate it.
        if x.sum() > _LEARN_RANGE * self._ref_peak:
            active = (x > _LEARN_RANGE * x.max()) & (m > 4 * noise)
        else:
            active = np.zeros(_BANDS, bool)
        ratio_db = 10 * np.log10(m / np.maximum(x, 1e-20) + 1e-20)
        first = active & ~known
        g[first] = ratio_db[first]
        seen = active & known
        g[seen] += np.where(ratio_db[seen] > g[seen], _STEP_DB * _QUANTILE, -_STEP_DB * (1 - _QUANTILE))
        return score

    def _search_delay(self) -> None:
        # Until the envelope is full of Sori's voice, it starts a little before her first word: the
        # minutes of silence before her first answer would otherwise keep the search waiting for seconds.
        assert self._first_audible is not None
        n = min(self._t, _ENVELOPE, self._t - self._first_audible + _MAX_LAG)
        order = (np.arange(self._t - n, self._t)) % _ENVELOPE
        if self._env_audible[order].mean() < _AUDIBLE_SHARE:
            return
        ref, mic = self._ref_env[order], self._mic_env[order]
        ref = np.maximum(ref, ref.max() - 50.0)
        mic = np.maximum(mic, mic.max() - 50.0)
        best, best_lag = -1.0, None
        for lag in range(self._latency, self._latency + _MAX_LAG):
            if n - lag <= 50:
                break
            a, b = ref[: n - lag], mic[lag:]
            a, b = a - a.mean(), b - b.mean()
            den = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
            c = float(np.dot(a, b)) / den if den > 0 else -1.0
            if c > best:
                best, best_lag = c, lag
        if best_lag is not None and best >= _MIN_CORRELATION:
            self.delay = best_lag
