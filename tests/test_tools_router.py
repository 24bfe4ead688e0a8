"""Which tools a request is offered, and when the fast path may call one without asking the model."""

from __future__ import annotations

import pytest

from assistant.tools.loader import BUILTIN_DIR, ToolRegistry
from assistant.tools.router import ToolRouter, words


@pytest.fixture(scope="module")
def router() -> ToolRouter:
    registry = ToolRegistry([], entry_points=False, builtin_dir=BUILTIN_DIR)
    registry.load()
    return ToolRouter(registry.tools.values())


@pytest.mark.parametrize(
    "request_,tool",
    [
        ("What is 17 times 23?", "calculate"),
        ("Set a timer for five minutes.", "set_timer"),
        ("Tell me the current time in London please", "get_time"),
        ("What's the weather in Paris?", "get_weather"),
    ],
)
def test_plain_requests_take_the_fast_path(router: ToolRouter, request_: str, tool: str) -> None:
    assert router.confident(request_) == tool


@pytest.mark.parametrize(
    "question", ["Why is the sky blue?", "Who wrote Romeo and Juliet?", "Tell me a joke about computers"]
)
def test_general_questions_are_offered_no_tools(router: ToolRouter, question: str) -> None:
    assert router.select(question) == [] and router.confident(question) is None


def test_multiplication_is_not_the_time_of_day(router: ToolRouter) -> None:
    # "times" once stemmed to "time": the calculator was offered for "what time is it", and the clock
    # tied with it so the fast path gave up.
    assert "times" in words("What is 17 times 23?")
    assert router.select("What time is it?") == ["get_time"]
    assert "get_time" not in router.select("What is 12 times 12?")


@pytest.mark.parametrize(
    "question",
    [
        "Why do we have time zones?",
        "How do I take good notes in class?",
        "Explain how a calculator adds numbers.",
        "What is a document management system?",
        "How do weather forecasts work?",
    ],
)
def test_questions_about_a_topic_never_take_the_fast_path(router: ToolRouter, question: str) -> None:
    # They share words with tools, but want an explanation: running the tool would answer something else.
    assert router.confident(question) is None


@pytest.mark.parametrize(
    "request_", ["What's the time?", "what's the time in Lisbon", "What's the time right now, please?"]
)
def test_a_tools_own_example_as_said_takes_the_fast_path(router: ToolRouter, request_: str) -> None:
    assert router.confident(request_) == "get_time"

