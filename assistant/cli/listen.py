"""`sori chat --listen`: a spoken conversation in the terminal; typed lines join the same conversation."""

from __future__ import annotations

import argparse
import sys
import threading

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import InputError
from assistant.events import (
    BargeIn,
    ConfirmationAnswered,
    ConfirmationAsked,
    ErrorEvent,
    Event,
    ReplyDelta,
    ReplyDone,
    StateChanged,
    TranscriptReady,
)
from assistant.pipeline import VoiceLoop


def _printer(verbose: bool):
    def on_event(event: Event) -> None:
        if isinstance(event, TranscriptReady):
            print(f"\nyou (spoken)> {event.text}\nsori> ", end="", flush=True)
        elif isinstance(event, ReplyDelta):
            print(event.text, end="", flush=True)
        elif isinstance(event, ReplyDone):
            print("" if event.complete else " [cut off]", flush=True)
            if verbose:
                print(
                    "latency: " + ", ".join(f"{k}={v:.0f}" for k, v in event.latency_ms.items()),
                    file=sys.stderr,
                )
        elif isinstance(event, BargeIn):
            print(" [interrupted]", flush=True)
        elif isinstance(event, ConfirmationAsked):
            print(f"\n{event.sentence} [say yes or no, or type it]", flush=True)
        elif isinstance(event, ConfirmationAnswered):
            heard = f'"{event.text}"' if event.text else "no answer"
            print(f"({heard}: {'yes' if event.allowed else 'no'})", flush=True)
        elif isinstance(event, ErrorEvent):
            print(f"\nsori: error: {event.message}", file=sys.stderr)
        elif isinstance(event, StateChanged) and verbose:
            print(f"({event.state})", file=sys.stderr)

    return on_event


def _source(args: argparse.Namespace, settings: Settings):
    from assistant.audio.microphone import MicrophoneSource
    from assistant.audio.reconnect import ReconnectingSource
    from assistant.audio.sources import AudioInputUnavailable, ScriptedSource, ScriptItem

    if args.audio_in:
        # Files stand in for the microphone, played in real time with a pause after each for the answer.
        items = [
            ScriptItem(path, gap_before_s=0.0 if i == 0 else args.gap) for i, path in enumerate(args.audio_in)
        ]
        if getattr(args, "room", None) is not None:
            from assistant.audio.room import RoomSource, random_params

            return RoomSource(items, random_params(args.room), tail_silence_s=args.gap)
        return ScriptedSource(items, tail_silence_s=args.gap)
    if getattr(args, "room", None) is not None:
        raise InputError("--room needs --audio-in FILE: the simulated room plays recordings, not a live mic")
    device = settings.audio.input_device or None
    lost = [False]

    def status(available: bool, message: str) -> None:
        if not available:
            print(f"sori: {message}; listening again when it is back", file=sys.stderr)
        elif lost[0]:
            print(f"sori: listening again ({message})", file=sys.stderr)
        lost[0] = not available

    first: list[MicrophoneSource] = []
    try:
        first.append(MicrophoneSource(device))
    except AudioInputUnavailable:
        if not sys.stdin.isatty():
            raise  # no keyboard to type on while waiting: the caller falls back to the text chat

    # A missing or unplugged microphone is retried: typed lines work meanwhile, and speech when it is back.
    return ReconnectingSource(lambda: first.pop() if first else MicrophoneSource(device), status)


def _sink(args: argparse.Namespace, settings: Settings, source):
    from assistant.audio.room import RoomSink, RoomSource
    from assistant.audio.sinks import SpeakerSink
    from assistant.audio.timed_sink import TimestampedWavSink

    if isinstance(source, RoomSource):  # Sori's answers play into the room the source hears
        return RoomSink(source, args.audio_out)
    if args.audio_out:
        return TimestampedWavSink(args.audio_out)
    return SpeakerSink(settings.audio.output_device)


def run_listen(args: argparse.Namespace, assistant: Assistant, conversation_id: int) -> int:
    """Returns an exit code; raises AudioInputUnavailable without a microphone (the caller falls back)."""
    settings = assistant.settings
    source = _source(args, settings)
    sink = _sink(args, settings, source)
    print("listening — speak; type to send text; Ctrl-C to stop", file=sys.stderr)
    loop = VoiceLoop(assistant, source, sink, conversation_id, on_event=_printer(args.verbose))
    # A tool that asks first asks aloud; the keyboard prompt would fight the typed-lines reader.
    assistant.confirm = loop.confirm
    if not args.audio_in and sys.stdin.isatty():
        # Typed lines go into the same conversation while listening.
        def typed() -> None:
            for line in sys.stdin:
                if line.strip():
                    loop.submit_text(line.strip())
            loop.stop()

        threading.Thread(target=typed, name="sori-typed", daemon=True).start()
    from assistant.services.timers import TimerService

    timers = TimerService(on_due=lambda timer: loop.announce(timer.message()))
    timers.start()
    assistant.tools.start_watching()  # plugin files added or edited while listening take effect
    try:
        loop.run()
    except KeyboardInterrupt:
        loop.stop()
    finally:
        timers.stop()
        assistant.tools.stop_watching()
        sink.close()
    for message in loop.errors:
        print(f"sori: warning: {message}", file=sys.stderr)
    return 0
