"""Decode any file PyAV understands (through faster-whisper) into float32 mono at a given rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.errors import AudioInputError

SAMPLE_RATE = 16_000


def check_samples(samples: np.ndarray, what: str = "audio") -> np.ndarray:
    """Return samples as 1-D float32, or raise AudioInputError for empty, NaN/inf or wrong-shape input."""
    arr = np.asarray(samples)
    if arr.ndim != 1:
        raise AudioInputError(
            f"{what}: expected a 1-D mono array, got shape {arr.shape}; mix channels down first"
        )
    if arr.size == 0:
        raise AudioInputError(f"{what}: no samples (empty audio)")
    if not np.issubdtype(arr.dtype, np.floating):
        raise AudioInputError(f"{what}: expected float samples in [-1, 1], got {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise AudioInputError(f"{what}: contains NaN or infinite samples; the recording is damaged")
    return arr


def decode_file(path: str | Path, sample_rate: int = SAMPLE_RATE, split_stereo: bool = False):
    """Decode a file to float32 mono (or a (left, right) pair with split_stereo) at sample_rate."""
    import av  # faster-whisper's decoder; imported late so the CLI starts fast
    from faster_whisper.audio import decode_audio

    p = Path(path)
    if not p.exists():
        raise AudioInputError(f"{p}: no such file")
    if p.is_dir():
        raise AudioInputError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioInputError(f"{p}: the file is empty")
    try:
        with av.open(str(p), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise AudioInputError(f"{p}: has no audio stream")
        audio = decode_audio(str(p), sampling_rate=sample_rate, split_stereo=split_stereo)
    except AudioInputError:
        raise
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise AudioInputError(
            f"{p}: cannot be decoded as audio ({type(exc).__name__}); use wav, flac, mp3, ogg or m4a"
        ) from None
    channels = audio if split_stereo else (audio,)
    if any(c.size == 0 for c in channels):
        raise AudioInputError(f"{p}: contains no audio samples")
    return audio
