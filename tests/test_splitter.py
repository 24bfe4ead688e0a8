"""Tests for assistant.text.splitter: streaming sentence chunks for TTS, independent of token boundaries."""

from __future__ import annotations

import random

import pytest

from assistant.text.splitter import SentenceSplitter, split_sentences

SAMPLES = [
    "The price is 3.5 dollars. Next.",
    "Well, I think that is a great question, and here is why. It works!",
    "I like fruit e.g. apples and pears. We sold 1,000 of them at 3:45 pm. Really?",
    "Visit example.com today. Then read v1.2.3 notes, i.e. the changelog. Mr. and Mrs. Smith agree.",
    "Dr. Jones met J. Smith in the U.S. last year. Apples, pears, etc. Then we left.",
    "Here is the code:\n```python\nx = 1. \nprint('a. b! c? d')\n```\nThat was it. Done",
    "Steps:\n1. Preheat the oven.\n2. Mix 1,000 grams of flour\n3. Bake\n\nEnjoy!",
    'Hmm... wait… what?! Okay. "Quoted." And (in parens.) trailing text',
    "# Title\nSome text without end",
    "A very long sentence " + "with many words " * 30 + "ends here. Short one.",
    "Sure — let me explain the details, slowly. First thing: numbers like 10,000.5 stay whole.",
    "",
    "   ",
]


def stream(text: str, cuts: list[int], splitter: SentenceSplitter | None = None) -> list[str]:
    """Feed `text` cut at the given offsets, then flush."""
    splitter = splitter or SentenceSplitter()
    chunks: list[str] = []
    previous = 0
    for cut in [*cuts, len(text)]:
        chunks += splitter.push(text[previous:cut])
        previous = cut
    return chunks + splitter.flush()


def random_cuts(text: str, rng: random.Random) -> list[int]:
    return sorted(rng.sample(range(1, len(text)), k=min(len(text) - 1, rng.randint(0, 12)))) if text else []


@pytest.mark.parametrize("text", SAMPLES)
def test_chunks_do_not_depend_on_token_boundaries(text: str) -> None:
    whole = split_sentences(text)
    assert stream(text, list(range(1, len(text)))) == whole  # one character at a time
    rng = random.Random(1234)
    for _ in range(100):
        assert stream(text, random_cuts(text, rng)) == whole


@pytest.mark.parametrize("text", SAMPLES)
def test_chunks_keep_every_word_in_order(text: str) -> None:
    chunks = split_sentences(text)
    assert " ".join(chunks).split() == text.split()
    assert all(chunk and chunk == chunk.strip() for chunk in chunks)


def test_first_chunk_ends_early_at_a_comma() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Well, I think that is great") == []  # "Well," is too short on its own
    assert splitter.push(", and ") == ["Well, I think that is great,"]
    # Later chunks wait for a sentence end even past commas.
    assert splitter.push("here is why, you see, it works. Bye") == ["and here is why, you see, it works."]
    assert splitter.flush() == ["Bye"]


def test_min_first_chars_is_respected() -> None:
    assert split_sentences("Hi, there, friend. Go.", min_first_chars=4) == ["Hi, there,", "friend.", "Go."]
    assert split_sentences("Hi, there, friend. Go.", min_first_chars=40) == ["Hi, there, friend.", "Go."]


def test_decimal_numbers_stay_whole() -> None:
    assert split_sentences("The price is 3.5 dollars. Next.") == ["The price is 3.5 dollars.", "Next."]


def test_period_waits_for_the_next_character() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("The price is 3.") == []
    assert splitter.push("5 dollars.") == []
    assert splitter.push(" N") == ["The price is 3.5 dollars."]
    assert splitter.flush() == ["N"]


def test_abbreviations_do_not_split() -> None:
    assert split_sentences("Fruit e.g. apples are good. Yes.") == ["Fruit e.g. apples are good.", "Yes."]
    text = "Dr. Who and Mr. X met J. Smith in the U.S. today. Cats vs. dogs. End"
    expected = ["Dr. Who and Mr. X met J. Smith in the U.S. today.", "Cats vs. dogs.", "End"]
    assert split_sentences(text) == expected


def test_etc_ends_a_sentence_only_before_a_capital() -> None:
    assert split_sentences("Pears etc. and more. Then") == ["Pears etc. and more.", "Then"]
    assert split_sentences("Pears, apples etc. Then") == ["Pears, apples etc.", "Then"]


def test_urls_and_file_names_do_not_split() -> None:
    assert split_sentences("Visit example.com today. Then") == ["Visit example.com today.", "Then"]
    assert split_sentences("Open notes.txt and v1.2.3 now! Ok") == ["Open notes.txt and v1.2.3 now!", "Ok"]


def test_code_fence_is_emitted_whole_when_closed() -> None:
    splitter = SentenceSplitter()
    out = splitter.push("Look:\n```\nfirst. second! third?\n")
    assert out == ["Look:"]
    assert splitter.push("more. code\n``") == []
    assert splitter.push("`\nAfter it. ") == ["```\nfirst. second! third?\nmore. code\n```", "After it."]
    assert splitter.flush() == []


def test_unclosed_fence_comes_out_on_flush() -> None:
    assert split_sentences("```py\nx = 1. y = 2") == ["```py\nx = 1. y = 2"]


def test_lines_and_list_items_are_chunks() -> None:
    text = "Steps:\n1. Preheat.\n2. Mix it\n- eggs\n\nDone"
    assert split_sentences(text) == ["Steps:", "1. Preheat.", "2. Mix it", "- eggs", "Done"]


def test_flush_returns_trailing_text_without_punctuation() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("One sentence. And a tail") == ["One sentence."]
    assert splitter.flush() == ["And a tail"]
    assert splitter.flush() == []


def test_splitter_is_reusable_after_flush() -> None:
    splitter = SentenceSplitter()
    first = stream("Well, that went great, thanks. Bye", [], splitter)
    assert stream("Well, that went great, thanks. Bye", [], splitter) == first
    assert first[0] == "Well, that went great,"


def test_long_text_is_cut_at_clauses_or_spaces() -> None:
    text = "word " * 100 + "end, " + "more " * 100 + "done."
    chunks = split_sentences(text, max_chars=60)
    assert all(len(chunk) <= 60 for chunk in chunks)
    assert " ".join(chunks).split() == text.split()
    assert split_sentences("aaaa bbbb, cccc dddd eeee ffff", max_chars=20)[0] == "aaaa bbbb,"


def test_no_empty_chunks() -> None:
    assert split_sentences("") == []
    assert split_sentences("  \n\n  ") == []
    assert split_sentences("Hi.\n\n\nThere.  ") == ["Hi.", "There."]
