"""`sori voice list|clone`: the voices Sori can speak with, and new ones cloned from a recording."""

from __future__ import annotations

import argparse

from assistant.config import Settings
from assistant.errors import InputError


def add_parser(sub) -> None:
    """Register `sori voice` on the main parser's subcommands."""
    v = sub.add_parser("voice", help="voices: list them, or clone one from a recording (Pocket TTS)")
    vsub = v.add_subparsers(dest="voice_command", metavar="ACTION", required=True)
    vsub.add_parser("list", help="every voice, whether it can speak now, and the one in use")
    vc = vsub.add_parser("clone", help="keep a 3-30 s recording of one speaker as a named voice")
    vc.add_argument("recording", metavar="REC.wav", help="the recording (wav, flac, mp3, ogg or m4a)")
    vc.add_argument("--name", required=True, help='the voice\'s name; then use voice = "pocket:NAME"')
    vc.add_argument("--replace", action="store_true", help="replace a voice of the same name")


def run_voice(args: argparse.Namespace, settings: Settings) -> int:
    if args.voice_command == "clone":
        return _clone(args, settings)
    if args.voice_command == "list":
        return _list(settings)
    raise InputError(f"unknown voice action {args.voice_command!r}; use list or clone")


def _clone(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.tts.cloned import missing_pocket_message, pocket_model_dir, store

    voice = store(args.name, args.recording, replace=args.replace)
    print(f"voice {voice.name}: {voice.speech_s:.1f} s of speech kept in {voice.path}")
    value = f"pocket:{voice.name}"
    print(f'speak with it: sori --voice {value} say "Hello", or in the config: voice = "{value}"')
    folder = pocket_model_dir(settings.tts.pocket_model)
    if folder is None or not folder.is_dir():
        print(f"note: {missing_pocket_message(settings.tts.pocket_model)}")
    return 0


def _list(settings: Settings) -> int:
    from assistant import models
    from assistant.tts.select import available_voices

    current = settings.tts.voice or models.profile_models(settings.profile)["tts"]
    voices = available_voices(settings)
    width = max((len(v.value) for v in voices), default=10)
    for v in voices:
        mark = "*" if v.value == current else " "
        state = "ok " if v.usable else "no "
        about = v.label.split(" — ", 1)[-1]
        print(f"{mark} {v.value:{width}}  {state} {about}")
        if not v.usable:
            print(f"  {'':{width}}      {v.detail}")
    print(f"in use: {current} (marked *); choose with [tts] voice in the config or --voice")
    return 0
