"""What the terminal commands share: a note said once, paths checked before any work, a yes asked
on the terminal, plugin load errors in one line, speech that is put in place only when complete."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

_NOTED: set[str] = set()


def note(message: str) -> None:
    """Tell the user something about their input, once per run however often it happens."""
    if message not in _NOTED:
        _NOTED.add(message)
        print(f"sori: note: {message}", file=sys.stderr)


def check_files(audio_in: Path | None = None, audio_out: Path | None = None) -> None:
    """Refuse an unusable input or output path now, before a model is loaded or an answer computed."""
    if audio_in is not None:
        from assistant.audio.decode import check_audio_file

        check_audio_file(audio_in)
    if audio_out is not None:
        from assistant.audio.wav import check_output

        check_output(audio_out)


def ask_on_terminal(sentence: str) -> bool:
    """A tool wants a yes: ask on the terminal (stderr, as stdout is the answer); anything else is no."""
    print(f"{sentence} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def warn_plugin_errors(assistant) -> None:
    from assistant.cli.plugins import load_errors_line

    if assistant.settings.plugins.enabled:
        line = load_errors_line(assistant.tools)
        if line:
            print(f"sori: warning: {line}", file=sys.stderr)


@contextlib.contextmanager
def speaking(speech):
    """Put the spoken audio in place when the block succeeds; on any exit by error or interrupt, wait
    for the speech threads to stop (native code must not run at exit) and leave the target untouched."""
    try:
        yield
    except BaseException:
        if speech is not None:
            speech.shutdown()
            getattr(speech.sink, "abort", speech.sink.close)()
        raise
    if speech is not None:
        speech.sink.close()


def transcribe_one(assistant, f: Path, args: argparse.Namespace) -> dict:
    from assistant.audio.decode import SAMPLE_RATE, decode_file
    from assistant.interrupt import run_cancellable

    stt = assistant.stt
    language = args.language or assistant.settings.stt.language or None
    if args.split_channels:
        channels = decode_file(f, split_stereo=True)
        parts = run_cancellable(
            lambda cancel: [stt.transcribe(c, language=language, translate=args.translate) for c in channels]
        )
        text = "\n".join(f"[{side}] {r.text}" for side, r in zip(("left", "right"), parts, strict=True))
        return {
            "file": str(f),
            "text": text,
            "language": parts[0].language,
            "duration_s": round(len(channels[0]) / SAMPLE_RATE, 3),
        }
    # On a worker thread: Ctrl-C waits for CTranslate2 to return instead of exiting under it.
    r = run_cancellable(lambda cancel: stt.transcribe(f, language=language, translate=args.translate))
    return {"file": str(f), "text": r.text, "language": r.language, "duration_s": round(r.duration_s, 3)}
