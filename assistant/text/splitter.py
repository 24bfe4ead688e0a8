"""Cut an LLM token stream into speakable chunks, so TTS can start on the first words early.

The first chunk of an answer ends at its first natural boundary: a sentence end, a clause mark once it
holds a few words, or else, after about `first_words` words, a word gap before a linking word ("The sky
appears blue | during the day because ..."). Later chunks are whole sentences.

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
# Words a first chunk may be cut before: conjunctions, relative words and prepositions open a new phrase.
_LINKS = {
    "and", "but", "or", "nor", "so", "yet", "because", "since", "although", "though", "while", "whereas",
    "unless", "until", "when", "whenever", "where", "wherever", "which", "who", "whom", "whose", "that",
    "if", "as", "with", "without", "of", "in", "on", "at", "to", "for", "from", "by", "about", "during",
    "after", "before", "through", "into", "onto", "over", "under", "between", "among", "across", "along",
    "around", "like", "within", "throughout", "against", "toward", "towards", "via",
}  # fmt: skip
# Words a first chunk never ends on: the phrase they open would be left hanging ("a process of | ...").
_NO_END = _LINKS | {
    "a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "these", "those", "some",
    "any", "each", "every", "all", "both", "few", "many", "much", "more", "most", "such", "very", "too",
    "not", "no", "than", "just", "also", "can", "could", "will", "would", "should", "may", "might", "must",
    "do", "does", "did", "be", "is", "are", "was", "were", "has", "have", "had", "i", "you", "we", "they",
    "he", "she", "it", "there", "here", "then", "even", "only", "really", "quite", "rather", "how", "what",
    "why", "let", "let's", "i'm", "it's", "don't", "doesn't", "isn't", "aren't", "can't", "won't",
}  # fmt: skip
_PLAIN_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # letters only: no number, url, code or mark
_CLAUSE_WORDS = 2  # with min_first_chars, a first clause is about three words: "Hello there,", not "Well,"
_TAIL_WORDS = 3  # a first chunk cut at a word gap leaves more than this many words before the sentence ends
_DOTTED_LETTERS = re.compile(r"[A-Za-z]{1,2}(?:\.[A-Za-z]{1,2})+")  # U.S, e.g, Ph.D
_WORD_BEFORE = re.compile(r"[^\s\"'(\[“‘*_]*$")


class SentenceSplitter:
    """Turns token deltas into whole sentences (and an early first clause) ready for TTS.

    first_words: the first chunk may end at a word gap before a linking word from `first_words - 2` words
    on, or at any plain word gap from `first_words + 2` words on; None keeps it to sentences and clauses.
    """

    def __init__(self, min_first_chars: int = 12, max_chars: int = 220, first_words: int | None = 6) -> None:
        self.min_first_chars = min_first_chars
        self.max_chars = max_chars
        self.first_words = first_words
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
            elif self._first and self.first_words and char in " \t" and previous and not previous.isspace():
                end = self._word_end(start, i, final)
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
        if self.first_words and _count_words(buf[start:i]) < min(_CLAUSE_WORDS, self.first_words):
            return 0  # "Well," or "Sure —" alone sounds clipped
        word = _WORD_BEFORE.search(buf, 0, i)
        if word and word.group(0).rstrip(".").lower() in _ABBREVIATIONS:
            return 0  # "e.g.," belongs with what follows
        return i + 1

    def _word_end(self, start: int, i: int, final: bool) -> int | None:
        # The space at i ends word k of the first chunk: cut here if the next word opens a phrase, or the
        # chunk is long, and more than _TAIL_WORDS words follow before the sentence ends (none dangle).
        buf = self._buf
        head = buf[start:i]
        first_words = self.first_words or 0
        count = _count_words(head)
        if count < max(2, first_words - 2) or not _marks_closed(head):
            return 0
        last = head.split()[-1]
        if not _PLAIN_WORD.fullmatch(last) or last.lower() in _NO_END or last.lower() in _ABBREVIATIONS:
            return 0  # "3.50 | dollars", "Dr. | Smith", "a process of | light"
        pos, following = i, 0
        while True:
            word_start = pos
            while word_start < len(buf) and buf[word_start] in " \t":
                word_start += 1
            if word_start == len(buf):
                return 0 if final else None
            if buf[word_start].isspace():
                return 0  # the line ends here: it goes out whole
            if following == _TAIL_WORDS:
                return i
            pos = word_start
            while pos < len(buf) and not buf[pos].isspace():
                pos += 1
            if pos == len(buf):
                return 0 if final else None
            word = buf[word_start:pos]
            if following == 0 and not self._opens_phrase(count, last, word):
                return 0
            bare = word.rstrip(_CLOSERS)
            if bare and bare[-1] in _SENTENCE_END:
                return 0  # the sentence ends within a few words: it goes out whole
            following += 1

    def _opens_phrase(self, count: int, last: str, word: str) -> bool:
        first_words = self.first_words or 0
        if count >= first_words - 2 and word.lower() in _LINKS:
            return True
        return (
            count >= first_words + 2
            and _PLAIN_WORD.fullmatch(word) is not None
            and word.lower() not in _ABBREVIATIONS
            and not (last[0].isupper() and word[0].isupper())  # a name: "Albert | Einstein"
        )

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


def _count_words(text: str) -> int:
    return sum(1 for word in text.split() if any(char.isalnum() for char in word))


def _marks_closed(text: str) -> bool:
    """No quote, code span, emphasis or bracket is open at the end of `text`, and it is no table row."""
    if "|" in text or any(text.count(mark) % 2 for mark in '"`*'):
        return False
    return all(text.count(opening) == text.count(closing) for opening, closing in ("()", "[]", "{}", "“”"))


def split_sentences(
    text: str, min_first_chars: int = 12, max_chars: int = 220, first_words: int | None = 6
) -> list[str]:
    """Split a whole text into speakable chunks, exactly as streaming it through a SentenceSplitter would."""
    splitter = SentenceSplitter(min_first_chars=min_first_chars, max_chars=max_chars, first_words=first_words)
    return splitter.push(text) + splitter.flush()
