"""BFCL cases: read from a data folder (the `bfcl-eval` package's by default), sampled with a seed."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import InputError

INSTALL_HINT = "pip install --no-deps bfcl-eval==2026.3.23, or give the data folder with --data"


@dataclass
class Case:
    id: str
    category: str
    messages: list[dict[str, str]]  # the first turn: an optional system message, then the user's
    functions: list[dict[str, Any]]
    answers: list[dict[str, dict[str, Any]]] = field(default_factory=list)  # empty for irrelevance

    @property
    def question(self) -> str:
        """What the user typed: the first turn's last user message."""
        return next(m["content"] for m in reversed(self.messages) if m.get("role") == "user")


def data_dir(path: Path | None = None) -> Path:
    """The folder of BFCL_*.json files: `path`, or the installed bfcl-eval package's data."""
    if path is None:
        spec = importlib.util.find_spec("bfcl_eval")
        if spec is None or not spec.submodule_search_locations:
            raise InputError(f"the BFCL data is not installed: {INSTALL_HINT}")
        path = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not path.is_dir() or not any(path.glob("BFCL_*.json")):
        raise InputError(f"{path}: no BFCL_*.json files there; {INSTALL_HINT}")
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read BFCL cases ({exc})") from None


_FILE = re.compile(r"^BFCL_v\d+_(\w+)\.json$")


def _files(data: Path) -> dict[str, Path]:
    """Category -> its file (the newest BFCL version where several are there)."""
    found = sorted((p for p in data.glob("BFCL_v*_*.json") if _FILE.match(p.name)), key=lambda p: p.name)
    return {_FILE.match(p.name)[1]: p for p in found}  # type: ignore[index]


def categories(data: Path) -> list[str]:
    return sorted(_files(data))


def load(data: Path, category: str) -> list[Case]:
    files = [f for c, f in _files(data).items() if c == category]
    if not files:
        raise InputError(f"no BFCL category {category!r} in {data}; there are: {', '.join(categories(data))}")
    answers = {}
    answer_file = data / "possible_answer" / files[-1].name
    if answer_file.is_file():
        answers = {a["id"]: a["ground_truth"] for a in _lines(answer_file)}
    elif "irrelevance" not in category and "relevance" not in category:
        raise InputError(f"{answer_file}: the accepted answers for {category} are missing")
    cases = []
    for row in _lines(files[-1]):
        turns = row.get("question") or [[]]
        if len(turns) != 1 or not row.get("function"):
            continue  # multi-turn categories need a conversation runner
        cases.append(Case(row["id"], category, turns[0], row["function"], answers.get(row["id"], [])))
    return cases


def sample(cases: list[Case], n: int, seed: int) -> list[Case]:
    """The same n cases for the same seed, whatever else was asked for."""
    if n <= 0 or n >= len(cases):
        return list(cases)
    rng = random.Random(f"{seed}:{cases[0].category}")
    return [cases[i] for i in sorted(rng.sample(range(len(cases)), n))]
