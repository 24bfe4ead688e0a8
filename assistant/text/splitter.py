"""Cut an LLM token stream into speakable chunks, so TTS can start on the first words early.

The splitter decides each candidate boundary from the text it has already seen, and waits
whenever the answer could still depend on text not yet received ("3." might become "3.5").
So the chunks never depend on how the stream happened to be cut into deltas.
"""

import re

_SENTENCE_END = ".!?…"
_CLAUSE_END = ",;:"
_DASHES = "—–"
# Closing marks that belong to the sentence before the space: quotes, brackets, markdown emphasis.
_CLOSERS = "\"')]}”’*_"
_FENCE_MARKS = ("```", "~~~")
# Lower-cased words whose trailing period never ends a sentence.
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "sr",
    "jr",
    "vs",
    "e.g",
    "i.e",
    "approx",
    "fig",
    "inc",
    "ltd",
    "co",
    "corp",
    "mt",
    "dept",
    "cf",
    "al",
    "ca",
    "gen",
    "gov",
    "sen",
    "rep",
    "lt",
    "col",
    "sgt",
    "capt",
    "rev",
    "hon",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "no",
}
# Abbreviations that often do end a sentence: a boundary only when a capital letter follows.
_MAYBE_FINAL = {"etc", "a.m", "p.m"}
_DOTTED_LETTERS = re.compile(r"[A-Za-z]{1,2}(?:\.[A-Za-z]{1,2})+")  # U.S, e.g, Ph.D
_WORD_BEFORE = re.compile(r"[^\s\"'(\[“‘*_]*$")


class SentenceSplitter:
    """Turns token deltas into whole sentences (and an early first clause) ready for TTS."""

    def __init__(self, min_first_chars: int = 12, max_chars: int = 220) -> None:
        self.min_first_chars = min_first_chars
        self.max_chars = max_chars
        self._reset()

    def _reset(self) -> None:
        self._buf = ""
        self._consumed = 0  # characters already handed out; 0 means the buffer starts a line
        self._first = True

    def push(self, delta: str) -> list[str]:
        """Feed one delta of the stream; return the chunks that are now complete."""
        self._buf += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of stream: return whatever remains, then start afresh for the next stream."""
        chunks = self._drain(final=True)
        rest = self._buf.strip()
        self._reset()
        return [*chunks, rest] if rest else chunks

    def _drain(self, final: bool) -> list[str]:
        chunks: list[str] = []
        while (end := self._next_end(final)) is not None:
            chunk, self._buf = self._buf[:end].strip(), self._buf[end:]
            self._consumed += end
            if chunk:
                chunks.append(chunk)
                self._first = False
        return chunks

    # -- boundary search: each helper returns an end index, None to wait, or 0 for "not here"

    def _next_end(self, final: bool) -> int | None:
        buf = self._buf
        start = len(buf) - len(buf.lstrip())
        if start == len(buf):
            return None
        if self._line_start(start) and buf[start] in "`~":
            head = buf[start : start + 3]
            if head in _FENCE_MARKS:
                return self._fence_end(start, head[0], final)
            if len(head) < 3 and any(mark.startswith(head) for mark in _FENCE_MARKS):
                return len(buf) if final else None  # might still become a fence
        for i in range(start, len(buf)):
            if i - start >= self.max_chars:
                return self._forced_end(start, final)
            char = buf[i]
            if char == "\n":  # lines are list items, headings, table rows or paragraphs: each is a chunk
                return i
            previous = buf[i - 1] if i > start else ""
            if char in _SENTENCE_END and (not previous or previous not in _SENTENCE_END):
                end = self._sentence_end(i, final)
            elif self._first and (char in _CLAUSE_END or (char in _DASHES and previous == " ")):
                end = self._clause_end(start, i, final)
            else:
                continue
            if end != 0:
                return end
        return len(buf) if final else None

    def _line_start(self, pos: int) -> bool:
        before = self._buf[:pos].rstrip(" \t")
        return before.endswith("\n") or (not before and self._consumed == 0)

    def _fence_end(self, start: int, mark: str, final: bool) -> int | None:
        # A fenced block goes out whole, closing fence included, once the closing line is complete.
        close = re.compile(rf"\n[ \t]*{re.escape(mark)}{{3,}}\S*(?=\s)").search(self._buf, start + 3)
        if close:
            return close.end()
        return len(self._buf) if final else None

    def _sentence_end(self, i: int, final: bool) -> int | None:
        buf = self._buf
        j = i
        while j < len(buf) and buf[j] in _SENTENCE_END:
            j += 1
        while j < len(buf) and buf[j] in _CLOSERS:
            j += 1
        if j == len(buf):
            return j if final else None  # "3." may yet become "3.5"
        if not buf[j].isspace():
            return 0  # "3.5", "example.com", "v1.2.3", "Hi!)x"
        if buf[i:j].rstrip(_CLOSERS) != ".":
            return j
        word = _WORD_BEFORE.search(buf, 0, i)
        word_text = word.group(0) if word else ""
        if word_text.lower() in _MAYBE_FINAL:
            rest = buf[j:].lstrip()
            if not rest:
                return j if final else None
            return j if rest[0].isupper() else 0
        if (
            word_text.lower() in _ABBREVIATIONS
            or (len(word_text) == 1 and word_text.isupper())  # an initial, as in "J. Smith"
            or _DOTTED_LETTERS.fullmatch(word_text)
            or (word_text.isdigit() and word is not None and self._line_start(word.start()))  # "2. Step"
        ):
            return 0
        return j

    def _clause_end(self, start: int, i: int, final: bool) -> int | None:
        buf = self._buf
        if i + 1 == len(buf):
            return i + 1 if final else None
        if not buf[i + 1].isspace() or len(buf[start : i + 1]) < self.min_first_chars:
            return 0  # "1,000", "3:45", or too short to be worth speaking alone
        word = _WORD_BEFORE.search(buf, 0, i)
        if word and word.group(0).rstrip(".").lower() in _ABBREVIATIONS:
            return 0  # "e.g.," belongs with what follows
        return i + 1

    def _forced_end(self, start: int, final: bool) -> int | None:
        # Too long without a sentence end: cut at the last clause mark, else the last space, never in a word.
        window = self._buf[start : start + self.max_chars + 1]
        clauses = list(re.finditer(r"[,;:](?=\s)|\s[—–](?=\s)", window))
        if clauses:
            return start + clauses[-1].end()
        space = max(window.rfind(" "), window.rfind("\t"))
        if space > 0:
            return start + space
        after = re.compile(r"\s").search(self._buf, start + self.max_chars)
        if after:
            return after.start()
        return len(self._buf) if final else None


def split_sentences(text: str, min_first_chars: int = 12, max_chars: int = 220) -> list[str]:
    """Split a whole text into speakable chunks, exactly as streaming it through a SentenceSplitter would."""
    splitter = SentenceSplitter(min_first_chars=min_first_chars, max_chars=max_chars)
    return splitter.push(text) + splitter.flush()
