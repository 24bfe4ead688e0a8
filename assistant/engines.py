"""The three engines built from the settings: speech to text, the chat model, text to speech.

Imports stay inside the functions, so a client that only types never imports the speech libraries.
"""

from __future__ import annotations

from assistant import models
from assistant.config import Settings
from assistant.llm import ChatModel
from assistant.stt import SpeechToText
from assistant.tts import TextToSpeech


def build_stt(settings: Settings) -> SpeechToText:
    from assistant.stt.whisper import WhisperSTT

    s = settings.stt
    model = models.resolve("stt", s.model, settings.profile)
    return WhisperSTT(model, device=s.device, beam_size=s.beam_size)


def build_llm(settings: Settings) -> ChatModel:
    """A server's model when llm.server_url is set, else the local GGUF model (not loaded yet)."""
    s = settings.llm
    if s.server_url:
        from assistant.llm.openai_compat import OpenAICompatChat

        return OpenAICompatChat(s.server_url, model=s.server_model, api_key=s.api_key)
    from assistant.llm.llamacpp import LlamaCppChat

    return LlamaCppChat(
        models.resolve("llm", s.model, settings.profile),
        chat_format=s.chat_format,
        context_size=s.context_size,
        n_threads=s.n_threads,
        n_gpu_layers=s.n_gpu_layers,
        seed=s.seed,
        call_threshold=settings.plugins.call_threshold,
    )


def build_tts(settings: Settings, voice: str | None = None) -> TextToSpeech:
    """The engine for `voice` (default: the configured one), not loaded yet."""
    from assistant.tts.select import make_engine

    return make_engine(settings.tts.voice if voice is None else voice, settings)
