"""Checks of the bundle's output for scripts/test-bundle.sh. Standard library only: any Python 3.11 runs it.

check_bundle.py png FILE.png                      a real window picture: >= 600x400, not blank
check_bundle.py answer FILE.json TSV WAV WORD     the question heard as in TSV, WORD in the answer
"""

from __future__ import annotations

import json
import re
import struct
import sys
import zlib
from pathlib import Path

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixels of an 8-bit, non-interlaced PNG (what Qt writes)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or interlace or colour not in _CHANNELS:
        raise ValueError(
            f"unexpected PNG format (depth {depth}, colour type {colour}, interlace {interlace})"
        )
    bpp = _CHANNELS[colour]
    stride = width * bpp
    raw = zlib.decompress(idat)
    prev = bytearray(stride)
    pixels: set[bytes] = set()
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up_left = prev[i - bpp] if i >= bpp else 0
            line[i] = (
                line[i] + (0, left, prev[i], (left + prev[i]) // 2, _paeth(left, prev[i], up_left))[kind]
            ) & 0xFF
        pixels.update(bytes(line[i : i + bpp]) for i in range(0, stride, bpp))
        prev = line
    return width, height, pixels


def check_png(path: Path) -> str:
    if not path.is_file():
        raise SystemExit(f"FAIL: no screenshot at {path}")
    width, height, pixels = png_pixels(path.read_bytes())
    if width < 600 or height < 400:
        raise SystemExit(f"FAIL: screenshot is {width}x{height}, expected at least 600x400")
    # Anti-aliased text alone gives dozens of shades; a blank or text-less window a handful.
    if len(pixels) < 16:
        raise SystemExit(f"FAIL: screenshot has {len(pixels)} colours: a blank window, or no text drawn")
    return f"screenshot {width}x{height}, {len(pixels)} distinct colours"


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def check_answer(path: Path, transcripts: Path, wav: str, word: str) -> str:
    try:
        result = json.loads(path.read_text())
    except ValueError as exc:
        raise SystemExit(
            f"FAIL: `ask --json` did not print one JSON object ({exc}): {path.read_text()!r}"
        ) from None
    expected = dict(line.split("\t", 1) for line in transcripts.read_text().splitlines() if "\t" in line)[wav]
    heard = _words(result.get("transcript", ""))
    missing = [w for w in _words(expected) if w not in heard]
    if missing:
        raise SystemExit(f"FAIL: transcript {result.get('transcript')!r} lacks {missing} of {expected!r}")
    if word.lower() not in result.get("answer", "").lower():
        raise SystemExit(f"FAIL: answer {result.get('answer')!r} does not mention {word!r}")
    return f"heard {result['transcript']!r}; answered {result['answer']!r}"


def main(argv: list[str]) -> None:
    if argv[:1] == ["png"] and len(argv) == 2:
        print("ok:", check_png(Path(argv[1])))
    elif argv[:1] == ["answer"] and len(argv) == 5:
        print("ok:", check_answer(Path(argv[1]), Path(argv[2]), argv[3], argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
