"""Checks of the bundle's output for scripts/test-bundle.sh. Standard library only: any Python 3.11 runs it.

check_bundle.py png FILE.png                      a real window picture: >= 600x400, not blank
check_bundle.py answer FILE.json TSV WAV WORD     the question heard as in TSV, WORD in the answer
check_bundle.py libs BUNDLE SYSTEM_LIBS HIDDEN... every library the bundle links: bundled, a documented
                                                  desktop library (SYSTEM_LIBS), or a failure
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import struct
import subprocess
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


_LDD_LINE = re.compile(r"^\s*(\S+) => (not found|\S+)")


def linked(bundle: Path) -> dict[str, set[str]]:
    """Each library the bundle's binaries ask for, with where the loader finds it ("not found" if nowhere),
    resolved as the bundle resolves it: its own _internal folder first."""
    binaries = [p for p in bundle.rglob("*") if p.is_file() and (".so" in p.name or p == bundle / "sori")]
    env = {**os.environ, "LD_LIBRARY_PATH": str(bundle / "_internal")}
    found: dict[str, set[str]] = {}
    for i in range(0, len(binaries), 50):
        out = subprocess.run(
            ["ldd", *map(str, binaries[i : i + 50])], env=env, capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            if m := _LDD_LINE.match(line):
                found.setdefault(m[1], set()).add(m[2])
    return found


def documented(system_libs: Path) -> dict[str, str]:
    """Soname pattern -> Debian package, from the list the README quotes."""
    table = {}
    for line in system_libs.read_text().splitlines():
        if line.split("#", 1)[0].strip():
            pattern, package = line.split()[:2]
            table[pattern] = package
    return table


def check_libs(bundle: Path, system_libs: Path, hidden: list[str]) -> str:
    expected = documented(system_libs)
    bundled, system, failures = set(), set(), []
    for name, paths in sorted(linked(bundle).items()):
        for path in sorted(paths):
            if path == "not found":
                failures.append(f"missing (neither bundled nor on this system): {name}")
            elif any(path.startswith(h.rstrip("/") + "/") for h in hidden):
                failures.append(f"resolves into the build environment: {name} => {path}")
            elif Path(path).resolve().is_relative_to(bundle.resolve()):
                bundled.add(name)
            elif any(fnmatch.fnmatch(name, pattern) for pattern in expected):
                system.add(name)
            else:
                failures.append(f"from this system but not in the documented list: {name} => {path}")
    print(f"bundled: {len(bundled)} libraries")
    print(f"from the desktop, as documented in {system_libs.name}: {' '.join(sorted(system))}")
    if failures:
        raise SystemExit("FAIL:\n\t" + "\n\t".join(failures))
    return f"{len(bundled)} bundled, {len(system)} from the desktop (documented), none missing"


def main(argv: list[str]) -> None:
    if argv[:1] == ["png"] and len(argv) == 2:
        print("ok:", check_png(Path(argv[1])))
    elif argv[:1] == ["answer"] and len(argv) == 5:
        print("ok:", check_answer(Path(argv[1]), Path(argv[2]), argv[3], argv[4]))
    elif argv[:1] == ["libs"] and len(argv) >= 3:
        print("ok:", check_libs(Path(argv[1]), Path(argv[2]), argv[3:]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
