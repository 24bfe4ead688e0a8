"""`sori bench stt|llm|tts`: Sori's engine and the bare library on the same inputs, in the same run.

Runs alternate between the two (Sori, bare, Sori, bare, ...) so machine noise hits both alike; the
median of each is reported with their ratio (Sori / bare: 1.00 means no overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from assistant.config import Settings
from assistant.core import Assistant
from assistant.errors import InputError


def shared_dir() -> Path:
    """The evaluation data: SORI_SHARED_DIR, or ../shared beside the source checkout."""
    env = os.environ.get("SORI_SHARED_DIR")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "shared"
    if not (path / "eval").is_dir():
        raise InputError(f"benchmark data not found in {path}; set SORI_SHARED_DIR to the shared/ folder")
    return path


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def _pair(runs: int, sori: Callable[[], dict[str, float]], bare: Callable[[], dict[str, float]]):
    sori(), bare()  # warm-up: load models, fill caches
    s_runs: list[dict[str, float]] = []
    b_runs: list[dict[str, float]] = []
    for _ in range(runs):
        s_runs.append(sori())
        b_runs.append(bare())
    keys = s_runs[0].keys()
    return (
        {k: _median([r[k] for r in s_runs]) for k in keys},
        {k: _median([r[k] for r in b_runs]) for k in keys},
    )


def bench_stt(assistant: Assistant, runs: int) -> dict:
    from faster_whisper import WhisperModel

    from assistant.audio.decode import SAMPLE_RATE, decode_file

    data = shared_dir()
    files = sorted((data / "audio").glob("*")) + sorted((data / "eval" / "utterances").glob("*.wav"))
    audio = [decode_file(f) for f in files]
    seconds = sum(len(a) for a in audio) / SAMPLE_RATE
    stt = assistant.stt
    stt.load()  # type: ignore[attr-defined]
    lang = "en" if not stt.multilingual else None  # type: ignore[attr-defined]
    bare_model = WhisperModel(str(stt.model.path), device=stt.device, compute_type=stt.compute_type)  # type: ignore[attr-defined]

    def sori() -> dict[str, float]:
        t0 = time.perf_counter()
        for a in audio:
            stt.transcribe(a, language=lang)
        return {"rtf": (time.perf_counter() - t0) / seconds}

    def bare() -> dict[str, float]:
        t0 = time.perf_counter()
        for a in audio:
            segments, _ = bare_model.transcribe(
                a, language=lang, beam_size=1, condition_on_previous_text=False
            )
            list(segments)
        return {"rtf": (time.perf_counter() - t0) / seconds}

    s, b = _pair(runs, sori, bare)
    return {"model": stt.name, "files": len(files), "audio_s": round(seconds, 1), "sori": s, "bare": b}


PROMPTS = [
    "What is the capital of France?",
    "Give me three tips for sleeping better.",
    "Explain in two sentences why the sky is blue.",
]
# Requests for a built-in tool: the time until the call (name and arguments) is known.
TOOL_PROMPTS = [
    "Set a timer for ten minutes.",
    "What's the weather like in Lisbon?",
    "What is 17 times 23?",
]


def bench_llm(assistant: Assistant, runs: int) -> dict:
    import llama_cpp

    from assistant.llm import ChatMessage

    llm = assistant.local_llm
    if llm is None:
        raise InputError("bench llm measures the local llama.cpp model; clear llm.server_url")
    llm.load()
    system = assistant.settings.llm.system_prompt
    max_tokens = 64
    bare_llama = llama_cpp.Llama(
        model_path=str(llm.model.path),
        n_ctx=llm.context_size,
        n_threads=llm.n_threads,  # type: ignore[attr-defined]
        n_gpu_layers=llm.n_gpu_layers_used,  # type: ignore[attr-defined]
        verbose=False,  # the library's own choice of chat template, as a user of it would get
    )

    def measure(stream, first_key: str) -> dict[str, float]:
        t0 = time.perf_counter()
        first = None
        n = 0
        for _ in stream:
            if first is None:
                first = time.perf_counter()
            n += 1
        end = time.perf_counter()
        return {first_key: (first - t0) * 1000, "tok_s": (n - 1) / (end - first) if n > 1 else 0.0}

    def sori_stream(prompt: str, cold: bool):
        if cold:
            llm._llama.reset()  # type: ignore[attr-defined]
        msgs = [ChatMessage("system", system), ChatMessage("user", prompt)]
        return (d for d in llm.generate(msgs, max_tokens=max_tokens, temperature=0.0))

    def bare_stream(prompt: str, cold: bool):
        if cold:
            bare_llama.reset()
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        out = bare_llama.create_chat_completion(msgs, max_tokens=max_tokens, temperature=0.0, stream=True)
        return (c for c in out if c["choices"][0]["delta"].get("content"))

    def sori_call(prompt: str) -> float:
        # As a turn takes it: the router's tools, the prefix they make already cached, the fast path.
        tools = assistant.tool_schemas(prompt)
        tool = next(t for t in tools if t["function"]["name"] == assistant.router().confident(prompt))
        assistant.warm(tools)
        llm.prefill([ChatMessage("system", system), ChatMessage("user", "Hello.")], max_tokens, tools)
        t0 = time.perf_counter()
        llm.forced_call([ChatMessage("system", system), ChatMessage("user", prompt)], tool, 64, offered=tools)
        return (time.perf_counter() - t0) * 1000

    def bare_call(prompt: str) -> float:
        # The library's own tool calling, the same tools offered, the call forced to the right one; the
        # same prefix evaluated just before (its own prompt cache), as for Sori.
        tools = assistant.tool_schemas(prompt)
        name = assistant.router().confident(prompt)
        kwargs = {"tools": tools, "tool_choice": {"type": "function", "function": {"name": name}}}
        hello = [{"role": "system", "content": system}, {"role": "user", "content": "Hello."}]
        bare_llama.create_chat_completion(hello, max_tokens=1, temperature=0.0, **kwargs)
        t0 = time.perf_counter()
        msgs = [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
        bare_llama.create_chat_completion(msgs, max_tokens=64, temperature=0.0, **kwargs)
        return (time.perf_counter() - t0) * 1000

    def run(make, call) -> dict[str, float]:
        cold = [measure(make(p, True), "first_token_ms") for p in PROMPTS]
        warm = [measure(make(p, False), "first_token_ms") for p in PROMPTS]  # system prompt reused
        return {
            "cold_first_token_ms": _median([c["first_token_ms"] for c in cold]),
            "reused_prefix_first_token_ms": _median([w["first_token_ms"] for w in warm]),
            "tool_call_ms": _median([call(p) for p in TOOL_PROMPTS]),
            "tok_s": _median([c["tok_s"] for c in cold + warm]),
        }

    s, b = _pair(runs, lambda: run(sori_stream, sori_call), lambda: run(bare_stream, bare_call))
    return {"model": llm.name, "prompts": len(PROMPTS), "max_tokens": max_tokens, "sori": s, "bare": b}


def bench_tts(assistant: Assistant, runs: int, sentences: Path | None = None) -> dict:
    from assistant.cli.bench_tts import bench_tts as run

    return run(assistant, runs, sentences or shared_dir() / "eval" / "harvard.txt")


def run_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.target == "echo":
        from assistant.cli.bench_echo import run_echo_bench

        return run_echo_bench(args, settings)
    if args.target == "bfcl":
        from assistant.bfcl.bench import run_bfcl_bench

        return run_bfcl_bench(args, settings)
    if args.runs is None:
        args.runs = {"latency": 1, "barge-in": 8}.get(args.target, 3)
    if args.runs < 1:
        raise InputError("--runs must be at least 1")
    assistant = Assistant(settings)
    if args.target in ("latency", "barge-in"):
        return _run_voice_bench(args, assistant)
    if args.target == "tools":
        return _run_tools_bench(args, assistant)
    if args.target == "tts":
        result = bench_tts(assistant, args.runs, getattr(args, "cases", None))
    else:
        result = {"stt": bench_stt, "llm": bench_llm}[args.target](assistant, args.runs)
    s, b = result["sori"], result["bare"]
    result["ratio"] = {k: round(s[k] / b[k], 3) if b[k] else None for k in s}
    result["runs"] = args.runs
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"bench {args.target}: "
        + ", ".join(
            f"{k}={v}" for k, v in result.items() if k not in ("sori", "bare", "ratio", "runs", "voices")
        )
    )
    print(f"{'metric':32} {'sori':>10} {'bare':>10} {'sori/bare':>10}")
    for k in s:
        ratio = result["ratio"][k]
        print(f"{k:32} {s[k]:10.3f} {b[k]:10.3f} {ratio if ratio is not None else float('nan'):10.3f}")
    if "voices" in result:
        _print_voices(result)
    return 0


def _print_voices(result: dict) -> None:
    """Each voice: Sori's engine beside its bare library; WER is the round trip through the profile's STT."""
    heard = f"{result['sentences']} sentences of {result['file']}, heard by {result['stt']}"
    print(f"every usable voice ({heard}):")
    print(f"{'voice':26} {'engine':18} {'':5} {'WER':>6} {'RTF':>7} {'first ms':>9}")
    for v in result["voices"]:
        for side in ("sori", "bare"):
            m = v[side]
            wer = f"{m['wer']:6.1%}" if "wer" in m else f"{'':6}"
            name, engine = (v["voice"], v["engine"]) if side == "sori" else ("", "")
            print(f"{name:26} {engine:18} {side:5} {wer} {m['rtf']:7.3f} {m['first_chunk_ms']:9.1f}")


def _run_voice_bench(args: argparse.Namespace, assistant: Assistant) -> int:
    import tempfile

    from assistant.cli.bench_voice import bench_barge_in, bench_latency
    from assistant.store import ConversationStore

    with tempfile.TemporaryDirectory() as tmp:
        assistant._store = ConversationStore(Path(tmp) / "bench.sqlite3")  # keep the user's history clean
        if args.target == "latency":
            pauses = None if args.no_pauses else _pause_set(args.pauses)
            result = bench_latency(assistant, args.runs, shared_dir(), args.limit)
            if pauses is not None:
                from assistant.cli.bench_pauses import bench_pauses

                result["pauses"] = bench_pauses(assistant, pauses, per_kind=args.limit)
        else:
            result = bench_barge_in(assistant, args.runs, shared_dir())
        assistant.store.close()
    if args.json:
        print(json.dumps(result))
        return 0
    if args.target == "latency":
        ratio = result["baseline_p50_ms"] / result["p50_ms"] if result["p50_ms"] else float("nan")
        print(f"bench latency ({result['profile']} profile, {result['runs']} spoken questions, real time)")
        print(f"{'voice-to-first-audio':28} {'p50 ms':>9} {'p90 ms':>9}")
        print(f"{'sori (streaming)':28} {result['p50_ms']:9.0f} {result['p90_ms']:9.0f}")
        print(f"{'sequential baseline':28} {result['baseline_p50_ms']:9.0f} {result['baseline_p90_ms']:9.0f}")
        # The ratio says which way it goes: a streaming loop slower than the baseline must read as slower.
        verdict = f"sori {ratio:.2f}x faster" if ratio >= 1 else f"sori {1 / ratio:.2f}x slower"
        print(f"baseline / sori (p50): {ratio:.2f} ({verdict})")
        print("where the time goes (median ms after the end of speech):")
        for stage, ms in result["stages_ms"].items():
            print(f"  {stage:26} {ms:8.0f}")
        print("each question (ms after the end of speech; a filler never counts as first audio):")
        print(f"  {'question':22} {'tool':16} {'first audio':>11} {'filler':>8} {'baseline':>9}")
        for row in result["questions"]:
            cells = [row["first_audio_ms"], row["filler_audio_ms"], row["baseline_first_audio_ms"]]
            sori, filler, base = (f"{v:.0f}" if v is not None else "-" for v in cells)
            print(f"  {row['question']:22} {row['tool'] or '-':16} {sori:>11} {filler:>8} {base:>9}")
        if "pauses" in result:
            _print_pauses(result["pauses"])
    else:
        print(f"bench barge-in ({result['profile']} profile, {result['runs']} interruptions)")
        print(
            f"user speech onset -> playback stopped: p50 {result['stop_ms_p50']} ms, "
            f"max {result['stop_ms_max']} ms"
        )
    return 0


def _pause_set(folder: Path | None) -> Path | None:
    """The pause recordings: the folder given (which must hold the set), else the repository's if present."""
    from assistant.cli.bench_pauses import MANIFEST

    if folder is not None:
        if not (folder / MANIFEST).is_file():
            raise InputError(
                f"{folder} holds no {MANIFEST}; give the folder of the pause set (tests/data/pauses)"
            )
        return folder
    here = Path(__file__).resolve().parents[2] / "tests" / "data" / "pauses"
    return here if (here / MANIFEST).is_file() else None


def _print_pauses(p: dict) -> None:
    """End-of-turn decisions on the pause set: none inside a pause, and whole questions decided early."""
    paused, complete = p["paused"], p["complete"]
    print(f"end of turn: {paused['files']} questions with a pause mid-sentence, {complete['files']} without")
    print(f"  false_cutoffs {len(p['false_cutoffs'])} (a turn ended inside the pause)")
    print(f"  late_ends {len(p['late_ends'])} (a whole question decided after {p['late_limit_ms']:.0f} ms)")
    print(f"  decided, ms after the last word: whole p50 {complete['p50_ms']} p90 {complete['p90_ms']},")
    print(f"  with a pause p50 {paused['p50_ms']} p90 {paused['p90_ms']}")
    for r in p["false_cutoffs"]:
        print(f"  cut off: {r['file']} at {r['decided_ms']} ms: {r['transcript']!r}")
    for r in p["late_ends"]:
        print(f"  late: {r['file']} at {r['decided_ms']} ms: {r['transcript']!r}")


def _run_tools_bench(args: argparse.Namespace, assistant: Assistant) -> int:
    from assistant.cli.bench_tools import bench_tools

    cases = args.cases or shared_dir() / "eval" / "tool_calls.jsonl"
    result = bench_tools(assistant, cases)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"bench tools ({result['profile']} profile, {result['cases']} cases from {cases}, tools dry-run)")
    print(f"{'':18} {'tool choice':>12} {'arguments':>10} {'p50 ms':>8} {'max ms':>8}")
    for label, r in (("fast path on", result), ("fast path off", result["without_fast_path"])):
        print(
            f"{label:18} {r['tool_accuracy']:12.1%} {r['args_accuracy'] or 0:10.1%} "
            f"{r['latency_ms_p50']:8.0f} {r['latency_ms_max']:8.0f}"
        )
    for f in result["failures"]:
        called = f"{f['called']} {f['arguments'] or ''}".strip()
        print(f"  miss: {f['utterance']!r}: expected {f['expected']}, called {called}")
    return 0
