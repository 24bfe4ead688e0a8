"""The terminal chat: type, the answer streams; Ctrl-C stops an answer, Ctrl-D quits."""

from __future__ import annotations

import argparse
import sys
import threading

from assistant.audio.sinks import make_sink
from assistant.audio.wav import check_output
from assistant.cli.plugins import load_errors_line
from assistant.config import Settings
from assistant.core import Assistant, Reply
from assistant.errors import AudioOutputError, SoriError, StoreError
from assistant.interrupt import Terminated, run_cancellable
from assistant.speech import SpeechOutput

HELP = """commands:
  /help      this help
  /new       start a new conversation
  /history   show this conversation
  /quit      leave (or Ctrl-D)
Ctrl-C stops the answer being written."""


def _answer(assistant: Assistant, conversation_id: int, question: str, speech) -> Reply | None:
    """Run one turn on a worker thread, so Ctrl-C here cancels it between tokens."""
    cancel = threading.Event()
    result: dict[str, object] = {}

    def work() -> None:
        try:
            result["reply"] = assistant.reply(
                conversation_id,
                question,
                speech=speech,
                cancel=cancel,
                on_delta=lambda d: print(d, end="", flush=True),
            )
        except BaseException as exc:  # re-raised on the main thread
            result["error"] = exc

    worker = threading.Thread(target=work, name="sori-turn", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt as exc:
        cancel.set()
        if speech is not None:
            speech.stop()
        worker.join()
        if isinstance(exc, Terminated):  # SIGTERM ends the chat; Ctrl-C only the answer
            if speech is not None:
                speech.shutdown()  # the process must not exit while onnxruntime runs
            raise
        print(" [stopped]")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("reply")  # type: ignore[return-value]


def _tool_line(call: dict) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in call.get("arguments", {}).items())
    outcome = call.get("content", "") if call.get("ok") else f"error: {call.get('error')}"
    return f"  [tool {call.get('name')}({args}) -> {str(outcome)[:100]}]"


def _ask_yes_no(sentence: str) -> bool:
    """A tool wants confirmation: ask on the terminal (anything but yes is no)."""
    try:
        answer = input(f"\n{sentence} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.cli.oneshot import note

    if args.audio_out is not None:  # a folder or "-" is an error now, before any work
        if str(args.audio_out) == "-":
            raise AudioOutputError("the chat writes its text to stdout; give --audio-out a file name")
        check_output(args.audio_out)
    assistant = Assistant(settings)
    assistant.confirm = _ask_yes_no
    assistant.notice = note
    store = assistant.store
    if args.conversation is not None:
        conv = store.get_conversation(args.conversation)
    else:
        latest = None if args.new else store.latest_conversation()
        conv = latest or store.new_conversation()
    interactive = sys.stdin.isatty()
    if args.listen:
        from assistant.audio.sources import AudioInputUnavailable
        from assistant.cli.listen import run_listen

        try:
            return run_listen(args, assistant, conv.id)
        except AudioInputUnavailable as exc:
            print(f"sori: {exc}", file=sys.stderr)  # then carry on in text
    print(
        f"Sori ({settings.profile} profile) — conversation {conv.id}. /help for commands, Ctrl-D to quit.",
        file=sys.stderr,
    )
    print("loading the chat model…", file=sys.stderr, end="", flush=True)
    # On a worker thread: a Ctrl-C or SIGTERM here would be lost in llama.cpp's logging callback.
    run_cancellable(lambda cancel: assistant.llm.load())
    print("\r" + " " * 30 + "\r", file=sys.stderr, end="", flush=True)
    sink = make_sink(assistant, args.audio_out) if args.speak else None
    from assistant.services.timers import TimerService

    timers = TimerService(on_due=lambda timer: print(f"\n⏰ {timer.message()}", flush=True))
    try:
        timers.start()
    except StoreError as exc:  # the chat still works; only timers cannot ring
        print(f"sori: warning: timers are off: {exc}", file=sys.stderr)
    assistant.tools.start_watching()  # plugin files added or edited during the chat take effect
    line = load_errors_line(assistant.tools) if settings.plugins.enabled else None
    if line:
        print(f"sori: warning: {line}", file=sys.stderr)
    ended = False
    try:
        code = _loop(args, assistant, conv, sink, interactive)
        ended = True
        return code
    finally:
        timers.stop()
        assistant.tools.stop_watching()
        if sink is not None:  # the recording is kept when the chat ends, not when it is killed
            sink.close() if ended else getattr(sink, "abort", sink.close)()
        assistant.close()


def _loop(args: argparse.Namespace, assistant: Assistant, conv, sink, interactive: bool) -> int:
    store = assistant.store
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            print(file=sys.stderr)
            return 0
        except KeyboardInterrupt as exc:
            if isinstance(exc, Terminated):
                raise
            print("\n(Ctrl-D quits)", file=sys.stderr)
            continue
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            cmd = text.split()[0].lower()
            if cmd in ("/quit", "/exit"):
                return 0
            if cmd == "/help":
                print(HELP)
            elif cmd == "/new":
                conv = store.new_conversation()
                print(f"(new conversation {conv.id})")
            elif cmd == "/history":
                for m in store.messages(conv.id):
                    mark = "" if m.complete else " [cut off]"
                    for call in m.tool_calls:
                        print(_tool_line(call))
                    print(f"{m.role}> {m.text}{mark}")
            else:
                print(f"unknown command {cmd}; /help lists them")
            continue
        speech = SpeechOutput(assistant.tts, sink) if sink is not None else None
        print("sori> " if interactive else "", end="", flush=True)
        try:
            reply = _answer(assistant, conv.id, text, speech)
            print()
            for call in reply.tool_calls if reply is not None else []:
                print(_tool_line(call), file=sys.stderr)
            if reply is not None and args.verbose:
                print(
                    "timings: " + ", ".join(f"{k}={v:.0f}" for k, v in reply.timings_ms.items()),
                    file=sys.stderr,
                )
        except SoriError as exc:
            print(f"\nsori: error: {exc}", file=sys.stderr)
