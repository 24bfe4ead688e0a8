"""A yes/no question a tool asks before it acts ("Shall I open example.com?").

One object per question, shared by everyone who may answer it: a typed line, a spoken answer, the window's
buttons, a timeout, a stop. The first answer settles it; later ones are ignored. Nothing is parsed twice:
a front end that has a yes or a no hands over a bool, not the word "yes".
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Literal

AnsweredBy = Literal["text", "voice", "button", "timeout", "stopped"]

_ids = itertools.count(1)


@dataclass(eq=False)
class Question:
    sentence: str
    id: int = field(default_factory=lambda: next(_ids))
    allowed: bool | None = None  # None until settled
    by: AnsweredBy | None = None
    heard: str = ""  # the words of a typed or spoken answer, for the transcript
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def answer(self, allowed: bool, by: AnsweredBy, heard: str = "") -> bool:
        """Settle the question; False when it was already settled (the earlier answer stands)."""
        with self._lock:
            if self._done.is_set():
                return False
            self.allowed, self.by, self.heard = bool(allowed), by, heard
            self._done.set()
            return True

    @property
    def settled(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until settled or `timeout`; True when settled."""
        return self._done.wait(timeout)
