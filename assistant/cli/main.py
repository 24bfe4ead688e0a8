"""The `sori` command. Thin: parses arguments, calls the core, prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from assistant.cli.oneshot import (
    ask_on_terminal,
    check_files,
    note,
    speaking,
    transcribe_one,
    warn_plugin_errors,
)
from assistant.cli.parser import build_parser
from assistant.errors import SoriError
from assistant.interrupt import SIGTERM_EXIT, Terminated, install_sigterm, restore_sigterm


def _settings(args: argparse.Namespace):
    from assistant.config import apply_overrides, load_settings

    settings = load_settings(args.config)
    overrides: dict[str, object] = {}
    if args.profile:
        overrides["profile"] = args.profile
    for flag, key in (
        ("stt_model", "stt.model"),
        ("llm_model", "llm.model"),
        ("voice", "tts.voice"),
        ("llm_server", "llm.server_url"),
    ):
        if getattr(args, flag):
            overrides[key] = getattr(args, flag)
    if args.plugins_dir:
        overrides["plugins.dirs"] = [*settings.plugins.dirs, *args.plugins_dir]
    return apply_overrides(settings, **overrides) if overrides else settings


MAX_SAY_CHARS = 20_000  # about 20 minutes of speech; more is a paste accident
_OPEN: list = []  # assistants this command created, closed before the interpreter exits


def _assistant(args: argparse.Namespace):
    from assistant.core import Assistant

    assistant = Assistant(_settings(args))
    assistant.notice = note
    _OPEN.append(assistant)
    return assistant


def _undecodable_bytes_replaced(args: argparse.Namespace) -> None:
    """Text arguments with bytes that are not UTF-8 get U+FFFD; piped stdin keeps them for the same.

    Paths stay as they are: an undecodable file name is still a valid name to open.
    """
    from assistant.text.utf8 import NOT_UTF8, scrub

    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")  # a bad byte must not end input() with UnicodeDecodeError
    for key, value in vars(args).items():
        if isinstance(value, str) and scrub(value) != value:
            setattr(args, key, scrub(value))
            note(NOT_UTF8)
        elif isinstance(value, list) and any(isinstance(v, str) and scrub(v) != v for v in value):
            setattr(args, key, [scrub(v) if isinstance(v, str) else v for v in value])
            note(NOT_UTF8)


def _print_timings(timings: dict[str, float]) -> None:
    print("timings: " + ", ".join(f"{k}={v:.0f}" for k, v in timings.items()), file=sys.stderr)


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.errors import InputError
    from assistant.interrupt import run_cancellable

    if (args.text is None) == (args.audio_in is None):
        raise InputError("give a question as TEXT or as --audio-in FILE (one of them)")
    check_files(audio_in=args.audio_in, audio_out=args.audio_out)  # before any work
    assistant = _assistant(args)
    if sys.stdin.isatty():  # else nobody can be asked, and the answer says so
        from assistant.session import Confirmations

        # The same confirm path as every front end; here the only way to answer is the terminal prompt.
        Confirmations(lambda event: None, asker=lambda q: ask_on_terminal(q.sentence)).install(assistant)
    timings: dict[str, float] = {}
    transcript = None
    duration = None
    if args.audio_in is not None:
        t0 = time.perf_counter()
        result = run_cancellable(lambda cancel: assistant.transcribe(args.audio_in))
        timings["stt_ms"] = (time.perf_counter() - t0) * 1000
        transcript, duration = result.text, result.duration_s
        if not transcript:
            raise InputError(f"{args.audio_in}: no speech was recognized; speak closer to the microphone")
    question = transcript if transcript is not None else args.text
    speech = _speech_output(assistant, args.audio_out, args.speak or bool(args.audio_out))
    conv = assistant.store.new_conversation()
    warn_plugin_errors(assistant)
    t0 = time.perf_counter()
    with speaking(speech):
        # On a worker thread: the first Ctrl-C stops the answer even while llama.cpp is loading.
        reply = run_cancellable(
            lambda cancel: assistant.reply(
                conv.id,
                question,
                source="spoken" if transcript is not None else "typed",
                audio_duration_s=duration,
                speech=speech,
                timings_ms=timings,
                cancel=cancel,
            ),
            on_cancel=speech.stop if speech is not None else None,
        )
    timings = reply.timings_ms
    out = sys.stderr if str(args.audio_out) == "-" else sys.stdout  # stdout carries the WAV then
    timings["total_ms"] = (time.perf_counter() - t0) * 1000 + timings.get("stt_ms", 0.0)
    if args.json:
        print(
            json.dumps(
                {
                    "transcript": transcript,
                    "answer": reply.text,
                    "tool_calls": reply.tool_calls,
                    "timings_ms": {k: round(v, 1) for k, v in timings.items()},
                }
            ),
            file=out,
        )
    else:
        if transcript is not None and args.verbose:
            print(f"(heard: {transcript})", file=sys.stderr)
        print(reply.text, file=out)
    if args.verbose:
        _print_timings(timings)
    return 0


def _speech_output(assistant, audio_out: Path | None, wanted: bool):
    from assistant.audio.sinks import make_sink
    from assistant.speech import SpeechOutput

    return SpeechOutput(assistant.tts, make_sink(assistant, audio_out)) if wanted else None


def cmd_transcribe(args: argparse.Namespace) -> int:
    """Each file in turn; a bad one is reported on one line and the others still done (exit 1 then)."""
    from assistant.audio.decode import check_audio_file
    from assistant.errors import AudioInputError

    assistant = _assistant(args)
    assistant.stt  # noqa: B018 - the model is checked (not loaded) before any input is read
    results: list[dict] = []
    failed = 0
    for f in args.files:
        t0 = time.perf_counter()
        try:
            check_audio_file(f)  # before the model loads (on the first good file)
            results.append(transcribe_one(assistant, f, args))
        except AudioInputError as exc:
            print(f"sori: error: {exc}", file=sys.stderr, flush=True)
            failed += 1
            if args.json:
                results.append({"file": str(f), "error": str(exc)})
            continue
        if args.verbose:
            _print_timings({"stt_ms": (time.perf_counter() - t0) * 1000})
        if not args.json:
            prefix = f"{f}: " if len(args.files) > 1 else ""
            print(prefix + results[-1]["text"], flush=True)
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
    return 1 if failed else 0


def cmd_say(args: argparse.Namespace) -> int:
    from assistant.errors import InputError

    if not args.text.strip():
        raise InputError("nothing to say: the text is empty")
    if len(args.text) > MAX_SAY_CHARS:
        raise InputError(
            f"the text is {len(args.text):,} characters long; the limit is {MAX_SAY_CHARS:,}: "
            "split it and say each part"
        )
    check_files(audio_out=args.output)  # before any work
    assistant = _assistant(args)
    speech = _speech_output(assistant, args.output, True)
    t0 = time.perf_counter()
    with speaking(speech):
        speech.say(args.text)
        speech.finish()
    if args.verbose:
        _print_timings(
            {
                "first_audio_ms": speech.first_audio_ms or 0.0,
                "total_ms": (time.perf_counter() - t0) * 1000,
            }
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from assistant import models

    settings = _settings(args)
    action = args.models_command
    if action == "list":
        prof = models.profiles()
        print(f"{'id':38} {'role':4} {'size':>9}  {'installed':9}  {'profiles':15} licence")
        bundled = models.paths.bundled_models_dir()
        for m in models.catalog().values():
            in_profiles = ",".join(p for p, ids in prof.items() if m.id in ids.values())
            state = "no"
            if models.is_installed(m.id):
                # A desktop bundle ships some models read-only; the user's own copy wins over them.
                shipped = bundled is not None and models.model_dir(m.id).is_relative_to(bundled)
                state = "bundled" if shipped else "yes"
            print(f"{m.id:38} {m.role:4} {m.size / 1e6:7.0f} MB  {state:9}  {in_profiles:15} {m.license}")
        print(f"models folder: {models.paths.models_dir()}")
        if bundled is not None:
            print(f"bundled models (read-only): {bundled}")
    elif action == "install":
        from tqdm import tqdm

        profile = args.install_profile or settings.profile
        bars: list[tqdm] = []

        def progress(label: str, total: int):
            bar = tqdm(
                total=total, unit="B", unit_scale=True, desc=label, leave=False, file=sys.stderr, disable=None
            )
            bars.append(bar)
            return bar.update

        wanted = [(models.manifest(i).role, i) for i in args.ids] or models.profile_models(profile).items()
        for role, model_id in wanted:
            report = models.install(model_id, force=args.force, progress=progress)
            for bar in bars:
                bar.close()
            bars.clear()
            state = "installed" if report.assembled else "already installed"
            print(f"{role}: {model_id} {state} in {models.model_dir(model_id)}")
    elif action == "verify":
        installed = [m for m in models.catalog() if models.model_dir(m).is_dir()]
        if not installed:
            raise SoriError("no models are installed; fix: sori models install")
        failed = 0
        for model_id in installed:  # every model is checked, even after a bad one
            try:
                models.verify(model_id)
                print(f"{model_id}: ok")
            except SoriError as exc:
                print(f"sori: error: {exc}", file=sys.stderr)
                failed += 1
        return 1 if failed else 0
    elif action == "path":
        value = {"stt": settings.stt.model, "llm": settings.llm.model, "tts": settings.tts.voice}[args.role]
        print(models.resolve(args.role, value, settings.profile).path)
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from assistant import paths
    from assistant.config import default_config_text, mask_secrets, settings_to_toml

    path = args.config or paths.config_file()
    if args.config_command == "path":
        print(path)
    elif args.config_command == "show":
        print(mask_secrets(settings_to_toml(_settings(args))), end="")
    else:
        import shlex
        import subprocess

        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(default_config_text(), "utf-8")
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "nano"
        subprocess.call([*shlex.split(editor), str(path)])
        _settings(args)  # validate what was written, so a mistake shows now
        print(f"{path}: ok")
    return 0


def _open_window(args: argparse.Namespace) -> int | None:
    """`sori` alone opens the window; without a display, the terminal chat (with a one-line reason)."""
    try:
        from ui import display_problem
    except ImportError as exc:  # PySide6 missing: the core still works in the terminal
        if args.screenshot:
            raise SoriError(
                f"the window needs PySide6 ({exc}); fix: pip install PySide6-Essentials"
            ) from None
        print(f"sori: no window ({exc}); starting the terminal chat", file=sys.stderr)
        return None
    problem = display_problem()
    if problem is not None:
        if args.screenshot:
            raise SoriError(f"cannot take a screenshot: {problem}; run it under xvfb-run -a")
        print(f"sori: {problem}; starting the terminal chat", file=sys.stderr)
        return None
    from ui.app import run_app

    return run_app(_settings(args), screenshot=args.screenshot, demo=args.demo)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"sori: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    sigterm = install_sigterm()  # first: a SIGTERM while the imports run also ends in one line
    try:
        return _main(argv, sigterm)
    except KeyboardInterrupt as exc:  # before the command started (imports), or after it ended
        return _interrupted(exc)
    finally:
        restore_sigterm(sigterm)


def _interrupted(exc: KeyboardInterrupt) -> int:
    if isinstance(exc, Terminated):
        print("\nsori: terminated", file=sys.stderr)
        return SIGTERM_EXIT
    print("\nsori: interrupted", file=sys.stderr)
    return 130


def _main(argv: list[str] | None, sigterm: object) -> int:
    import warnings

    warnings.showwarning = _show_warning  # one line for the user, not a source excerpt
    args = build_parser().parse_args(argv)
    _undecodable_bytes_replaced(args)
    command = args.command or "chat"
    try:
        if args.command is None:
            restore_sigterm(sigterm)  # the window handles SIGTERM its own way
            window = _open_window(args)
            if window is not None:
                return window
            install_sigterm()
            args = build_parser().parse_args([*(argv if argv is not None else sys.argv[1:]), "chat"])
        if command == "chat":
            from assistant.cli.chat import run_chat

            return run_chat(args, _settings(args))
        if command == "devices":
            from assistant.audio.devices import print_devices

            return print_devices()
        if command == "desktop":
            from assistant.cli.desktop import run_desktop

            return run_desktop(args.desktop_command)
        if command == "plugins":
            from assistant.cli.plugins import run_plugins

            return run_plugins(args, _settings(args))
        if command == "voice":
            from assistant.cli.voice import run_voice

            return run_voice(args, _settings(args))
        if command == "doctor":
            from assistant.cli.doctor import run_doctor

            return run_doctor(args, _settings(args))
        if command == "bench":
            from assistant.cli.bench import run_bench

            return run_bench(args, _settings(args))
        handler = {
            "ask": cmd_ask,
            "transcribe": cmd_transcribe,
            "say": cmd_say,
            "models": cmd_models,
            "config": cmd_config,
        }[command]
        return handler(args)
    except SoriError as exc:
        print(f"sori: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except BrokenPipeError:
        return 0
    finally:
        while _OPEN:
            _OPEN.pop().close()
