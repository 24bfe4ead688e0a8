"""One answer (or announcement) of the voice loop, given on a thread of its own: the loop's control thread
starts it, may stop it (barge-in), and hears that it finished through `finished`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import ErrorEvent, Event, ReplyDelta, ReplyDone
from assistant.speech import SpeechOutput
from assistant.turns import TurnRecord


@dataclass
class Answer:
    """An answer (record set) or an announcement being given on its own thread."""

    id: int
    turn_id: int
    record: TurnRecord | None
    speech: SpeechOutput
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread = field(init=False)


def stt_timings(turn: TurnRecord) -> dict[str, float]:
    """The hearing side of a spoken turn, in ms after the end of speech (stored with both messages)."""
    return {
        "stt_turn_decided_ms": (turn.decided - turn.speech_end) * 1000,
        "stt_transcript_ready_ms": (turn.transcript_ready - turn.speech_end) * 1000,
    }


def say(answer: Answer, text: str, emit: Callable[[Event], None], finished: Callable[[], None]) -> None:
    """Speak an announcement through the answer's speech output."""
    try:
        answer.speech.say(text)
        answer.speech.finish()
    except SoriError as exc:
        emit(ErrorEvent(answer.turn_id, str(exc)))
    finally:
        finished()


def reply(
    answer: Answer,
    assistant: Assistant,
    conversation_id: int,
    source: str,
    duration_s: float | None,
    *,
    emit: Callable[[Event], None],
    current_turn: Callable[[], int],
    errors: list[str],
    finished: Callable[[], None],
) -> None:
    """Answer the turn's transcript (streamed, spoken clause by clause) and fill in its record; its text
    is shown only while it is still the current turn's."""
    turn = answer.record
    assert turn is not None

    def delta(text: str) -> None:
        if turn.turn_id == current_turn():
            emit(ReplyDelta(turn.turn_id, text))

    spoken = source == "spoken"
    try:
        result = assistant.reply(
            conversation_id,
            turn.transcript,
            source=source,
            audio_duration_s=duration_s,
            on_delta=delta,
            speech=answer.speech,
            cancel=answer.cancel,
            timings_ms=stt_timings(turn) if spoken else None,
            origin=turn.speech_end if spoken else None,
        )
        turn.reply, turn.complete, turn.marks = result.text, result.complete, result.marks
        turn.stored = [m.id for m in (result.question, result.message) if m is not None]
        emit(ReplyDone(turn.turn_id, result.text, result.complete, turn.latency_ms()))
    except SoriError as exc:
        errors.append(str(exc))
        emit(ErrorEvent(turn.turn_id, str(exc)))
    finally:
        finished()
