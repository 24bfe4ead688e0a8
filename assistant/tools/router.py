"""Which tools a request may need: a lexical match against each tool's name, description and examples.

Small local models answer worse and slower with a dozen tool schemas in every prompt (a 0.5B model calls
tools for "What is the capital of France?"; the schemas add over a thousand prompt tokens). So each turn
offers only the tools whose words the request shares, weighted by how rare each word is across tools.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import snowballstemmer

from assistant.tools.spec import ToolSpec

log = logging.getLogger(__name__)

# Words any request may have. Like "tell" and "give", the verbs that tell Sori what to answer ("say only
# the word ready", "reply with yes") ask for no tool: "say" from "what does my contract say about noise"
# once offered search_documents to "Say only the word ready.", and the model called it.
_STOP = frozenset(
    """
    a an the and or but if of to in on at for from by with about into over is are was were be been am do
    does did have has had i me my mine you your it its this that these those what whats which who whom
    how when where why can could would should will shall may might must please tell give show let lets
    get make there here some any all one s t just up out so than then them they we us our he she his her
    not no yes now right today thing things something want need like know zero one two three four five
    six seven eight nine ten twenty thirty forty fifty hundred cannot without tool see
    say says said reply answer respond repeat word words only
    """.split()
)


_STEMMER = snowballstemmer.stemmer("english")
# The stemmer keeps the word it works on in itself: the speculative prefill (STT worker) and an answer
# (turn thread) route at the same time, and shared, it stemmed one thread's word with the other's.
_STEM_LOCK = threading.Lock()


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    # "divide", "divided" and "dividing" are one word to a request. But "times" (multiplication) must not
    # become the "time" of "what time is it"; "timer" and "time" already stay apart.
    if word == "times":
        return word
    with _STEM_LOCK:
        return _STEMMER.stemWord(word)


def _phrase(text: str) -> str:
    """An utterance as plain lowercase words ("What's the time?" -> "what's the time")."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("’", "'")))


# Questions about a topic ("why do we have time zones?", "how do weather forecasts work?") share words
# with tools but ask for an explanation: never the fast path (the model may still call a tool).
_TOPIC = re.compile(
    r"^\W*(?:why|how (?!much|many)|who|explain|define|describe|what (?:is|are) (?:a|an)\b|"
    r"what(?:'s| is) the difference|(?:can|could|would) you (?:please )?(?:explain|describe|define)|"
    r"what does \w+ mean)",
    re.I,
)

# A request a pattern should recognize is a sentence, and checking one must not hold up the turn.
_PATTERN_CHARS = 500
_PATTERN_TIMEOUT_S = 0.05

# Words after an example that still leave it the same request: "what time is it" + "in Tokyo", "right now".
# A noun would make it another one: "what's the time" + "signature of a waltz".
_TAIL_WORDS = 4
_TAIL_STARTS = frozenset(
    "in at on for to from with by near please now right today tonight tomorrow here there again too "
    "then and so me us".split()
)
# Word overlap alone is too weak to act on for a question: "when was the calculator invented?", "which
# document declared independence?" and "what is the weather like on Mars?" share a tool's very name.
_QUESTION = re.compile(
    r"^\W*(?:what|what's|whats|when|which|who|whom|whose|why|how|where|is|are|was|were|do|does|did|has|have)\b",
    re.I,
)


_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|"
    r"thousand|half|quarter|dozen|couple)\b|\ban?\s+(?:second|minute|hour|day|week)\b",
    re.I,
)


def _said_as(spoken: str, example: str) -> bool:
    """Whether `spoken` is the example, or the example and a few words that keep it the same request."""
    if spoken == example:
        return True
    extra = spoken.removeprefix(example + " ").split() if spoken.startswith(example + " ") else []
    return 0 < len(extra) <= _TAIL_WORDS and extra[0] in _TAIL_STARTS


def words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z]+", text.lower().replace("_", " ")) if w not in _STOP]


class ToolRouter:
    def __init__(self, tools: Iterable[ToolSpec]) -> None:
        # word -> weight per tool: the name and the examples say what a tool is for; its description
        # also uses incidental words ("delete a note by its number"), which count for less.
        self.bags: dict[str, dict[str, float]] = {}
        self.subjects: dict[str, set[str]] = {}
        self.needs_number: set[str] = set()  # tools with a required number, such as a timer's length
        self.examples: dict[str, str] = {}  # phrase -> tool; a phrase two tools share is nobody's
        tools = list(tools)  # read several times below: a generator would be spent after the first
        self.patterns = {t.name: t.patterns for t in tools if t.patterns}
        builtin_dir = Path(__file__).with_name("builtin")
        self.builtin = {t.name for t in tools if t.source_file and builtin_dir in t.source_file.parents}
        for t in tools:
            for example in t.examples:
                phrase = _phrase(example)
                self.examples[phrase] = "" if self.examples.get(phrase, t.name) != t.name else t.name
            # What a tool is named after is its last word: the "timer" of set_timer, not its "set".
            self.subjects[t.name] = set(words(t.name)[-1:])
            props = t.parameters.get("properties", {})
            if any(
                props.get(p, {}).get("type") in ("integer", "number")
                for p in t.parameters.get("required", [])
            ):
                self.needs_number.add(t.name)
            bag = dict.fromkeys(words(t.description.split(".")[0]), 0.4)
            bag.update(dict.fromkeys(words(" ".join([t.name, *t.examples])), 1.0))
            self.bags[t.name] = bag
        df = Counter(w for bag in self.bags.values() for w in bag)
        n = max(1, len(self.bags))
        self.idf = {w: math.log(1 + n / c) for w, c in df.items()}

    def scores(self, utterance: str) -> dict[str, float]:
        said = set(words(utterance))
        return {name: sum(self.idf[w] * bag[w] for w in said if w in bag) for name, bag in self.bags.items()}

    def matched(self, utterance: str) -> list[str]:
        """The tools whose own patterns match the request ("17 times 23" is arithmetic in any words)."""
        return [name for name in self.patterns if next(self._hits(utterance, name), None) is not None]

    def arguments(self, utterance: str, name: str) -> dict[str, str] | None:
        """What the named groups of `name`'s patterns took from the request ("in (?P<location>...)"), from
        the matching pattern that names the most; None when no pattern of it matches."""
        if len(utterance) > _PATTERN_CHARS:
            return None  # the patterns see only its start: an argument taken from it would be cut short
        best = None
        for hit in self._hits(utterance, name):
            named = {k: v for k, v in hit.groupdict().items() if v is not None}
            best = named if best is None or len(named) > len(best) else best
        return best

    def _hits(self, utterance: str, name: str) -> Iterator[Any]:
        said = utterance[:_PATTERN_CHARS].replace("’", "'")  # typed on some keyboards; patterns say "what's"
        for pattern in self.patterns.get(name, []):
            try:
                hit = pattern.search(said, timeout=_PATTERN_TIMEOUT_S)
            except TimeoutError:
                # A pattern that backtracks without end must not freeze the turn: it just does not match.
                log.warning(
                    "tool %s: pattern %r took over %.2f s; ignored", name, pattern.pattern, _PATTERN_TIMEOUT_S
                )
                continue
            if hit:
                yield hit

    def rival(self, utterance: str, name: str, *, minimum: float = 2.5) -> str | None:
        """A plugin tool whose words fit the request better than the built-in `name`'s, if there is one."""
        if name not in self.builtin:
            return None
        scores = self.scores(utterance)
        plugins = [(s, n) for n, s in scores.items() if n not in self.builtin and s >= minimum]
        best = max(plugins, default=None)
        return best[1] if best is not None and best[0] > scores.get(name, 0.0) else None

    def select(self, utterance: str, *, threshold: float = 1.2, limit: int = 3) -> list[str]:
        """The names of the tools worth offering, best first (empty: answer without tools)."""
        scores = self.scores(utterance)
        for name in self.matched(utterance):
            # Matched by its pattern, a tool is offered first; unless a user's tool fits the words better:
            # then the built-in steps aside ("Calculate the goals Messi scored" with a sports plugin was
            # given to calculate by the model when both were offered).
            scores[name] = 0.0 if self.rival(utterance, name) else max(scores.values()) + threshold
        ranked = sorted(((s, n) for n, s in scores.items() if s >= threshold), reverse=True)
        cut = ranked[limit - 1][0] if len(ranked) >= limit else 0.0
        return [n for s, n in ranked if s >= cut]  # tools tied at the cut all stay in

    def confident(self, utterance: str, *, minimum: float = 2.5, lead: float = 1.5) -> str | None:
        """The one tool a request plainly asks for (fast path), or None when in any doubt."""
        if len(matched := self.matched(utterance)) == 1:
            # A built-in's pattern ("calculate ...") gives way to a user's tool whose words fit better
            # ("Calculate the circumference of a circle" with a geometry plugin): the model chooses.
            return None if self.rival(utterance, matched[0]) else matched[0]
        spoken = _phrase(utterance)
        for phrase, name in self.examples.items():
            # One of a tool's own examples, said as written (perhaps with a place or time after it).
            if name and _said_as(spoken, phrase):
                return name
        if _TOPIC.match(utterance) or _QUESTION.match(utterance):
            return None
        ranked = sorted(self.scores(utterance).items(), key=lambda kv: kv[1], reverse=True)
        if not ranked or ranked[0][1] < minimum:
            return None
        if len(ranked) > 1 and ranked[0][1] < lead * ranked[1][1]:
            return None
        best = ranked[0][0]
        said = set(words(utterance))
        # One shared word is not enough to act on, unless it is what the tool is named after ("weather",
        # "timer"); a verb is not ("what do 48 and 52 add up to" is no add_note).
        if not said & self.subjects[best] and len(said & set(self.bags[best])) < 2:
            return None
        if best in self.needs_number and not _NUMBER.search(utterance):
            return None  # "set me a timer": the model would make up how long; let it ask instead
        return best
