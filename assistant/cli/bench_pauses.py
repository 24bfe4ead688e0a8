"""End-of-turn decisions on recorded questions: cut off in a mid-sentence pause, or late after a whole one.

Each recording of a set (tests/data/pauses: pauses.tsv names each file, its kind, `paused` or `complete`,
and where its speech ends) is heard by the real voice loop in real time. Times are in ms after the end of
the recording's last word (source.t0 + speech_end_s, on the pipeline clock):
- decided_ms: when the loop committed to an answer, i.e. its TranscriptReady (TurnRecord.transcript_ready):
  the end of turn plus, where the transcript was not ready yet, its transcription;
- vad_decided_ms: the silence-based end of that turn (TurnRecord.decided);
- turn_speech_end_ms: where the speech the answered turn covers ends (well below 0: only the first part);
- turn_end_guess: the chat model's probability that the answered words were all (None: the rules decided).
A paused recording is cut off when an answer started before its last word ended, or answered a turn that
ended before it (the first part alone). A complete recording ends late when decided_ms exceeds the
plain-silence end of turn, voice.end_silence_ms + LATE_MARGIN_MS, or no answer started within LISTEN_S.
The loop is stopped as soon as the first answer starts: the answer itself is not measured here.
"""

from __future__ import annotations

import csv
import tempfile
import threading
from pathlib import Path

import numpy as np

from assistant.audio.sources import ScriptedSource, ScriptItem
from assistant.audio.timed_sink import TimestampedWavSink
from assistant.core import Assistant
from assistant.errors import SoriError
from assistant.events import Event, StateChanged, TranscriptReady
from assistant.pipeline import VoiceLoop

MANIFEST = "pauses.tsv"
LISTEN_S = 3.0  # how long after the end of speech a decision is waited for
LATE_MARGIN_MS = 100.0  # beyond the silence-based end of turn: the semantic end did not help
CUT_MARGIN_S = 0.3  # a turn ending this much before the last word covers only the first part


def read_manifest(folder: Path) -> list[dict]:
    """The rows of folder/pauses.tsv; SoriError with what to do when it is missing or malformed."""
    table = Path(folder) / MANIFEST
    if not table.is_file():
        raise SoriError(f"{table} not found; make the set with `python scripts/make_pause_set.py`")
    with table.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    for need in ("file", "kind", "speech_end_s"):
        if rows and need not in rows[0]:
            raise SoriError(f"{table} has no column {need!r}; regenerate it with scripts/make_pause_set.py")
    return rows


def _pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.array(xs), q)), 1) if xs else None


def _ms(t: float, origin: float) -> float | None:
    return round((t - origin) * 1000, 1) if t else None


def _run_one(assistant: Assistant, path: Path, speech_end_s: float, workdir: Path) -> dict:
    """One recording through the voice loop, until its first answer starts or LISTEN_S after its speech."""
    conv = assistant.store.new_conversation(title="bench pauses")
    # The source outlasts the wait: its end would flush a held turn and pass for a decision.
    source = ScriptedSource([ScriptItem(path)], tail_silence_s=LISTEN_S + 2.0)
    started = threading.Event()
    ready: list[float] = []  # clock time of each TranscriptReady

    def on_event(event: Event) -> None:  # on the loop's control thread, once `loop` exists
        if isinstance(event, TranscriptReady):
            ready.append(loop.clock.now())
        elif isinstance(event, StateChanged) and event.state == "thinking":
            started.set()

    sink = TimestampedWavSink(workdir / "answer.wav")
    loop = VoiceLoop(assistant, source, sink, conv.id, on_event=on_event)
    runner = threading.Thread(target=loop.run, name="bench-pauses-loop", daemon=True)
    runner.start()
    while not started.wait(0.02) and runner.is_alive():
        t0 = source.t0
        if t0 is not None and loop.clock.now() > t0 + speech_end_s + LISTEN_S:
            break
    loop.stop()
    runner.join()
    sink.close()
    final_end = (source.t0 or 0.0) + speech_end_s
    row: dict = {"decided_ms": None, "vad_decided_ms": None, "event_ms": None, "turn_speech_end_ms": None}
    row.update(transcript="", speculative_hit=None, turn_end_guess=None)
    if loop.turns:
        turn = loop.turns[0]
        row.update(
            decided_ms=_ms(turn.transcript_ready, final_end),
            vad_decided_ms=_ms(turn.decided, final_end),
            event_ms=_ms(ready[0], final_end) if ready else None,
            turn_speech_end_ms=_ms(turn.speech_end, final_end),
            transcript=turn.transcript,
            speculative_hit=turn.speculative_hit,
            turn_end_guess=turn.turn_end_guess,
        )
    row["errors"] = list(loop.errors)
    return row


def _cut_off(row: dict) -> bool:
    if row["decided_ms"] is None:
        return False
    covered = row["turn_speech_end_ms"]
    return row["decided_ms"] < 0 or (covered is not None and covered < -CUT_MARGIN_S * 1000)


def summarize(rows: list[dict], end_silence_ms: int, profile: str) -> dict:
    late_limit = end_silence_ms + LATE_MARGIN_MS
    cutoffs = [r for r in rows if r["kind"] == "paused" and _cut_off(r)]
    late = [
        r
        for r in rows
        if r["kind"] == "complete" and (r["decided_ms"] is None or r["decided_ms"] > late_limit)
    ]
    out: dict = {"profile": profile, "end_silence_ms": end_silence_ms, "late_limit_ms": late_limit}
    for kind in ("paused", "complete"):
        times = [r["decided_ms"] for r in rows if r["kind"] == kind and r["decided_ms"] is not None]
        out[kind] = {
            "files": sum(r["kind"] == kind for r in rows),
            "decided": len(times),
            "p50_ms": _pct(times, 50),
            "p90_ms": _pct(times, 90),
        }
    out["false_cutoffs"] = [
        {"file": r["file"], "decided_ms": r["decided_ms"], "transcript": r["transcript"], "text": r["text"]}
        for r in cutoffs
    ]
    out["late_ends"] = [
        {"file": r["file"], "decided_ms": r["decided_ms"], "transcript": r["transcript"]} for r in late
    ]
    out["undecided"] = [r["file"] for r in rows if r["decided_ms"] is None]
    out["rows"] = rows
    return out


def ready(assistant: Assistant, entries: list[dict]) -> None:
    """The models loaded and warm, untimed: Whisper's first call is slower than the rest (a silent second
    takes it), and the prompt prefix of each set of tools these requests are offered is saved on disk, as
    it is once Sori has been used: what is measured is the decision, not a prefix evaluated the first time."""
    for engine in (assistant.stt, assistant.llm, assistant.tts):
        engine.load()  # type: ignore[attr-defined]
    assistant.transcribe(np.zeros(16_000, np.float32))
    for entry in entries:
        for text in {entry.get("text", ""), entry.get("first_part", "")} - {""}:
            assistant.warm(assistant.tool_schemas(text))


def bench_pauses(
    assistant: Assistant, folder: Path, only: list[str] | None = None, per_kind: int | None = None
) -> dict:
    """Run every recording of the set in `folder` through the voice loop (or only the named files, or the
    first `per_kind` of each kind)."""
    folder = Path(folder)
    entries = read_manifest(folder)
    if only is not None:
        entries = [e for e in entries if e["file"] in set(only)]
    if per_kind is not None:
        by_kind = {kind: [e for e in entries if e["kind"] == kind] for kind in ("paused", "complete")}
        entries = [e for kind in by_kind for e in by_kind[kind][:per_kind]]
    missing = [e["file"] for e in entries if not (folder / e["file"]).is_file()]
    if missing:
        raise SoriError(f"{folder}: {missing[0]} is listed in {MANIFEST} but missing; regenerate the set")
    ready(assistant, entries)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries:
            result = _run_one(assistant, folder / entry["file"], float(entry["speech_end_s"]), Path(tmp))
            rows.append(
                {"file": entry["file"], "kind": entry["kind"], "text": entry.get("text", ""), **result}
            )
    return summarize(rows, assistant.settings.voice.end_silence_ms, assistant.settings.profile)
