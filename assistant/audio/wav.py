"""Write float32 audio to 16-bit PCM WAV.

A regular file (new or existing) is replaced atomically when the writer is closed, and not at all when it
is aborted. A device, a FIFO or `-` (stdout) is never replaced: the whole WAV is written into it as a
stream at close. Anything else (a folder, a missing folder) is refused by check_output() before any work.
"""

from __future__ import annotations

import glob
import io
import os
import stat
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from assistant.errors import AudioOutputError

STDOUT = "-"


def to_int16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def check_output(path: str | Path) -> tuple[str, Path]:
    """('file', where to write) or ('stream', the path) or ('stdout', -); AudioOutputError otherwise."""
    if str(path) == STDOUT:
        return "stdout", Path(STDOUT)
    given = Path(path)
    try:
        st = given.stat()  # follows links: a link to a file replaces the file, not the link
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a symlink loop, a path through a file, no permission on a folder
        raise AudioOutputError(
            f"{given}: cannot be written ({exc.strerror or exc}); choose another file"
        ) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise AudioOutputError(f"{given} is a folder; give a file name, e.g. {given / 'answer.wav'}")
    if st is not None and not stat.S_ISREG(st.st_mode):
        return "stream", given  # a device or a FIFO: written into, never replaced
    target = Path(os.path.realpath(given))
    if not target.parent.is_dir():
        raise AudioOutputError(f"{given}: folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK | os.X_OK):
        raise AudioOutputError(f"{given}: cannot write into the folder {target.parent} (permission denied)")
    return "file", target


def wav_header(frames: int, sample_rate: int) -> bytes:
    """The 44-byte header of a mono 16-bit PCM WAV holding `frames` samples."""
    data = frames * 2
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data,
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        data,
    )


class WavWriter:
    """Appends chunks to a mono WAV; a file appears under its name only once closed, never if aborted."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        self.kind, self._target = check_output(path)
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.frames = 0
        self._tmp: Path | None = None
        self._fd: int | None = None
        self._pcm = io.BytesIO()  # streams get the finished WAV at close, with its true length in the header
        self._open = True
        if self.kind == "file":
            try:
                self._fd, self._tmp = _temp_file(self._target)
                os.write(self._fd, wav_header(0, sample_rate))  # filled in at close
            except OSError as exc:
                self.abort()
                raise AudioOutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None

    def write(self, samples: np.ndarray) -> None:
        if not self._open:
            raise AudioOutputError(f"{self.path}: the WAV file is already closed")
        data = to_int16(samples)
        try:
            if self._fd is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
            else:
                self._pcm.write(data)
        except OSError as exc:  # a full disk, say: the old file stays as it was
            self.abort()
            raise AudioOutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None
        self.frames += len(samples)

    def close(self) -> None:
        """Finish the WAV and put it in place (a file) or write it out (a stream)."""
        if not self._open:
            return
        try:
            header = wav_header(self.frames, self.sample_rate)
            if self.kind == "file":
                assert self._fd is not None and self._tmp is not None
                os.pwrite(self._fd, header, 0)
                os.fsync(self._fd)
                os.replace(self._tmp, self._target)
                self._tmp = None
            else:
                self._stream(header + self._pcm.getvalue())
        except OSError as exc:
            raise AudioOutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None
        finally:
            self.abort()

    def abort(self) -> None:
        """Drop what was written; the target is left as it was. Safe to call more than once."""
        self._open = False
        self._pcm = io.BytesIO()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def _stream(self, data: bytes) -> None:
        if self.kind == "stdout":
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        with open(self._target, "wb") as out:  # a device or FIFO: opened, not replaced
            out.write(data)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _temp_file(target: Path) -> tuple[int, Path]:
    """A new hidden file beside target, removed on every exit Python sees; one left by a killed Sori
    (kill -9) is removed by the next write to the same name."""
    mode = 0o644
    if target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)  # a replaced file keeps its permissions
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        pid = stale.name[len(target.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), tmp


def write_wav(path: str | Path, chunks: Iterable[np.ndarray], sample_rate: int) -> float:
    """Write all chunks; return the duration in seconds."""
    with WavWriter(path, sample_rate) as w:
        for c in chunks:
            w.write(c)
    return w.frames / sample_rate
