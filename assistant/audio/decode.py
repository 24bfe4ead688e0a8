"""Decode any file PyAV understands (through faster-whisper) into float32 mono at a given rate."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np

from assistant.errors import AudioInputError

SAMPLE_RATE = 16_000
# Hours of compressed audio; a bigger file is a mistake (a disk image, a video) and would fill memory.
MAX_FILE_BYTES = 2 * 10**9


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


def check_audio_file(path: str | Path) -> Path:
    """The path, if it is a readable, non-empty regular file; AudioInputError saying what is wrong if not.

    Cheap (no decoding), so a command can check every file before it loads a model.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise AudioInputError(f"{p}: no such file") from None
    except OSError as exc:  # a symlink loop, a name too long, a folder that cannot be entered
        raise AudioInputError(f"{p}: cannot be opened ({exc.strerror or exc}); check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioInputError(f"{p}: is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or a device would block or never end: save the recording to a file first.
        raise AudioInputError(f"{p}: is not a regular file; save the audio to a file and give that")
    if st.st_size == 0:
        raise AudioInputError(f"{p}: the file is empty")
    if st.st_size > MAX_FILE_BYTES:
        raise AudioInputError(
            f"{p}: is {st.st_size / 1e9:.1f} GB, more than {MAX_FILE_BYTES // 10**9} GB; cut it into parts"
        )
    try:
        with p.open("rb") as f:
            f.read(1)
    except PermissionError:
        raise AudioInputError(f"{p}: permission denied; make it readable (chmod a+r) or copy it") from None
    except OSError as exc:
        raise AudioInputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    return p


def decode_file(path: str | Path, sample_rate: int = SAMPLE_RATE, split_stereo: bool = False):
    """Decode a file to float32 mono (or a (left, right) pair with split_stereo) at sample_rate."""
    import av  # faster-whisper's decoder; imported late so the CLI starts fast
    from faster_whisper.audio import decode_audio

    p = check_audio_file(path)
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
