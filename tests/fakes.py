"""Scripted engines for fast tests of logic: a chat model, speech to text, text to speech, an audio sink.

Each implements its engine Protocol (assistant.llm ChatModel / LocalChatModel, assistant.stt SpeechToText,
assistant.tts TextToSpeech, assistant.audio.sinks AudioSink), so the Assistant, the voice loop and the front
ends run over them unchanged, in milliseconds instead of seconds. Behaviour a user relies on still keeps a
test through the real models; these are for the rules around them.

    llm = ScriptedLocalChat([Turn(calls=[("get_time", {})]), Turn("It is noon.")])
    a = make_assistant(tmp_path, llm=llm, tts=ToneTTS())
    reply = a.reply(a.store.new_conversation().id, "what time is it?")
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import InputError
from assistant.llm import ChatMessage, Generation, Prefilled
from assistant.llm.toolcall import ToolCall
from assistant.stt import Segment, Transcription
from assistant.tts import AudioChunk

# -- chat ------------------------------------------------------------------------------------------


def _as_call(call: ToolCall | tuple[str, dict] | str) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if isinstance(call, str):
        return ToolCall(call, {})
    name, args = call
    return ToolCall(name, dict(args))


@dataclass
class Turn:
    """One scripted model generation.

    text: the answer, as one string (streamed word by word) or as the exact list of deltas.
    calls: tool calls the model asks for after its text: ToolCall, (name, arguments) or a bare name.
    confused: it wrote a call to a tool it was not offered (the real engine then shows no text).
    error: raised from the stream after the deltas (an engine failing mid-answer).
    """

    text: str | Sequence[str] = ""
    calls: Sequence[ToolCall | tuple[str, dict] | str] = ()
    confused: bool = False
    error: BaseException | None = None

    def deltas(self) -> list[str]:
        if isinstance(self.text, str):
            return re.findall(r"\S+\s*|\s+", self.text)  # words with their trailing space
        return list(self.text)


@dataclass
class Request:
    """What one generate() call was given, for assertions."""

    messages: list[ChatMessage]
    tools: list[dict] | None
    allow_calls: bool
    max_tokens: int
    temperature: float

    @property
    def tool_names(self) -> list[str]:
        return [t["function"]["name"] for t in self.tools or []]


Script = Iterable[Turn | str] | Callable[[Request], Turn | str]


class ScriptedChat:
    """A ChatModel (like a server: no local abilities) that plays scripted turns in order.

    script: Turns (a str is a plain answer), or a function of the Request that returns the turn.
    delay_s: the time each delta takes (cut short by cancel), for tests of streaming and interruption.
    repeat: the turn given once the script runs out; None makes running out an AssertionError.
    """

    def __init__(
        self,
        script: Script = (),
        *,
        delay_s: float = 0.0,
        repeat: Turn | str | None = None,
        name: str = "scripted",
    ) -> None:
        self.name = name
        self.delay_s = delay_s
        self.repeat = repeat
        self._respond = script if callable(script) else None
        self._turns: list[Turn | str] = [] if callable(script) else list(script)
        self.requests: list[Request] = []
        self.loaded = 0
        self.closed = False
        self._lock = threading.Lock()

    def load(self) -> None:
        self.loaded += 1

    def close(self) -> None:
        self.closed = True

    def add(self, *turns: Turn | str) -> None:
        """Append turns to the script (for a conversation scripted as it goes)."""
        with self._lock:
            self._turns.extend(turns)

    @property
    def remaining(self) -> int:
        return len(self._turns)

    def _next(self, request: Request) -> Turn:
        with self._lock:
            self.requests.append(request)
            if self._respond is not None:
                turn = self._respond(request)
            elif self._turns:
                turn = self._turns.pop(0)
            elif self.repeat is not None:
                turn = self.repeat
            else:
                last = request.messages[-1].content if request.messages else ""
                raise AssertionError(f"the scripted chat model ran out of turns (last message: {last!r})")
        return Turn(turn) if isinstance(turn, str) else turn

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 512,
        temperature: float = 0.7,
        cancel: threading.Event | None = None,
        tools: list[dict] | None = None,
        allow_calls: bool = True,
    ) -> Generation:
        request = Request(
            list(messages), list(tools) if tools else None, allow_calls, max_tokens, temperature
        )
        turn = self._next(request)
        gen = Generation()
        gen.stats.prompt_tokens = sum(len(m.content.split()) + 4 for m in messages)
        gen.stats.prompt_tokens_evaluated = gen.stats.prompt_tokens
        gen.stream(self._play(gen, turn, cancel, tools), cancel)
        return gen

    def _play(
        self, gen: Generation, turn: Turn, cancel: threading.Event | None, tools: list[dict] | None
    ) -> Iterator[str]:
        pause = cancel or threading.Event()
        # As written, also when calls were not allowed (small models do write them); never without tools.
        calls = [_as_call(c) for c in turn.calls] if tools else []
        gen.stats.finish_reason = "stop"
        if not turn.confused:
            for delta in turn.deltas():
                if self.delay_s and pause.wait(self.delay_s):
                    yield delta  # Generation sees cancel before showing it, as with the real engines
                    return
                yield delta
        if turn.error is not None:
            raise turn.error
        gen.confused = turn.confused
        if calls:
            gen.tool_calls = calls
            gen.stats.finish_reason = "tool_calls"


class ScriptedLocalChat(ScriptedChat):
    """A LocalChatModel: also warm, prefill, fit, forced_call and prefill_call (the fast path), all recorded.

    forced: the fast path's arguments per tool name (a dict), or a function (messages, tool schema) ->
    arguments dict or None; a tool with none gets no call (the real grammar always gives one: leave a tool
    out to test the normal path). context_words: fit() raises the real InputError beyond this many words.
    """

    def __init__(
        self,
        script: Script = (),
        *,
        forced: Mapping[str, dict] | Callable[[list[ChatMessage], dict], dict | None] | None = None,
        context_words: int = 4000,
        turn_end: Callable[[str], float | None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(script, **kwargs)
        self.forced = forced if forced is not None else {}
        self.turn_end = turn_end  # prefill's end-of-turn probability for the last user message's text
        self.context_words = context_words
        self.warmed: list[tuple[str, list[dict] | None]] = []
        self.prefilled: list[Request] = []
        self.forced_calls: list[tuple[str, list[str]]] = []  # (tool, names of the tools offered)
        self.prefilled_calls: list[str] = []  # the tools whose call's opening was prefilled

    def warm(self, system_prompt: str, tools: list[dict] | None, cache_dir: Path | None = None) -> str:
        self.warmed.append((system_prompt, tools))
        return "cached" if len(self.warmed) > 1 and self.warmed[-2] == self.warmed[-1] else "evaluated"

    def prefill(
        self, messages: Sequence[ChatMessage], max_tokens: int = 512, tools: list[dict] | None = None
    ) -> Prefilled:
        self.fit(messages, max_tokens, tools)
        self.prefilled.append(Request(list(messages), tools, True, max_tokens, 0.0))
        turn_end = self.turn_end(messages[-1].content) if self.turn_end is not None else None
        return Prefilled(sum(len(m.content.split()) for m in messages), turn_end)

    def fit(
        self, messages: Sequence[ChatMessage], max_tokens: int, tools: list[dict] | None = None
    ) -> tuple[list[int], list[str], int, int]:
        words = sum(len(m.content.split()) for m in messages)
        if words > self.context_words:
            raise InputError(
                f"the question is too long for {self.name}: about {words:,} tokens, the model's context "
                f"holds {self.context_words:,}; shorten it"
            )
        return list(range(words)), [], 0, max_tokens

    def prefill_call(
        self,
        messages: Sequence[ChatMessage],
        tool: dict,
        max_tokens: int = 512,
        offered: list[dict] | None = None,
    ) -> None:
        self.fit(messages, max_tokens, offered)
        self.prefilled_calls.append(tool["function"]["name"])

    def forced_call(
        self,
        messages: Sequence[ChatMessage],
        tool: dict,
        max_tokens: int = 512,
        offered: list[dict] | None = None,
    ) -> list:
        name = tool["function"]["name"]
        self.forced_calls.append((name, [t["function"]["name"] for t in offered or [tool]]))
        args = self.forced(list(messages), tool) if callable(self.forced) else self.forced.get(name)
        return [] if args is None else [ToolCall(name, dict(args))]


# -- speech to text --------------------------------------------------------------------------------


class ScriptedSTT:
    """A SpeechToText that returns given transcripts: in order (a list), by file name or path (a mapping),
    or from a function of the audio. Arrays are taken as 16 kHz for the duration; calls are recorded."""

    sample_rate = 16_000

    def __init__(
        self,
        transcripts: Sequence[str] | Mapping[str, str] | Callable[[Any], str] = (),
        *,
        default: str | None = None,
        language: str = "en",
        delay_s: float = 0.0,
        name: str = "scripted-stt",
        language_probability: float = 1.0,
    ) -> None:
        self.name = name
        self.transcripts = transcripts
        self.default = default
        self.language = language
        self.language_probability = language_probability
        self.delay_s = delay_s
        self.calls: list[dict[str, Any]] = []
        self._next = 0
        self._lock = threading.Lock()

    def load(self) -> None:
        pass

    def _text(self, audio: Any) -> str:
        t = self.transcripts
        if callable(t):
            return t(audio)
        if isinstance(t, Mapping):
            if isinstance(audio, (str, Path)):
                for key in (str(audio), Path(audio).name, Path(audio).stem):
                    if key in t:
                        return t[key]
        else:
            with self._lock:
                if self._next < len(t):
                    self._next += 1
                    return t[self._next - 1]
        if self.default is not None:
            return self.default
        raise AssertionError(
            f"no scripted transcript for {audio if isinstance(audio, (str, Path)) else 'audio'}"
        )

    def transcribe(
        self,
        audio: np.ndarray | str | Path,
        *,
        language: str | None = None,
        translate: bool = False,
        likely_language: str | None = None,
    ) -> Transcription:
        if self.delay_s:
            time.sleep(self.delay_s)
        text = self._text(audio)
        if isinstance(audio, np.ndarray):
            duration = len(audio) / self.sample_rate
        else:  # decoded as the real engine does, so an unreadable file fails the same way
            from assistant.audio.decode import decode_file

            duration = len(decode_file(audio, self.sample_rate)) / self.sample_rate
        call = {"audio": audio, "language": language, "translate": translate, "text": text}
        self.calls.append({**call, "likely_language": likely_language})
        segments = (Segment(0.0, duration, text),) if text else ()
        sure = 1.0 if language else self.language_probability
        return Transcription(text, language or self.language, sure, duration, segments)


# -- text to speech --------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class ToneTTS:
    """A TextToSpeech whose audio lasts as long as the text would take to say at `chars_per_s`.

    A quiet sine (tone_hz) or silence (tone_hz=0); one chunk per sentence, like the real engines;
    delay_s: synthesis time per chunk. Every text it was given is kept in `spoken`.
    """

    def __init__(
        self,
        *,
        sample_rate: int = 16_000,
        chars_per_s: float = 15.0,
        tone_hz: float = 440.0,
        amplitude: float = 0.1,
        delay_s: float = 0.0,
        name: str = "tone",
    ) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self.chars_per_s = chars_per_s
        self.tone_hz = tone_hz
        self.amplitude = amplitude
        self.delay_s = delay_s
        self.speaking_rate = 1.0
        self.spoken: list[str] = []

    def load(self) -> None:
        pass

    def duration_s(self, text: str) -> float:
        return len(text.strip()) / (self.chars_per_s * self.speaking_rate)

    def samples(self, text: str) -> np.ndarray:
        n = max(1, int(self.duration_s(text) * self.sample_rate))
        if not self.tone_hz:
            return np.zeros(n, np.float32)
        t = np.arange(n, dtype=np.float32) / self.sample_rate
        return (self.amplitude * np.sin(2 * np.pi * self.tone_hz * t)).astype(np.float32)

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        self.spoken.append(text)
        for sentence in _SENTENCE_END.split(text.strip()):
            if not sentence:
                continue
            if self.delay_s:
                time.sleep(self.delay_s)
            yield AudioChunk(self.samples(sentence), self.sample_rate, sentence)


# -- audio out -------------------------------------------------------------------------------------


class RecordingSink:
    """An AudioSink that keeps what it was given; realtime=True takes the audio's duration to play it
    (stop() cuts that short), for tests of interruption. `played_s` is what a listener would have heard."""

    def __init__(self, *, realtime: bool = False) -> None:
        self.realtime = realtime
        self.chunks: list[tuple[np.ndarray, int]] = []
        self.played_s = 0.0
        self.stops = 0
        self.closed = False
        self._stopped = threading.Event()

    def play(self, samples: np.ndarray, sample_rate: int) -> None:
        self.chunks.append((samples, sample_rate))
        if not self.realtime:
            self.played_s += len(samples) / sample_rate
            return
        from assistant.audio.clock import Clock
        from assistant.audio.sinks import pace_playback

        self._stopped.clear()
        self.played_s += pace_playback(Clock(), len(samples), sample_rate, self._stopped) / sample_rate

    def stop(self) -> None:
        self.stops += 1
        self._stopped.set()

    def close(self) -> None:
        self.closed = True
        self.stop()


# -- tools ---------------------------------------------------------------------------------------


class ToolSet:
    """A ToolRegistry of functions defined in the test (decorated with @tool): nothing read from disk, so
    no plugin check runs; for an Assistant (make_assistant(tools=...)) or a ToolExecutor."""

    def __init__(self, *functions: Callable[..., Any]) -> None:
        from assistant.tools.spec import make_spec

        specs = [getattr(f, "__sori_tool__", None) or make_spec(f) for f in functions]  # type: ignore[arg-type]
        self._tools = {s.name: s for s in specs}
        self.errors: list = []

    @property
    def tools(self) -> dict:
        return dict(self._tools)

    def get(self, name: str):
        from assistant.tools.errors import ToolNotFound

        if name not in self._tools:
            raise ToolNotFound(f"no tool named {name!r} (available: {', '.join(self._tools) or 'none'})")
        return self._tools[name]

    def schemas(self) -> list[dict]:
        return [s.openai_schema() for s in self._tools.values()]

    def sources(self) -> dict:
        return {name: s.source_file for name, s in self._tools.items()}

    def load(self) -> None:
        pass

    def refresh(self) -> bool:
        return False

    def start_watching(self, interval: float = 0.5, on_change: Callable[[], None] | None = None) -> None:
        pass

    def stop_watching(self) -> None:
        pass


# -- an assistant over them ------------------------------------------------------------------------


def make_settings(overrides: Mapping[str, Any] | None = None):
    """Settings for the small profile with repeatable answers, sections merged from `overrides`
    (e.g. {"plugins": {"fast_path": False}, "voice": {"filler": ""}})."""
    from assistant.config import Settings

    data: dict[str, Any] = {"profile": "small", "llm": {"temperature": 0.0, "seed": 7, "max_tokens": 96}}
    for section, values in (overrides or {}).items():
        if isinstance(values, Mapping):
            data[section] = {**data.get(section, {}), **values}
        else:
            data[section] = values
    return Settings.model_validate(data)


def make_assistant(
    tmp_path: Path,
    *,
    llm: Any = None,
    stt: Any = None,
    tts: Any = None,
    settings: Any = None,
    tools: Any = None,
):
    """An Assistant with its store under tmp_path and these engines instead of the real ones.

    An engine left as None is still built from the real models if a test touches it. settings: Settings,
    or a dict of overrides for make_settings(). tools: a ToolRegistry or ToolSet (the only tools there
    are), or a list of plugin folders to load besides the built-in tools. Call it inside a test,
    where tests/conftest.py has pointed the data and config dirs at tmp_path.
    """
    from assistant.core import Assistant
    from assistant.store import ConversationStore

    if settings is None or isinstance(settings, Mapping):
        settings = make_settings(settings)
    if isinstance(tools, (list, tuple)):
        settings = settings.model_copy(
            update={"plugins": settings.plugins.model_copy(update={"dirs": [Path(p) for p in tools]})}
        )
        tools = None
    a = Assistant(settings, store=ConversationStore(Path(tmp_path) / "conversations.sqlite3"))
    a._llm, a._stt, a._tts = llm, stt, tts
    if tools is not None:
        a._tools = tools
    return a


def speech_output(tts: Any = None, sink: Any = None):
    """A real SpeechOutput over ToneTTS and RecordingSink (or the engines given)."""
    from assistant.speech import SpeechOutput

    return SpeechOutput(tts if tts is not None else ToneTTS(), sink if sink is not None else RecordingSink())


# -- time ------------------------------------------------------------------------------------------


class ManualClock:
    """A Clock (assistant.audio.clock) that stands still until the test moves it: set(t) or advance(s).

    For the pure state machines (the turn detector, the turn-taking machine) that read the time but
    never wait; wait_until() moves the clock to the deadline at once.
    """

    def __init__(self, t: float = 0.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def set(self, t: float) -> None:
        if t < self.t:
            raise ValueError(f"time runs forward: {t} is before {self.t}")
        self.t = t

    def advance(self, seconds: float) -> None:
        self.set(self.t + seconds)

    def wait_until(self, deadline: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        self.t = max(self.t, deadline)
        return True
