"""`sori bench latency` and `sori bench barge-in`: the whole voice loop, in real time, on recorded speech.

Latency is voice-to-first-audio: from the end of the user's speech (found in the recording itself) to the
first reply sample reaching the sink, on the sink's own timestamps. Each question is also run through a
plain sequential pipeline (wait for the end of turn, transcribe, generate the whole reply, synthesize all
of it, play) in the same run, alternating with the streaming loop, and the ratio is printed.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from assistant.audio.sources import ScriptedSource, ScriptItem, speech_bounds
from assistant.audio.timed_sink import TimestampedWavSink
from assistant.audio.vad import TurnDetector, TurnEnded, VadConfig
from assistant.audio.wav import write_wav
from assistant.core import Assistant
from assistant.events import BargeIn, Event
from assistant.pipeline import VoiceLoop

TAIL_S = 2.5  # silence after each question: enough for the end of turn and the first reply audio


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    return float(np.percentile(np.array(xs), q))


def _speech_end_s(path: Path) -> float:
    """Where the speech in a recording ends (seconds from its start), from its own samples."""
    from assistant.audio.decode import decode_file

    bounds = speech_bounds(decode_file(path))
    return bounds[1] if bounds else 0.0


def questions(assistant: Assistant, data: Path, workdir: Path) -> list[Path]:
    """The shared recordings, plus the same questions in the profile's own voice."""
    folder = data / "eval" / "utterances"
    files = sorted(folder.glob("*.wav"))
    rows = [
        line.split("\t") for line in (folder / "transcripts.tsv").read_text().splitlines() if "\t" in line
    ]
    tts = assistant.tts
    for name, text in rows:
        if name == "file":
            continue
        out = workdir / f"own_{Path(name).stem}.wav"
        chunks = [c.samples for c in tts.synthesize(text)]
        rate = tts.sample_rate
        pad = [np.zeros(int(0.3 * rate), np.float32)], [np.zeros(rate, np.float32)]
        write_wav(out, [*pad[0], *chunks, *pad[1]], rate)
        files.append(out)
    return files


def _streaming_run(assistant: Assistant, path: Path, workdir: Path) -> dict[str, float] | None:
    conv = assistant.store.new_conversation(title="bench latency")
    source = ScriptedSource([ScriptItem(path)], tail_silence_s=TAIL_S + 3)
    first: list[float] = []
    done = threading.Event()

    def on_play(samples, rate, t):
        if not first:
            first.append(t)
            done.set()

    sink = TimestampedWavSink(workdir / "stream.wav", on_play=on_play)
    loop = VoiceLoop(assistant, source, sink, conv.id)
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    done.wait(timeout=60)
    time.sleep(0.05)
    loop.stop()
    runner.join()
    sink.close()
    if not first or not loop.turns:
        return None
    speech_end = source.t0 + _speech_end_s(path)
    turn = loop.turns[0]
    points = {"turn_decided": turn.decided, "transcript_ready": turn.transcript_ready, **turn.marks}
    out = {f"{k}_ms": (v - speech_end) * 1000 for k, v in points.items() if v and k != "last_audio"}
    out["first_audio_ms"] = (first[0] - speech_end) * 1000
    return out


def _sequential_run(assistant: Assistant, path: Path, workdir: Path) -> float | None:
    """The baseline: every stage waits for the previous one to finish completely."""
    source = ScriptedSource([ScriptItem(path)], tail_silence_s=TAIL_S)
    detector = TurnDetector(VadConfig(end_silence_ms=assistant.settings.voice.end_silence_ms))
    ended: TurnEnded | None = None
    for frame in source:
        ended = next((e for e in detector.process(frame) if isinstance(e, TurnEnded)), None)
        if ended is not None:
            break
    source.close()
    if ended is None:
        return None
    speech_end = source.t0 + _speech_end_s(path)
    text = assistant.transcribe(ended.audio).text
    # The same answer as the streaming loop gives (tools included), only each stage waits for the last.
    conv = assistant.store.new_conversation(title="bench latency (sequential)")
    reply = assistant.reply(conv.id, text).text if text else ""
    chunks = [c.samples for c in assistant.tts.synthesize(reply)]
    if not chunks:
        return None
    sink = TimestampedWavSink(workdir / "seq.wav")
    t = time.monotonic()
    sink.play(np.concatenate(chunks)[: assistant.tts.sample_rate // 10], assistant.tts.sample_rate)
    sink.close()
    return (t - speech_end) * 1000


def bench_latency(assistant: Assistant, runs: int, data: Path, limit: int | None = None) -> dict:
    for engine in (assistant.stt, assistant.llm, assistant.tts):
        engine.load()  # type: ignore[attr-defined]
    streaming: list[float] = []
    baseline: list[float] = []
    stages: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = questions(assistant, data, workdir)[:limit]
        _streaming_run(assistant, files[0], workdir)  # warm-up, not counted
        for _ in range(runs):
            for path in files:
                result = _streaming_run(assistant, path, workdir)
                if result is not None:
                    streaming.append(result["first_audio_ms"])
                    for k, v in result.items():
                        stages.setdefault(k, []).append(v)
                seq = _sequential_run(assistant, path, workdir)
                if seq is not None:
                    baseline.append(seq)
    return {
        "p50_ms": round(_pct(streaming, 50), 1),
        "p90_ms": round(_pct(streaming, 90), 1),
        "baseline_p50_ms": round(_pct(baseline, 50), 1),
        "baseline_p90_ms": round(_pct(baseline, 90), 1),
        "runs": len(streaming),
        "stages_ms": {
            k: round(statistics.median(v), 1)
            for k, v in sorted(stages.items(), key=lambda kv: statistics.median(kv[1]))
        },
        "profile": assistant.settings.profile,
    }


def bench_barge_in(assistant: Assistant, runs: int, data: Path) -> dict:
    for engine in (assistant.stt, assistant.llm, assistant.tts):
        engine.load()  # type: ignore[attr-defined]
    from assistant.audio.decode import decode_file

    folder = data / "eval" / "utterances"
    ask = folder / "q07_joke.wav"
    interruptions = [decode_file(p) for p in sorted(folder.glob("*.wav")) if p != ask]
    stops: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            speech = interruptions[i % len(interruptions)]
            lead_in = (speech_bounds(speech) or (0.0, 0.0))[0]
            source = ScriptedSource([ScriptItem(ask)], tail_silence_s=20)
            onset: list[float] = []
            delay = 0.8 + 0.3 * (i % 4)  # the user cuts in at different points of the answer

            def on_play(
                samples, rate, t, source=source, onset=onset, speech=speech, lead_in=lead_in, delay=delay
            ):
                if not onset:
                    source.add_echo(speech, t + delay)
                    onset.append(t + delay + lead_in)

            sink = TimestampedWavSink(Path(tmp) / "b.wav", on_play=on_play)
            conv = assistant.store.new_conversation(title="bench barge-in")
            barged = threading.Event()

            def on_event(event: Event, barged=barged) -> None:
                if isinstance(event, BargeIn):
                    barged.set()

            loop = VoiceLoop(assistant, source, sink, conv.id, on_event=on_event)
            runner = threading.Thread(target=loop.run, daemon=True)
            runner.start()
            barged.wait(timeout=60)
            loop.stop()
            runner.join()
            sink.close()
            cut = [c for c in sink.chunks if c.stopped]
            if onset and cut:
                stops.append((cut[0].t_end - onset[0]) * 1000)
    return {
        "stop_ms_p50": round(_pct(stops, 50), 1),
        "stop_ms_max": round(max(stops), 1) if stops else None,
        "runs": len(stops),
        "profile": assistant.settings.profile,
    }
