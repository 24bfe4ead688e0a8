"""Lengths of time in a request go into a call exactly (a small model wrote 10 s for "ten minutes")."""

from __future__ import annotations

import pytest

from assistant.llm.toolcall import ToolCall
from assistant.tools.durations import exact_durations, spoken_durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Set a timer for 10 minutes.", [600]),
        ("Set a timer for five minutes.", [300]),
        ("Start a 15 minute timer.", [900]),
        ("Remind me in half an hour to call mom.", [1800]),
        ("Set a timer for 90 seconds for the eggs.", [90]),
        ("a timer for an hour and a half", [5400]),
        ("set a timer for 1 hour 30 minutes", [5400]),
        ("an hour and 30 minutes", [5400]),
        ("two and a half minutes", [150]),
        ("twenty-five minutes", [1500]),
        ("forty five seconds", [45]),
        ("a couple of minutes", [120]),
        ("wait 250 ms", [0.25]),
        ("in 5 minutes, for 10 minutes", [300, 600]),
        ("What is 17 times 23?", []),
        ("Set a timer.", []),
    ],
)
def test_spoken_lengths_of_time(text, seconds):
    assert spoken_durations(text) == pytest.approx(seconds)


def _tool(**props) -> dict:
    return {
        "type": "function",
        "function": {"name": "t", "parameters": {"type": "object", "properties": props}},
    }


def test_an_argument_whose_name_gives_a_unit_gets_the_spoken_length_in_that_unit():
    tool = _tool(
        duration_seconds={"type": "integer"},
        delay_minutes={"type": "number"},
        timeout_ms={"type": "integer"},
        count={"type": "integer"},
        label={"type": "string"},
    )
    call = ToolCall(
        "t", {"duration_seconds": 10, "delay_minutes": 1, "timeout_ms": 5, "count": 3, "label": "x"}
    )
    fixed = exact_durations(call, tool, "Set a timer for ten minutes.")
    assert fixed.arguments == {
        "duration_seconds": 600,
        "delay_minutes": 10.0,
        "timeout_ms": 600000,
        "count": 3,
        "label": "x",
    }


def test_the_model_s_value_stands_where_the_words_are_not_exact():
    tool = _tool(duration_seconds={"type": "integer"}, hours={"type": "integer"})
    call = ToolCall("t", {"duration_seconds": 300, "hours": 2})
    assert exact_durations(call, tool, "in 5 minutes, for 10 minutes") is call  # two lengths: which?
    assert exact_durations(call, tool, "Set a timer, please.") is call  # none said
    # Ninety minutes is not a whole number of hours: the integer argument keeps the model's value.
    assert exact_durations(call, tool, "for ninety minutes").arguments == {
        "duration_seconds": 5400,
        "hours": 2,
    }
    assert exact_durations(call, None, "for ten minutes") is call  # a tool nobody knows


def test_the_small_model_s_timer_is_as_long_as_asked(assistant):
    """Real small model, typed requests: the timer set is the length said, however the model wrote it (a
    label to write: the model writes the call) or taken as said (nothing but the length)."""
    for text, seconds in (
        ("Set a pasta timer for 10 minutes.", 600),
        ("Start a 15 minute timer for the eggs.", 900),
        ("Set a timer for 10 minutes.", 600),
    ):
        conv = assistant.store.new_conversation()
        assistant.reply(conv.id, text)
        calls = [
            c for m in assistant.store.messages(conv.id) for c in m.tool_calls if c["name"] == "set_timer"
        ]
        assert calls and calls[0]["ok"], calls
        assert calls[0]["arguments"]["duration_seconds"] == seconds, calls
