"""The `sori` command line's arguments: every subcommand, its options and their help."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import __version__


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sori",
        description="Sori: a voice assistant that runs on your own computer. Talk or type; it answers in "
        "text and out loud.",
    )
    p.add_argument("--version", action="version", version=f"sori {__version__}")
    p.add_argument("--profile", choices=["default", "small"], help="model profile (default: from the config)")
    p.add_argument("--config", type=Path, help="config file (default: sori config path)")
    p.add_argument(
        "--plugins-dir",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="extra plugin folder (repeatable)",
    )
    p.add_argument(
        "--stt-model", metavar="ID|PATH", help="speech model: catalog id or CTranslate2 Whisper folder"
    )
    p.add_argument("--llm-model", metavar="ID|PATH", help="chat model: catalog id or .gguf file")
    p.add_argument(
        "--voice", metavar="VOICE", help="voice: catalog id, Piper .onnx, sherpa-onnx folder or pocket:NAME"
    )
    p.add_argument(
        "--llm-server", metavar="URL", help="use an OpenAI-compatible server instead of a local model"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print per-stage timings")
    p.add_argument(
        "--screenshot",
        type=Path,
        metavar="FILE.png",
        help="open the window, wait until it is ready, save a picture of it, exit",
    )
    p.add_argument(
        "--demo", action="store_true", help="with --screenshot: show a short conversation if empty"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("chat", help="terminal chat (the answer streams; --speak also says it)")
    c.add_argument("--new", action="store_true", help="start a new conversation")
    c.add_argument("--conversation", type=int, metavar="ID", help="continue conversation ID")
    c.add_argument("--speak", action="store_true", help="speak each sentence as soon as it is complete")
    c.add_argument("--audio-out", type=Path, metavar="FILE.wav", help="write Sori's speech to a WAV file")
    c.add_argument(
        "--listen", action="store_true", help="hands-free: talk, Sori answers aloud; interrupt any time"
    )
    c.add_argument(
        "--audio-in",
        type=Path,
        action="append",
        metavar="FILE",
        help="with --listen: play these recordings instead of the microphone (repeatable)",
    )
    c.add_argument(
        "--gap",
        type=float,
        default=8.0,
        metavar="S",
        help="with --audio-in: seconds of silence after each recording (default 8)",
    )
    c.add_argument(
        "--room",
        type=int,
        nargs="?",
        const=0,
        metavar="SEED",
        help="with --audio-in: hear it in a simulated room where Sori's answers echo back (seeded)",
    )

    a = sub.add_parser("ask", help="answer one question and exit")
    a.add_argument("text", nargs="?", help="the question (or use --audio-in)")
    a.add_argument(
        "--audio-in", type=Path, metavar="FILE", help="take the question as speech from an audio file"
    )
    a.add_argument("--audio-out", type=Path, metavar="FILE.wav", help="write the spoken answer to a WAV file")
    a.add_argument("--speak", action="store_true", help="say the answer on the speaker")
    a.add_argument("--json", action="store_true", help="print one JSON object")

    t = sub.add_parser("transcribe", help="print the text spoken in audio files")
    t.add_argument("files", nargs="+", type=Path, metavar="FILE")
    t.add_argument("--language", help="language code (default: detect)")
    t.add_argument("--translate", action="store_true", help="translate the speech to English")
    t.add_argument(
        "--split-channels", action="store_true", help="transcribe left and right channels separately"
    )
    t.add_argument("--json", action="store_true", help="print a JSON list")

    s = sub.add_parser("say", help="speak text (to the speaker, or -o FILE.wav)")
    s.add_argument("text")
    s.add_argument("-o", "--output", type=Path, metavar="FILE.wav")

    m = sub.add_parser("models", help="list, install, verify the models")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="the catalog, and what is installed")
    mi = msub.add_parser("install", help="assemble and verify a profile's models (or the catalog ids given)")
    mi.add_argument("ids", nargs="*", metavar="ID", help="catalog models to install instead (another voice)")
    mi.add_argument("--profile", dest="install_profile", choices=["default", "small"])
    mi.add_argument("--force", action="store_true", help="assemble again even if installed")
    msub.add_parser("verify", help="re-check every installed model's sha256")
    mp = msub.add_parser("path", help="print where a role's model is")
    mp.add_argument("role", choices=["stt", "llm", "tts"])

    cf = sub.add_parser("config", help="the config file")
    cf.add_argument("config_command", choices=["path", "show", "edit"])

    sub.add_parser("doctor", help="check Python, packages, models, audio, GPU and display")
    sub.add_parser("devices", help="list audio inputs and outputs")
    dk = sub.add_parser("desktop", help="add Sori to the Linux application menu, or remove it")
    dksub = dk.add_subparsers(dest="desktop_command", metavar="ACTION", required=True)
    dksub.add_parser("install", help="write the menu entry, icons and metainfo under $XDG_DATA_HOME")
    dksub.add_parser("uninstall", help="remove exactly what install wrote")

    pl = sub.add_parser("plugins", help="tools Sori can call: list, check, new")
    plsub = pl.add_subparsers(dest="plugins_command", metavar="ACTION", required=True)
    plsub.add_parser("list", help="each tool with its file, and every file that failed to load")
    pc = plsub.add_parser("check", help="validate one plugin file and print its schemas")
    pc.add_argument("file", type=Path)
    pc.add_argument(
        "--say",
        action="append",
        metavar="TEXT",
        help="a request to route: which tools it is offered, and whether the fast path runs one (repeatable)",
    )
    pn = plsub.add_parser("new", help="write a commented plugin template into your plugins folder")
    pn.add_argument("name")

    from assistant.cli.voice import add_parser as add_voice_parser

    add_voice_parser(sub)

    b = sub.add_parser("bench", help="benchmark an engine against the bare library")
    b.add_argument("target", choices=["stt", "llm", "tts", "latency", "barge-in", "tools", "echo", "bfcl"])
    b.add_argument(
        "--cases", type=Path, metavar="FILE", help="tools: a tool-call case file (JSON lines); tts: sentences"
    )
    b.add_argument(
        "--limit", type=int, metavar="N", help="latency: N questions, N pause recordings of each kind"
    )
    b.add_argument(
        "--pauses",
        type=Path,
        metavar="FOLDER",
        help="latency: the recordings with mid-sentence pauses (default: the repository's tests/data/pauses)",
    )
    b.add_argument("--no-pauses", action="store_true", help="latency: leave the pause set out")
    b.add_argument(
        "--runs",
        type=int,
        metavar="N",
        help="repetitions (default: 3; latency: 1 pass over the 16 questions; barge-in: 8 interruptions)",
    )
    b.add_argument("--scenes", type=int, metavar="N", help="echo: simulated rooms (default 40)")
    b.add_argument("--data", type=Path, metavar="FOLDER", help="bfcl: BFCL_*.json (default bfcl-eval's)")
    b.add_argument(
        "--categories",
        metavar="LIST",
        help="bfcl: comma-separated (default simple_python,multiple,irrelevance,parallel)",
    )
    b.add_argument("--sample", type=int, metavar="N", help="bfcl: cases per category (default 20; 0 = all)")
    b.add_argument("--seed", type=int, default=0, help="bfcl: cases sampled; echo: set of rooms (default 0)")
    b.add_argument("--json", action="store_true")
    return p
