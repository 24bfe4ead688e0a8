"""`sori chat --listen`: a spoken conversation in the terminal; typed lines join the same conversation.

A printing front end over assistant.session.Session (the events are printed by cli/chat.py's Printer).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterable

from assistant.audio.sinks import AudioSink
from assistant.audio.sources import AudioFrame
from assistant.session import Session
from assistant.session_audio import check_room


class HandsFree:
    """The listening terminal's input side: speech from the source, typed lines; stop() is Ctrl-C."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def start(self, source: Iterable[AudioFrame], sink: AudioSink) -> None:
        self.session.use_sink(sink)
        # A tool that asks first asks aloud; the keyboard prompt would fight the typed-lines reader.
        self.session.confirmations.asker = None
        print("listening — speak; type to send text; Ctrl-C to stop", file=sys.stderr)
        self.session.start()  # timers ring (aloud); plugin files added or edited meanwhile take effect
        self.session.listen(source)

    def typed(self, line: str) -> None:
        """A typed line joins the spoken conversation (or answers the question Sori asked)."""
        if self.session.listening and line.strip():
            self.session.send(line.strip())

    def stop(self) -> None:
        """What Ctrl-C does: stop the answer and the listening (the answer is kept, marked cut off)."""
        self.session.stop_listening()

    def wait(self) -> int:
        try:
            while not self.session.wait_listening(0.1):
                pass
        except KeyboardInterrupt:
            self.stop()
            self.session.wait_listening(30)
        for message in self.session.listener.errors:
            print(f"sori: warning: {message}", file=sys.stderr)
        return 0


def open_source(args: argparse.Namespace, session: Session):
    """The recordings given with --audio-in (in a simulated room with --room), else the microphone.

    Raises AudioInputUnavailable without a microphone and without a keyboard to type on meanwhile.
    """
    room = getattr(args, "room", None)
    check_room(room, args.audio_in or [])
    if args.audio_in:
        # Files stand in for the microphone, played in real time with a pause after each for the answer.
        return session.audio.files(args.audio_in, gap_s=args.gap, room_seed=room)
    # A missing or unplugged microphone is retried: typed lines work meanwhile, and speech when it is back.
    return session.audio.microphone(required_now=not sys.stdin.isatty())


def run_listen(args: argparse.Namespace, session: Session) -> int:
    """Returns an exit code; raises AudioInputUnavailable without a microphone (the caller falls back)."""
    source = open_source(args, session)
    hands_free = HandsFree(session)
    # Sori's answers play into the room the source hears, a timestamped WAV, or the speaker.
    hands_free.start(source, session.audio.output(args.audio_out, source=source))
    if not args.audio_in and sys.stdin.isatty():

        def typed() -> None:
            for line in sys.stdin:
                hands_free.typed(line)
            hands_free.stop()

        threading.Thread(target=typed, name="sori-typed", daemon=True).start()
    return hands_free.wait()
