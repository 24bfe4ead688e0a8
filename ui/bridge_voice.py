"""The voice half of the Bridge and its Session events: listening commands, and each event as a signal.

Mixed into ui.bridge.Bridge, so it is the same object with the same signals; kept apart only to keep each
file readable. The commands run on the GUI thread and return at once; _on_event runs on the Session's
threads and only emits signals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.events import (
    ConfirmationAnswered,
    ConfirmationAsked,
    ConversationStarted,
    ErrorEvent,
    InputLevel,
    ListeningStopped,
    MicrophoneChanged,
    PluginsChanged,
    ReplyDelta,
    ReplyDone,
    SessionWarning,
    SpeakingChanged,
    StateChanged,
    TimerRang,
    ToolsUsed,
    TranscriptReady,
    TurnStarted,
    TurnWithdrawn,
)

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from assistant.session import Session

_WARNING_TITLES = {"timers": "Timers", "plugins": "Plugins", "microphone": "Microphone"}


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


@dataclass
class _Turn:
    conversation_id: int
    spoken: bool
    tool_calls: list[dict] | None = None
    done: bool = False


class VoiceCommands:
    """Voice commands and event handling; needs the signals and state the Bridge declares."""

    session: Session
    audio_in: list[Path]
    hands_free: bool
    mic_reason: str
    busy: bool
    _closed: bool
    busyChanged: SignalInstance
    stateChanged: SignalInstance
    micChanged: SignalInstance
    inputLevel: SignalInstance
    userSpoke: SignalInstance
    replyDelta: SignalInstance
    replyFinished: SignalInstance
    turnWithdrawn: SignalInstance
    conversationCreated: SignalInstance
    confirmRequested: SignalInstance
    confirmSettled: SignalInstance
    timerRang: SignalInstance
    notice: SignalInstance

    def list_plugins(self, reload: bool = False) -> None:
        raise NotImplementedError

    def _init_voice(self) -> None:
        self._turns: dict[int, _Turn] = {}
        self._speaking = False
        self._muted = False

    # -- commands (GUI thread) -------------------------------------------------------------------
    @property
    def voice_active(self) -> bool:
        return self.session.listening

    def start_voice(self, conversation_id: int | None, *, open_gate: bool = True) -> bool:
        """Listen (through the microphone, or the audio_in files); False when voice input is unavailable."""
        if self.mic_reason or self._closed:
            return False
        if not self.session.listening:
            self.session.follow(conversation_id)
        # The source is opened on the listening thread: opening a device can block.
        self.session.listen(self._make_source, open_=open_gate and not self._muted)
        self.stateChanged.emit("listening")
        self._emit_mic()
        return True

    def stop_voice(self) -> None:
        self.session.stop_listening()
        self._emit_mic()

    def set_listening(self, value: bool) -> None:
        """Open or close the microphone gate (push-to-talk, mute) without closing the device."""
        self.session.set_gate(value and not self._muted)
        self._emit_mic()

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if muted:
            self.set_listening(False)

    def follow_conversation(self, conversation_id: int | None) -> None:
        self.session.follow(conversation_id)

    def _make_source(self):
        if self.audio_in:
            return self.session.audio.files(self.audio_in, gap_s=0.3, first_gap_s=0.3, tail_s=1.5)
        # An unplugged microphone does not end listening: Sori listens again when it is back.
        return self.session.audio.microphone()

    def _emit_mic(self) -> None:
        if self._speaking:
            self.micChanged.emit("speaking")
        elif self.session.listening and self.session.gate_open:
            self.micChanged.emit("listening")
        else:
            self.micChanged.emit("off")

    # -- Session events (its threads) ------------------------------------------------------------
    def _conversation_of(self, turn_id: int) -> int:
        turn = self._turns.get(turn_id)
        return turn.conversation_id if turn is not None else self.session.conversation_id or 0

    def _on_event(self, event: object) -> None:
        if isinstance(event, TurnStarted):
            self._turns[event.turn_id] = _Turn(event.conversation_id, event.source == "spoken")
        elif isinstance(event, StateChanged):
            self._state(event)
        elif isinstance(event, TranscriptReady):
            self.userSpoke.emit(self._conversation_of(event.turn_id), event.text, event.duration_s)
            if not (self.hands_free or self.audio_in) and self.session.listening:
                self.session.set_gate(False)  # one question per click; hands-free keeps listening
                self._emit_mic()
        elif isinstance(event, ReplyDelta):
            self.replyDelta.emit(self._conversation_of(event.turn_id), event.text)
        elif isinstance(event, ToolsUsed) and event.turn_id in self._turns:
            self._turns[event.turn_id].tool_calls = list(event.calls)
        elif isinstance(event, ReplyDone):
            turn = self._turns.get(event.turn_id) or _Turn(self._conversation_of(event.turn_id), False)
            turn.done = True
            latency = dict(event.latency_ms)
            cid = turn.conversation_id
            result = TurnResult(
                cid, event.text, event.complete, turn.spoken, latency, tool_calls=turn.tool_calls
            )
            self.replyFinished.emit(result)
        elif isinstance(event, TurnWithdrawn):
            self.turnWithdrawn.emit(self._conversation_of(event.turn_id), event.question)
        elif isinstance(event, ErrorEvent):
            self._error(event)
        elif isinstance(event, SpeakingChanged):
            if event.speaking and not self._speaking:
                self._speaking = True
                self.stateChanged.emit("speaking")
                self._emit_mic()
        elif isinstance(event, InputLevel):
            self.inputLevel.emit(event.level)
        else:
            self._session_event(event)

    def _session_event(self, event: object) -> None:
        if isinstance(event, ConfirmationAsked):
            self.confirmRequested.emit(event.question_id, event.sentence)
        elif isinstance(event, ConfirmationAnswered):
            self.confirmSettled.emit(event.question_id)
        elif isinstance(event, ConversationStarted):
            self.conversationCreated.emit(event.conversation_id)
        elif isinstance(event, TimerRang):
            self.timerRang.emit(event.timer_id, event.message)
        elif isinstance(event, PluginsChanged) and not event.first:
            self.list_plugins()  # the settings dialog's list, if it is open
            if event.errors:
                self.notice.emit("plugins", "A plugin failed to load", "; ".join(event.errors[:3]))
        elif isinstance(event, MicrophoneChanged):
            if not event.available:
                text = f"{event.message[:1].upper()}{event.message[1:]}; listening again when it is back."
                self.notice.emit("microphone", "Microphone", text)
            elif event.again:
                self.notice.emit("microphone", "Microphone", f"Listening again ({event.message}).")
        elif isinstance(event, SessionWarning):
            self.notice.emit(event.topic, _WARNING_TITLES.get(event.topic, "Sori"), event.message)
        elif isinstance(event, ListeningStopped):
            self._listening_stopped(event.error)

    def _state(self, event: StateChanged) -> None:
        if event.state in ("listening", "stopped"):
            self._speaking = False
        self.busyChanged.emit(self.busy)
        self.stateChanged.emit(event.state if event.state != "stopped" else "ready")
        self._emit_mic()

    def _error(self, event: ErrorEvent) -> None:
        turn = self._turns.get(event.turn_id)
        if turn is None or turn.done:  # not about an answer: the microphone, speech recognition
            self.notice.emit("voice", "Voice conversation", event.message)
            return
        turn.done = True
        self.notice.emit("turn", "Sori could not answer", event.message)
        self.replyFinished.emit(TurnResult(turn.conversation_id, "", False, error=event.message))

    def _listening_stopped(self, error: str) -> None:
        if error:
            title = "The microphone stopped" if "microphone" in error.lower() else "Voice conversation"
            self.notice.emit("voice", title, error)
        if self._closed or self.session.listening:  # closing, or listening again already
            return
        self._speaking = False
        self.busyChanged.emit(self.busy)
        self.stateChanged.emit("ready")
        self._emit_mic()
