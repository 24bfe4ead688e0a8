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
    "The sky appears blue during the day because of a process called Rayleigh scattering. It is neat.",
    "A black hole is a region of space where gravity is so strong that nothing escapes, not even light.",
    'He said "the quick brown fox jumps over the lazy dog and the cat" to me. It costs 3.50 dollars in town.',
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


# -- the first chunk of an answer: out at its first natural boundary


def test_a_short_first_sentence_goes_out_whole() -> None:
    assert split_sentences("The capital of France is Paris. It is big.") == [
        "The capital of France is Paris.",
        "It is big.",
    ]
    # Cutting before "in" or "to" would leave two or three words dangling before the sentence ends.
    assert split_sentences("The capital of France is in Paris.") == ["The capital of France is in Paris."]
    joke = "Why did the computer go to the doctor? Because it had a virus!"
    assert split_sentences(joke) == ["Why did the computer go to the doctor?", "Because it had a virus!"]


def test_a_long_first_sentence_is_spoken_before_it_ends() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("The sky appears blue during the day") == []
    # Released while the model is still writing the sentence, cut before the preposition.
    assert splitter.push(" because of") == ["The sky appears blue"]
    assert splitter.push(" a process called Rayleigh scattering. Sunlight") == [
        "during the day because of a process called Rayleigh scattering."
    ]
    assert splitter.flush() == ["Sunlight"]


def test_a_long_first_sentence_is_cut_at_a_clause_comma() -> None:
    text = "For most people, a regular bedtime helps more than anything else does. Try it."
    assert split_sentences(text) == [
        "For most people,",
        "a regular bedtime helps more than anything else does.",
        "Try it.",
    ]
    # One word before the comma is too clipped: the first chunk goes on to a better boundary.
    assert split_sentences("Well, the sun is bright and very hot in summer.")[0] == "Well, the sun is bright"


def test_a_word_cut_falls_before_a_linking_word_never_after_one() -> None:
    chunks = split_sentences(
        "A black hole is a region of space where gravity is so strong that nothing escapes."
    )
    assert chunks[0] == "A black hole is a region"
    for first in (c[0] for c in map(split_sentences, SAMPLES) if c):
        assert first.split()[-1].lower() not in {"a", "the", "of", "to", "because", "and", "in"}
    # No linking word: a plain gap, later, between two ordinary words.
    text = "Rayleigh scattering makes short blue waves scatter much more strongly overall than red ones."
    assert split_sentences(text)[0] == "Rayleigh scattering makes short blue waves scatter much more strongly"


def test_the_first_cut_never_breaks_numbers_abbreviations_quotes_or_code() -> None:
    def first(text: str) -> str:
        return split_sentences(text)[0]

    assert first("It costs 3.50 dollars at the shop in the city centre today.") == "It costs 3.50 dollars"
    assert (
        first("Dr. Smith said that the results of the test were fine.") == "Dr. Smith said that the results"
    )
    assert first("It is 3 000 metres up to the top of the old mountain pass.").startswith(
        "It is 3 000 metres"
    )
    assert (
        first("Please go and see Mr Smith in the office at the end of the hall.")
        == "Please go and see Mr Smith"
    )
    assert first("Yesterday our old friendly local vet visited Dr. Smith at home quite late.").endswith(
        "Smith"
    )
    quoted = 'He said "the quick brown fox jumps over the lazy dog and the cat" to me today.'
    assert first(quoted) == quoted
    code = "Run `git commit --amend and more stuff` in the repo for this change."
    assert first(code) == code
    url = "Open https://example.com/a/b?c=1 in your browser with the new private window."
    assert first(url).startswith("Open https://example.com/a/b?c=1")


def test_later_chunks_are_whole_sentences() -> None:
    text = (
        "The sky appears blue during the day because of a process called Rayleigh scattering. "
        "Sunlight is made of many colors, and blue light scatters the most in the air. "
        "At sunset, light travels further, so the sky looks red."
    )
    chunks = split_sentences(text)
    assert chunks[0] == "The sky appears blue"
    assert chunks[1:] == [
        "during the day because of a process called Rayleigh scattering.",
        "Sunlight is made of many colors, and blue light scatters the most in the air.",
        "At sunset, light travels further, so the sky looks red.",
    ]


def test_a_short_stream_without_a_boundary_comes_out_on_flush() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("The sky appears blue during the day") == []
    assert splitter.flush() == ["The sky appears blue during the day"]  # "during the day" would dangle
    assert split_sentences("The sky appears blue during\nthe day") == [
        "The sky appears blue during",
        "the day",
    ]


def test_first_words_none_keeps_the_first_chunk_to_sentences_and_clauses() -> None:
    text = "The sky appears blue during the day because of a process called Rayleigh scattering. Yes."
    assert split_sentences(text, first_words=None) == [text[:-5], "Yes."]
    assert split_sentences("Hi, there, friend. Go.", min_first_chars=4, first_words=None)[0] == "Hi, there,"


@pytest.mark.parametrize("first_words", [None, 2, 4, 6, 10])
def test_first_chunk_rule_does_not_depend_on_token_boundaries(first_words: int | None) -> None:
    rng = random.Random(99)
    for text in SAMPLES:
        whole = split_sentences(text, first_words=first_words)
        for _ in range(30):
            assert stream(text, random_cuts(text, rng), SentenceSplitter(first_words=first_words)) == whole
