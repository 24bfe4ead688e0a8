"""Reading the answer to a yes/no question, as Whisper writes it or as the user types it."""

from __future__ import annotations

import pytest

from assistant.text.yesno import parse_yes_no


@pytest.mark.parametrize(
    "text", ["Yes.", "yes please", "Yeah, go ahead.", "Sure!", "OK", "Okay, do it.", "Of course.", "Yep"]
)
def test_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize(
    "text", ["No.", "Nope", "No, thanks.", "Don't.", "Cancel that.", "Never mind.", "Do not do that.", "nah"]
)
def test_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize("text", ["", "What is the weather?", "Yes, no, wait.", "Hmm", "Maybe later"])
def test_neither_or_both_is_unclear(text: str) -> None:
    assert parse_yes_no(text) is None
