"""The terminal chat: type, the answer streams; Ctrl-C stops an answer, Ctrl-D quits.

A printing front end over assistant.session.Session; `sori chat --listen` (cli/listen.py) is the other.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import AudioOutputError, SoriError
from assistant.events import (
    BargeIn,
    ConfirmationAnswered,
    ConfirmationAsked,
    ErrorEvent,
    MicrophoneChanged,
    PluginsChanged,
    ReplyDelta,
    ReplyDone,
    SessionWarning,
    StateChanged,
    TimerRang,
    ToolsUsed,
    TranscriptReady,
    TurnWithdrawn,
)
from assistant.interrupt import Terminated, run_cancellable
from assistant.questions import Question
from assistant.session import Session

HELP = """commands:
  /help      this help
  /new       start a new conversation
  /history   show this conversation
  /quit      leave (or Ctrl-D)
Ctrl-C stops the answer being written."""


def tool_line(call: dict) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in call.get("arguments", {}).items())
    outcome = call.get("content", "") if call.get("ok") else f"error: {call.get('error')}"
    return f"  [tool {call.get('name')}({args}) -> {str(outcome)[:100]}]"


class Printer:
    """Session events as terminal lines: the answer on `out`, everything about it on `err`.

    hands_free: a spoken conversation (`--listen`): each spoken question is echoed, a cut answer is marked
    as cut off and a question is asked aloud; in the typed chat a stopped answer says [stopped].
    """

    def __init__(
        self,
        *,
        verbose: bool = False,
        hands_free: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.verbose = verbose
        self.hands_free = hands_free
        self.out = out
        self.err = err
        self._tools: list[dict] = []

    def say(self, text: str = "", *, end: str = "\n", err: bool = False) -> None:
        stream = (self.err or sys.stderr) if err else (self.out or sys.stdout)
        print(text, end=end, file=stream, flush=True)

    def __call__(self, event: object) -> None:
        if isinstance(event, TranscriptReady):
            self.say(f"\nyou (spoken)> {event.text}\nsori> ", end="")
        elif isinstance(event, ReplyDelta):
            self.say(event.text, end="")
        elif isinstance(event, ToolsUsed):
            self._tools = list(event.calls)
        elif isinstance(event, ReplyDone):
            self._done(event)
        elif isinstance(event, BargeIn):
            self.say(" [interrupted]")
        elif isinstance(event, TurnWithdrawn):
            self.say("(you went on: that answer is taken back)")
        elif isinstance(event, ConfirmationAsked) and self.hands_free:
            self.say(f"\n{event.sentence} [say yes or no, or type it]")
        elif isinstance(event, ConfirmationAnswered) and self.hands_free:
            heard = f'"{event.text}"' if event.text else "no answer"
            self.say(f"({heard}: {'yes' if event.allowed else 'no'})")
        elif isinstance(event, ErrorEvent):
            self.say(f"\nsori: error: {event.message}", err=True)
        elif isinstance(event, TimerRang):
            self.say(f"\n⏰ {event.message}")
        elif isinstance(event, SessionWarning):
            self.say(f"sori: warning: {event.message}", err=True)
        elif isinstance(event, PluginsChanged) and event.errors:
            count = len(event.errors)
            self.say(
                f"sori: warning: {count} plugin file{'s' if count != 1 else ''} failed to load: "
                "sori plugins list",
                err=True,
            )
        elif isinstance(event, MicrophoneChanged):
            if not event.available:
                self.say(f"sori: {event.message}; listening again when it is back", err=True)
            elif event.again:
                self.say(f"sori: listening again ({event.message})", err=True)
        elif isinstance(event, StateChanged) and self.verbose and self.hands_free:
            self.say(f"({event.state})", err=True)

    def _done(self, event: ReplyDone) -> None:
        if self.hands_free:
            self.say("" if event.complete else " [cut off]")
        else:
            self.say("" if event.complete else " [stopped]")
        for call in self._tools:
            self.say(tool_line(call), err=True)
        self._tools = []
        if self.verbose and event.latency_ms:
            name = "latency" if self.hands_free else "timings"
            self.say(f"{name}: " + ", ".join(f"{k}={v:.0f}" for k, v in event.latency_ms.items()), err=True)


class TerminalChat:
    """The typed chat's input side: lines and commands in, one turn at a time; stop() is Ctrl-C."""

    def __init__(
        self, session: Session, printer: Printer, *, interactive: bool, readline: Callable[[str], str] = input
    ) -> None:
        self.session = session
        self.printer = printer
        self.interactive = interactive
        self.readline = readline

    def ask(self, question: Question) -> bool:
        """A tool wants confirmation: ask on the terminal (anything but yes is no)."""
        try:
            answer = self.readline(f"\n{question.sentence} [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def run(self) -> int:
        while True:
            try:
                line = self.readline("you> " if self.interactive else "")
            except EOFError:
                self.printer.say(err=True)
                return 0
            except KeyboardInterrupt as exc:
                if isinstance(exc, Terminated):
                    raise
                self.printer.say("\n(Ctrl-D quits)", err=True)
                continue
            if self.handle(line) is not None:
                return 0

    def handle(self, line: str) -> int | None:
        """One typed line (waits for its answer); an exit code when the chat should end."""
        text = line.strip()
        if not text:
            return None
        if text.startswith("/"):
            return self.command(text)
        self.printer.say("sori> " if self.interactive else "", end="")
        try:
            self.session.send(text)
        except SoriError as exc:
            self.printer.say(f"\nsori: error: {exc}", err=True)
            return None
        try:
            while not self.session.wait(0.05):
                pass
        except KeyboardInterrupt as exc:
            self.stop()
            self._wait_quietly()
            if isinstance(exc, Terminated):  # SIGTERM ends the chat; Ctrl-C only the answer
                raise
        return None

    def _wait_quietly(self) -> None:
        """Wait for the stopped answer to end, through further Ctrl-Cs."""
        while True:
            try:
                if self.session.wait(0.05):
                    return
            except KeyboardInterrupt:
                continue

    def stop(self) -> None:
        """What Ctrl-C does: stop the answer being written and spoken (kept, marked cut off)."""
        self.session.interrupt()

    def command(self, text: str) -> int | None:
        store = self.session.assistant.store
        cmd = text.split()[0].lower()
        if cmd in ("/quit", "/exit"):
            return 0
        if cmd == "/help":
            self.printer.say(HELP)
        elif cmd == "/new":
            conv = store.new_conversation()
            self.session.follow(conv.id)
            self.printer.say(f"(new conversation {conv.id})")
        elif cmd == "/history":
            for m in store.messages(self.session.conversation_id or 0):
                mark = "" if m.complete else " [cut off]"
                for call in m.tool_calls:
                    self.printer.say(tool_line(call))
                self.printer.say(f"{m.role}> {m.text}{mark}")
        else:
            self.printer.say(f"unknown command {cmd}; /help lists them")
        return None


def open_chat(
    assistant: Assistant,
    *,
    verbose: bool = False,
    hands_free: bool = False,
    interactive: bool = True,
    readline: Callable[[str], str] = input,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> TerminalChat:
    """The terminal front end over a new Session: events printed, a tool's question asked on the terminal."""
    printer = Printer(verbose=verbose, hands_free=hands_free, out=out, err=err)
    session = Session(assistant, on_event=printer)
    chat = TerminalChat(session, printer, interactive=interactive, readline=readline)
    session.confirmations.asker = chat.ask
    return chat


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.audio.wav import check_output
    from assistant.cli.oneshot import note

    if args.audio_out is not None:  # a folder or "-" is an error now, before any work
        if str(args.audio_out) == "-":
            raise AudioOutputError("the chat writes its text to stdout; give --audio-out a file name")
        check_output(args.audio_out)
    assistant = Assistant(settings)
    assistant.notice = note
    store = assistant.store
    if args.conversation is not None:
        conv = store.get_conversation(args.conversation)
    else:
        latest = None if args.new else store.latest_conversation()
        conv = latest or store.new_conversation()
    chat = open_chat(assistant, verbose=args.verbose, hands_free=args.listen, interactive=sys.stdin.isatty())
    session, printer = chat.session, chat.printer
    session.follow(conv.id)
    ended = False
    try:
        if args.listen:
            from assistant.audio.sources import AudioInputUnavailable
            from assistant.cli.listen import run_listen

            try:
                code = run_listen(args, session)
                ended = True
                return code
            except AudioInputUnavailable as exc:
                print(f"sori: {exc}", file=sys.stderr)  # then carry on in text
                printer.hands_free = False
        where = f"Sori ({settings.profile} profile) — conversation {conv.id}."
        print(f"{where} /help for commands, Ctrl-D to quit.", file=sys.stderr)
        print("loading the chat model…", file=sys.stderr, end="", flush=True)
        # On a worker thread: a Ctrl-C or SIGTERM here would be lost in llama.cpp's logging callback.
        run_cancellable(lambda cancel: assistant.llm.load())
        print("\r" + " " * 30 + "\r", file=sys.stderr, end="", flush=True)
        if args.speak:
            session.use_sink(session.audio.output(args.audio_out, timed=False))
        session.start()  # timers ring; plugin files added or edited during the chat take effect
        code = chat.run()
        ended = True
        return code
    finally:
        # The recording is kept when the chat ends, not when it is killed.
        session.close(keep_audio=ended)
        assistant.close()


__all__ = ["Printer", "TerminalChat", "open_chat", "run_chat", "tool_line"]
