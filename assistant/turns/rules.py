"""When the words heard so far are a whole turn: pure rules over the transcript and the chat model's guess
(the probability it gives that the user's sentence, or turn, ends after those words; None: no guess)."""

from __future__ import annotations

from assistant.config import VoiceSettings
from assistant.text.endings import is_clear_question, sounds_unfinished, stops_mid_phrase


def finished(text: str, guess: float | None, voice: VoiceSettings) -> bool:
    """Plainly whole, at the short silence: the model's guess says so, or (without one) it is a clear
    question.

    Whisper's punctuation alone is no proof: it writes "What is seven times?" for a pause mid-sentence.
    """
    if sounds_unfinished(text):
        return False
    return is_clear_question(text) if guess is None else guess >= voice.turn_end_threshold


def may_go_on(text: str, guess: float | None, voice: VoiceSettings) -> bool:
    """After the end-of-turn silence: whether the words may well go on (the turn is held open)."""
    if stops_mid_phrase(text) or guess is None:
        return sounds_unfinished(text)
    if sounds_unfinished(text):  # bare words, no full stop: the guess must find them whole
        return guess < voice.turn_end_threshold
    # A pause inside a sentence this long is much rarer than a short one: only words the model finds very
    # likely to go on hold the turn ("Set a timer.", 0.0002), not a whole request it doubts ("Set a timer
    # for ten minutes.", 0.03 on the default model).
    return guess < voice.turn_hold_threshold
