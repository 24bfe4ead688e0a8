"""The voice half of the Bridge: a VoiceLoop session on the microphone (or files), and its events.

Mixed into ui.bridge.Bridge, so it is the same object with the same signals; kept apart only to keep each
file readable. Everything here runs on the GUI thread except the _on_* callbacks, which run on the voice
loop's threads and only emit signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.audio.microphone import MicrophoneSource
from assistant.audio.reconnect import ReconnectingSource
from assistant.audio.sinks import AudioSink, NullSink
from assistant.audio.sources import ScriptedSource, ScriptItem
from assistant.core import Assistant
from assistant.events import ErrorEvent, Event, ReplyDelta, ReplyDone, StateChanged, TranscriptReady
from ui.voice import VoiceSession

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance


@dataclass(frozen=True)
class TurnResult:
    """How one answer ended: the text as stored, whether it was cut off, and its timings."""

    conversation_id: int
    text: str
    complete: bool
    spoken: bool = False  # the question was spoken (latency_ms is then from the end of the speech)
    latency_ms: dict[str, float] = field(default_factory=dict)
    error: str = ""
    tool_calls: list[dict] | None = None  # None: not known yet (voice turns; the store has them)


class VoiceCommands:
    """Voice commands and event handling; needs the signals and state the Bridge declares."""

    assistant: Assistant
    audio_in: list[Path]
    hands_free: bool
    mic_reason: str
    busy: bool
    _sink: AudioSink | None
    _session: VoiceSession | None
    _spoken_turns: set[int]
    _speaking: bool
    _muted: bool
    _mic_lost: bool
    _voice_busy: bool
    _closed: bool
    busyChanged: SignalInstance
    stateChanged: SignalInstance
    micChanged: SignalInstance
    inputLevel: SignalInstance
    userSpoke: SignalInstance
    replyDelta: SignalInstance
    replyFinished: SignalInstance
    notice: SignalInstance

    def _new_conversation(self) -> int:
        raise NotImplementedError

    @property
    def voice_active(self) -> bool:
        return self._session is not None

    def start_voice(self, conversation_id: int | None, *, open_gate: bool = True) -> bool:
        """Listen (through the microphone, or the audio_in files); False when voice input is unavailable."""
        if self.mic_reason or self._closed:
            return False
        if self._session is not None:
            self.set_listening(open_gate and not self._muted)
            return True
        holder: list[VoiceSession] = []
        session = VoiceSession(
            self.assistant,
            self._make_source,
            self._sink or NullSink(),
            conversation_id,
            open_gate=open_gate and not self._muted,
            on_event=self._on_voice_event,
            on_level=self.inputLevel.emit,
            on_ended=lambda error: self._voice_ended(holder[0], error),
            new_conversation=self._new_conversation,
        )
        holder.append(session)
        self._session = session
        session.start()
        self.stateChanged.emit("listening")
        self._emit_mic()
        return True

    def stop_voice(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.stop()
        self._emit_mic()

    def set_listening(self, value: bool) -> None:
        """Open or close the microphone gate (push-to-talk, mute) without closing the device."""
        if self._session is not None:
            self._session.set_open(value and not self._muted)
        self._emit_mic()

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if muted:
            self.set_listening(False)

    def follow_conversation(self, conversation_id: int | None) -> None:
        if self._session is not None:
            self._session.follow(conversation_id)

    def _make_source(self):
        if self.audio_in:
            items = [ScriptItem(path, gap_before_s=0.3) for path in self.audio_in]
            return ScriptedSource(items, tail_silence_s=1.5)
        device = self.assistant.settings.audio.input_device
        # An unplugged microphone does not end the session: Sori listens again when it is back.
        return ReconnectingSource(lambda: MicrophoneSource(device), self._on_mic_status)

    def _on_mic_status(self, available: bool, message: str) -> None:
        if available and self._mic_lost:
            self.notice.emit("microphone", "Microphone", f"Listening again ({message}).")
        elif not available:
            text = f"{message[:1].upper()}{message[1:]}; listening again when it is back."
            self.notice.emit("microphone", "Microphone", text)
        self._mic_lost = not available

    def _on_voice_event(self, event: Event, conversation_id: int) -> None:
        if isinstance(event, StateChanged):
            if event.state == "thinking":
                self._voice_busy = True
                self.busyChanged.emit(True)
            elif event.state in ("listening", "stopped"):
                self._speaking = False
                self._voice_busy = False
                self.busyChanged.emit(False)
            self.stateChanged.emit(event.state if event.state != "stopped" else "ready")
            self._emit_mic()
        elif isinstance(event, TranscriptReady):
            self._spoken_turns.add(event.turn_id)
            self.userSpoke.emit(conversation_id, event.text, event.duration_s)
            if not (self.hands_free or self.audio_in) and self._session is not None:
                self._session.set_open(False)  # one question per click; hands-free keeps listening
                self._emit_mic()
        elif isinstance(event, ReplyDelta):
            self.replyDelta.emit(conversation_id, event.text)
        elif isinstance(event, ReplyDone):
            spoken = event.turn_id in self._spoken_turns
            self.replyFinished.emit(
                TurnResult(conversation_id, event.text, event.complete, spoken, dict(event.latency_ms))
            )
        elif isinstance(event, ErrorEvent):
            self.notice.emit("voice", "Voice conversation", event.message)

    def _voice_ended(self, session: VoiceSession, error: str | None) -> None:
        if error is not None:
            title = "The microphone stopped" if "microphone" in error.lower() else "Voice conversation"
            self.notice.emit("voice", title, error)
        if self._session is session:  # not a newer session started meanwhile
            self._session = None
            self._voice_busy = False
        if self._closed:
            return
        self.busyChanged.emit(self.busy)
        self.stateChanged.emit("ready")
        self._emit_mic()

    def _on_speaking(self, speaking: bool) -> None:
        if speaking and not self._speaking:
            self._speaking = True
            self.stateChanged.emit("speaking")
            self._emit_mic()

    def _emit_mic(self) -> None:
        session = self._session
        if self._speaking:
            self.micChanged.emit("speaking")
        elif session is not None and session.is_open:
            self.micChanged.emit("listening")
        else:
            self.micChanged.emit("off")
