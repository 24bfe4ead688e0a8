"""`sori bench latency` and `sori bench barge-in`: the whole voice loop, in real time, on recorded speech.

Latency is voice-to-first-audio: from the end of the user's speech (found in the recording itself) to the
first sample of the answer handed to the sink, on the pipeline clock. A filler said while a slow tool runs
("One moment.") is not the answer: it is reported apart (filler_audio_ms) and never counts as first audio.
Each question is also run through a plain sequential pipeline (wait for the end of turn, transcribe,
generate the whole reply, synthesize all of it, play), under the same prompt-cache conditions as the loop
(see _same_start), and the ratio is printed.
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
from assistant.chain import chat_messages
from assistant.core import Assistant
from assistant.events import BargeIn, ErrorEvent, Event, ReplyDone
from assistant.llm import ChatMessage
from assistant.pipeline import VoiceLoop

TAIL_S = 2.5  # silence after each question: enough for the end of turn and the first reply audio
ANSWER_TIMEOUT_S = 180.0  # a whole spoken answer, on a slow machine
# The loop's milestones, in ms after the end of speech, as each per-question row names them.
LOOP_STAGES = ("turn_decided", "transcript_ready", "first_token", "first_tts_chunk", "first_audio")
NEUTRAL_QUESTION = "Hello."


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    return float(np.percentile(np.array(xs), q))


def _speech_end_s(path: Path) -> float:
    """Where the speech in a recording ends (seconds from its start), from its own samples."""
    from assistant.audio.decode import decode_file

    bounds = speech_bounds(decode_file(path))
    return bounds[1] if bounds else 0.0


def _transcripts(data: Path) -> dict[str, str]:
    """What each shared recording says, by file stem."""
    table = data / "eval" / "utterances" / "transcripts.tsv"
    rows = [line.split("\t") for line in table.read_text().splitlines() if "\t" in line]
    return {Path(name).stem: text for name, text in rows if name != "file"}


def questions(assistant: Assistant, data: Path, workdir: Path) -> list[Path]:
    """The shared recordings, plus the same questions in the profile's own voice (named own_<stem>)."""
    files = sorted((data / "eval" / "utterances").glob("*.wav"))
    tts = assistant.tts
    for stem, text in _transcripts(data).items():
        out = workdir / f"own_{stem}.wav"
        chunks = [c.samples for c in tts.synthesize(text)]
        rate = tts.sample_rate
        pad = [np.zeros(int(0.3 * rate), np.float32)], [np.zeros(rate, np.float32)]
        write_wav(out, [*pad[0], *chunks, *pad[1]], rate)
        files.append(out)
    return files


def _same_start(assistant: Assistant, expected: str) -> None:
    """Put the model's prompt cache in the same state before every timed run, the loop's and the baseline's.

    The cache holds one prompt: run after the loop on the same question, the baseline found its whole
    prompt already evaluated. So before each run: the question's system+tools prefix is saved to disk
    (evaluated once, untimed; each run then loads it as a warm Sori does), and the cache is left holding
    an unrelated exchange, as after an earlier turn. Neither run inherits the other's work; the loop keeps
    only what it does itself while the user is still speaking (speculative prefill).
    """
    local = assistant.local_llm
    if local is None:
        return  # a chat server keeps its own cache, out of reach
    assistant.warm(assistant.tool_schemas(expected) if expected else None)
    neutral = [
        *chat_messages(assistant.settings.llm.system_prompt, []),
        ChatMessage("user", NEUTRAL_QUESTION),
    ]
    local.prefill(neutral, assistant.settings.llm.max_tokens, None)


def _tool_called(assistant: Assistant, conversation_id: int) -> str | None:
    for message in assistant.store.messages(conversation_id):
        names = [c["name"] for c in message.tool_calls if c.get("name")]
        if message.role == "assistant" and names:
            return names[0]
    return None


def _streaming_run(assistant: Assistant, path: Path, workdir: Path) -> dict | None:
    """One question through the voice loop: its transcript, tool, and milestones in ms after speech end."""
    conv = assistant.store.new_conversation(title="bench latency")
    source = ScriptedSource([ScriptItem(path)], tail_silence_s=TAIL_S + 3)
    answered = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, (ReplyDone, ErrorEvent)):
            answered.set()

    sink = TimestampedWavSink(workdir / "stream.wav")
    loop = VoiceLoop(assistant, source, sink, conv.id, on_event=on_event)
    runner = threading.Thread(target=loop.run, daemon=True)
    runner.start()
    # The answer's first audio is known once it is over (a filler may have played first): let it finish.
    answered.wait(timeout=ANSWER_TIMEOUT_S)
    loop.stop()
    runner.join()
    sink.close()
    if not loop.turns:
        return None
    speech_end = source.t0 + _speech_end_s(path)
    turn = loop.turns[0]
    points = {"turn_decided": turn.decided, "transcript_ready": turn.transcript_ready, **turn.marks}
    ms = {k: round((v - speech_end) * 1000, 1) for k, v in points.items() if v}
    row: dict = {"transcript": turn.transcript, "tool": _tool_called(assistant, conv.id)}
    row.update({f"{k}_ms": ms.get(k) for k in LOOP_STAGES})
    row["filler_audio_ms"] = ms.get("filler_audio")
    return row


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
    # No speech while it runs, so no filler: its first audio is the answer's.
    conv = assistant.store.new_conversation(title="bench latency (sequential)")
    reply = assistant.reply(conv.id, text).text if text else ""
    chunks = [c.samples for c in assistant.tts.synthesize(reply)]
    if not chunks:
        return None
    sink = TimestampedWavSink(workdir / "seq.wav")
    t = time.monotonic()
    sink.play(np.concatenate(chunks)[: assistant.tts.sample_rate // 10], assistant.tts.sample_rate)
    sink.close()
    return round((t - speech_end) * 1000, 1)


def _question_row(assistant: Assistant, path: Path, expected: str, loop_first: bool, workdir: Path) -> dict:
    """One question through both pipelines, each from the same cache state, in the order given."""
    row: dict = {"question": path.name, "order": "loop first" if loop_first else "baseline first"}
    stream: dict | None = None
    baseline: float | None = None
    for which in ("loop", "baseline") if loop_first else ("baseline", "loop"):
        _same_start(assistant, expected)
        if which == "loop":
            stream = _streaming_run(assistant, path, workdir)
        else:
            baseline = _sequential_run(assistant, path, workdir)
    empty = {"transcript": None, "tool": None, **{f"{k}_ms": None for k in (*LOOP_STAGES, "filler_audio")}}
    row.update(stream or empty)
    row["baseline_first_audio_ms"] = baseline
    return row


def summarize(rows: list[dict], profile: str) -> dict:
    """Percentiles over the rows: the loop's first audio (the answer's, never a filler) and the baseline's."""
    streaming = [r["first_audio_ms"] for r in rows if r.get("first_audio_ms") is not None]
    baseline = [r["baseline_first_audio_ms"] for r in rows if r.get("baseline_first_audio_ms") is not None]
    stages: dict[str, list[float]] = {}
    for r in rows:
        if r.get("first_audio_ms") is None:
            continue
        for k in LOOP_STAGES:
            if r.get(f"{k}_ms") is not None:
                stages.setdefault(f"{k}_ms", []).append(r[f"{k}_ms"])
    fillers = [r["filler_audio_ms"] for r in rows if r.get("filler_audio_ms") is not None]
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
        "fillers": len(fillers),  # answers a filler came before (shown per question, never first audio)
        "profile": profile,
        "questions": rows,
    }


def bench_latency(assistant: Assistant, runs: int, data: Path, limit: int | None = None) -> dict:
    for engine in (assistant.stt, assistant.llm, assistant.tts):
        engine.load()  # type: ignore[attr-defined]
    texts = _transcripts(data)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        files = questions(assistant, data, workdir)[:limit]
        _streaming_run(assistant, files[0], workdir)  # warm-up, not counted
        for run in range(runs):
            for i, path in enumerate(files):
                expected = texts.get(path.stem.removeprefix("own_"), "")
                # Which goes first alternates, so what one run leaves behind cannot favour either side.
                rows.append(_question_row(assistant, path, expected, (run + i) % 2 == 0, workdir))
    return summarize(rows, assistant.settings.profile)


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
