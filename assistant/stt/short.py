"""A spoken question in one shorter encoder window instead of Whisper's 30 s one.

faster-whisper pads every clip to 30 s before the encoder, whose cost grows faster than the window: on a
2-core CPU whisper-base took about 600 ms to encode 30 s, 120 ms for 15 s and 70 ms for 10 s, and the
encoder was most of a question's transcription. CTranslate2 encodes shorter windows, so a clip that fits
SHORT_WINDOW_S with a second to spare is encoded alone and decoded in one pass, with faster-whisper's own
tokenizer and suppressed tokens. Its safety nets stay: a result faster-whisper would have retried
(repetitive text, low average log-probability), or a language the short window is not sure of, is not
used, and the caller transcribes the clip the usual way. 15 s rather than 10: in 10 s whisper-tiny.en
heard "Set a timer for five seconds." (espeak) as "Set at timer 45 seconds". On the pause set, the shared
questions and that clip (57): whisper-base WER 0.080 in 15 s against 0.084 in 30 s, tiny.en 0.104 / 0.108.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.audio.decode import SAMPLE_RATE
from assistant.audio.sources import speech_bounds

SHORT_WINDOW_S = 15
SHORT_MAX_S = SHORT_WINDOW_S - 1  # a second of padding after the speech, as Whisper saw in training
# faster-whisper's defaults for retrying a window at a higher temperature
_COMPRESSION_LIMIT = 2.4
_LOGPROB_LIMIT = -1.0
# Below this the language is left to the 30 s window: the short one is less sure ("What is the capital of
# France?" in Sori's voice: English 0.60 against French 0.38 there, 0.80 against 0.19 in 30 s), and a
# question transcribed into the wrong language is worse than a slower one.
LANGUAGE_CONFIDENCE = 0.8
# Unless it is the language the user last spoke (a language Whisper was sure of, LANGUAGE_CONFIDENCE, in an
# earlier turn) and the likelier one: people rarely switch language between turns, and that question in
# Sori's voice (0.60) is then heard in the short window, about 550 ms sooner than in the 30 s one.
LIKELY_CONFIDENCE = 0.5
# A transcript that stops long before the speech does is not used either: in the short window Whisper now
# and then ends after the first words with a log-probability that passes ("Tell me" for "Tell me a short
# joke about computers", 2.3 s in Sori's own voice; whisper-base, greedy or beam 5; the 30 s window heard it
# whole). Spoken questions carry 2 to 6 words a second of speech, pauses included (the pause set and the
# shared questions: 1.97 at the least); under 1.2 over a second or more of speech, the 30 s window decides.
MIN_WORDS_PER_S = 1.2


def transcribe_short(
    whisper: Any,
    samples: np.ndarray,
    *,
    language: str | None,
    translate: bool,
    beam_size: int,
    likely_language: str | None = None,
) -> tuple[str, str, float] | None:
    """(text, language, its probability) for a clip of at most SHORT_MAX_S, or None: use the full path.
    likely_language: the language the user last spoke, taken at LIKELY_CONFIDENCE."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

    if len(samples) > SHORT_MAX_S * SAMPLE_RATE:
        return None
    extractor = whisper.feature_extractor
    frames = SHORT_WINDOW_S * SAMPLE_RATE // extractor.hop_length
    features = pad_or_trim(extractor(samples), frames)
    encoded = whisper.encode(features)
    multilingual = bool(whisper.model.is_multilingual)
    probability = 1.0
    if multilingual and language is None:
        token, probability = whisper.model.detect_language(encoded)[0][0]
        likely = token[2:-2] == likely_language and probability >= LIKELY_CONFIDENCE
        if probability < LANGUAGE_CONFIDENCE and not likely:
            return None
        language = token[2:-2]
    tokenizer = Tokenizer(
        whisper.hf_tokenizer,
        multilingual,
        task="translate" if translate else "transcribe",
        language=language or "en",
    )
    result = whisper.model.generate(
        encoded,
        [[*tokenizer.sot_sequence, tokenizer.no_timestamps]],
        beam_size=beam_size,
        max_length=200,
        return_scores=True,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
    )[0]
    tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
    text = tokenizer.decode(tokens).strip()
    avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    if avg_logprob < _LOGPROB_LIMIT or get_compression_ratio(text) > _COMPRESSION_LIMIT:
        return None
    if cut_short(text, samples):
        return None
    return text, tokenizer.language_code, float(probability)


def cut_short(text: str, samples: np.ndarray) -> bool:
    """Too few words for the speech in the clip (MIN_WORDS_PER_S): the decoder stopped early."""
    bounds = speech_bounds(samples)
    speech_s = 0.0 if bounds is None else bounds[1] - bounds[0]
    return speech_s >= 1.0 and len(text.split()) < MIN_WORDS_PER_S * speech_s
