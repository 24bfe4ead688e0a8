"""Tests for assistant.text.normalize: markdown, numbers, dates, money, units, abbreviations, links, emoji."""

from __future__ import annotations

import re

import pytest

from assistant.text.markdown import CODE_PHRASE
from assistant.text.normalize import normalize_for_speech

CASES: list[tuple[str, str]] = [
    # markdown
    ("**Bold** and *it* and _it_ here", "Bold and it and it here"),
    ("# Shopping list\nBuy things", "Shopping list. Buy things"),
    ("- eggs\n- milk!\n* bread", "eggs. milk! bread."),
    ("1. Preheat the oven\n2) Mix", "Preheat the oven. Mix."),
    ("- [ ] todo\n- [x] done", "todo. done."),
    ("Run `pip install sori` first.", "Run pip install sori first."),
    ("Read [the docs](https://docs.example.com/a) now.", "Read the docs now."),
    ("A picture ![cat](cat.png) here.", "A picture here."),
    ("| Name | Age |\n|---|---|\n| Bob | 42 |", "Name, Age. Bob, forty-two."),
    ("> quoted words", "quoted words"),
    ("Intro\n\n---\n\nOutro", "Intro. Outro"),
    ("snake_case_name", "snake case name"),
    # numbers
    ("1,234 people", "one thousand, two hundred and thirty-four people"),
    ("3.5 liters", "three point five liters"),
    ("It is -7 outside", "It is minus seven outside"),
    ("the 1st and the 22nd", "the first and the twenty-second"),
    ("in 1999 it began", "in nineteen ninety-nine it began"),
    ("since 2005", "since two thousand and five"),
    ("the 1990s and the '80s", "the nineteen nineties and the eighties"),
    ("50%", "fifty percent"),
    ("3-5 minutes", "three to five minutes"),
    ("2 + 2 = 4", "two plus two equals four"),
    ("3 × 4", "three times four"),
    ("~5 minutes", "about five minutes"),
    ("½ cup", "one half cup"),
    ("007", "zero zero seven"),
    ("v1.2.3", "version one point two point three"),
    ("Call 555-123-4567", "Call five five five, one two three, four five six seven"),
    # times
    ("3:45 pm", "three forty-five P M"),
    ("3:45 PM", "three forty-five P M"),
    ("15:30", "fifteen thirty"),
    ("10 am", "ten A M"),
    ("12:00", "twelve o'clock"),
    ("7:05", "seven oh five"),
    ("See you at 5 p.m. Then we eat.", "See you at five P M. Then we eat."),
    # dates
    ("2024-03-15", "March fifteenth, twenty twenty-four"),
    ("March 15, 2024", "March fifteenth, twenty twenty-four"),
    ("Sept. 3rd", "September third"),
    ("5 May 2021", "the fifth of May, twenty twenty-one"),
    ("15/03/2024", "March fifteenth, twenty twenty-four"),
    # currency
    ("$12.50", "twelve dollars and fifty cents"),
    ("$1", "one dollar"),
    ("$0.99", "ninety-nine cents"),
    ("€5", "five euros"),
    ("£3.20", "three pounds and twenty pence"),
    ("$1.5 million", "one point five million dollars"),
    ("$2k", "two thousand dollars"),
    ("$1,234.56", "one thousand, two hundred and thirty-four dollars and fifty-six cents"),
    # units and symbols
    ("21°C", "twenty-one degrees Celsius"),
    ("70°F", "seventy degrees Fahrenheit"),
    ("-5 °C", "minus five degrees Celsius"),
    ("5 km", "five kilometers"),
    ("1 km", "one kilometer"),
    (
        "2 kg, 1 g, 3 m, 4 cm, 5 mm, 6 mi",
        "two kilograms, one gram, three meters, four centimeters, five millimeters, six miles",
    ),
    ("60 mph or 100 km/h", "sixty miles per hour or one hundred kilometers per hour"),
    ("10 GB", "ten gigabytes"),
    ("20 m²", "twenty meters squared"),
    ("6 ft", "six feet"),
    ("salt & pepper", "salt and pepper"),
    # abbreviations
    ("fruit, e.g. apples", "fruit, for example apples"),
    ("fruit, i.e. apples", "fruit, that is apples"),
    ("apples, pears, etc. Then more", "apples, pears, et cetera. Then more"),
    ("apples, etc. and more", "apples, et cetera and more"),
    ("Dr. Who, Mr. Bean, Mrs. Doubtfire", "Doctor Who, Mister Bean, Missus Doubtfire"),
    ("Ms. Marvel", "Miz Marvel"),
    ("St. Louis", "Saint Louis"),
    ("cats vs. dogs", "cats versus dogs"),
    ("approx. 5 hours", "approximately five hours"),
    ("the U.S. Army", "the U S Army"),
    # urls and emails
    ("https://www.example.com/path?x=1", "example dot com"),
    ("Go to https://example.com/docs.", "Go to example dot com."),
    ("Visit example.com today.", "Visit example dot com today."),
    ("Write to a.b@example.com now", "Write to a dot b at example dot com now"),
    # emoji and whitespace
    ("Great job 🎉👍🏽 ✅ done", "Great job done"),
    ("   lots   of\tspace  ", "lots of space"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalize_cases(text: str, expected: str) -> None:
    assert normalize_for_speech(text) == expected


def test_fenced_code_block_becomes_a_phrase() -> None:
    text = "Try this:\n```python\nprint('a. b')\nx = [1, 2]\n```\nThat is all."
    assert normalize_for_speech(text) == f"Try this: {CODE_PHRASE} That is all."


def test_unclosed_fence_still_hides_the_code() -> None:
    assert normalize_for_speech("```bash\nrm -rf /tmp/x") == CODE_PHRASE


def test_inline_triple_backticks_keep_the_text() -> None:
    assert normalize_for_speech("Type ```ls``` to list.") == "Type ls to list."


def test_only_pictographs_give_empty_text() -> None:
    assert normalize_for_speech("🎉🎉 ✨") == ""
    assert normalize_for_speech("") == ""


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_normalizing_twice_changes_nothing(text: str, expected: str) -> None:
    assert normalize_for_speech(expected) == expected
    once = normalize_for_speech(text)
    assert normalize_for_speech(once) == once


@pytest.mark.parametrize("text", [text for text, _ in CASES] + ["Room 101, floor 3, 4K video, mp3 files"])
def test_no_digits_or_markup_reach_the_voice(text: str) -> None:
    spoken = normalize_for_speech(text)
    assert spoken, text
    assert not re.search(r"\d", spoken)
    assert not re.search(r"[*_#`|\[\]{}<>$€£%°]", spoken)


def test_words_are_never_dropped_entirely() -> None:
    for text in ["x", "**", "[]()", "***hi***", "| a |", "1.", "_", "- "]:
        assert bool(normalize_for_speech(text)) == bool(re.search(r"[^\W_]", text)), text
