"""A llama.cpp context's KV cache saved to disk and restored: a long fixed prompt prefix (system prompt and
tool schemas) is evaluated once and loaded in milliseconds on later starts."""

from __future__ import annotations

import ctypes
import json
import os
from pathlib import Path
from typing import Any

_STATE_MAGIC = b"SORIKV1\n"


def save_state(llama: Any, path: Path) -> None:
    import llama_cpp

    size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
    buf = (ctypes.c_uint8 * int(size))()
    n = llama_cpp.llama_state_get_data(llama._ctx.ctx, buf, size)
    header = json.dumps(
        {"n_tokens": int(llama.n_tokens), "ids": llama.input_ids[: llama.n_tokens].tolist()}
    ).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write(_STATE_MAGIC + len(header).to_bytes(8, "little") + header)
        f.write(memoryview(buf)[: int(n)])
    os.replace(tmp, path)


def load_state(llama: Any, path: Path, prefix: list[int]) -> bool:
    """Restore a saved prefix; False (and the file removed) if it does not fit this model and prompt."""
    import llama_cpp

    try:
        data = path.read_bytes()
        if not data.startswith(_STATE_MAGIC):
            raise ValueError("not a state file")
        k = len(_STATE_MAGIC)
        hlen = int.from_bytes(data[k : k + 8], "little")
        header = json.loads(data[k + 8 : k + 8 + hlen])
        if header["ids"] != prefix:
            raise ValueError("another prompt")
        state = data[k + 8 + hlen :]
        buf = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buf, len(state)) != len(state):
            raise ValueError("rejected by llama.cpp")
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)
        return False
    llama.input_ids[: len(prefix)] = prefix
    llama.n_tokens = len(prefix)
    llama._requires_eval = True
    return True


def prune(folder: Path, pattern: str, keep: int) -> None:
    """Delete all but the `keep` most recently used files matching `pattern`."""
    files = []
    for f in folder.glob(pattern):
        try:
            files.append((f.stat().st_mtime, f))
        except OSError:  # removed meanwhile by another Sori
            continue
    files.sort(reverse=True)
    for _, f in files[keep:]:
        f.unlink(missing_ok=True)
