"""Which tools a request is offered, and when the fast path may call one without asking the model."""

from __future__ import annotations

import pytest

from assistant.tools.router import ToolRouter, words
from tests.conftest import builtin_registry


@pytest.fixture(scope="module")
def router() -> ToolRouter:
    return ToolRouter(builtin_registry().tools.values())


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
    "question",
    [
        "Why is the sky blue?",
        "Who wrote Romeo and Juliet?",
        "Tell me a joke about computers",
        # One incidental word of a description ("...notes that mention some words") offers nothing: with
        # search_notes offered, the model searched the notes instead of counting.
        "Count from one to one hundred in words.",
        "Write the numbers from one to two hundred in words, separated by commas.",
    ],
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
    "request_", ["What's the time?", "what's the time in Lisbon", "What's the time right now, please?"]
)
def test_a_tools_own_example_as_said_takes_the_fast_path(router: ToolRouter, request_: str) -> None:
    assert router.confident(request_) == "get_time"


@pytest.mark.parametrize(
    "request_,tool",
    [
        ("Do you know what time it is?", "get_time"),
        ("what date is it today", "get_time"),
        ("What’s the time in Lima?", "get_time"),
        ("what's the local time in Seoul", "get_time"),
        ("Could you time two minutes for me?", "set_timer"),
        ("Remind me in an hour to water the plants", "set_timer"),
        ("How windy is it in Chicago?", "get_weather"),
        ("What's the weather in Quito today?", "get_weather"),
        ("Do I need an umbrella today?", "get_weather"),
        ("What does my rental agreement say about subletting?", "search_documents"),
        ("What's 7 squared?", "calculate"),
    ],
)
def test_requests_matching_a_tools_patterns_take_the_fast_path(
    router: ToolRouter, request_: str, tool: str
) -> None:
    assert router.matched(request_) == [tool]
    assert router.confident(request_) == tool
    assert router.select(request_)[0] == tool


@pytest.mark.parametrize(
    "question",
    [
        "what time does the pharmacy close",
        "what day is Christmas this year",
        "what time zone is Chicago in",
        "what's the date of the next full moon",
        "How do I set a timer on my phone?",
        "can you time travel",
        "how hot is the sun",
        "is it hot in here",
        "what does the Bible say about forgiveness",
        "what does my dog say when he barks",
        "What do 48 and 52 add up to?",  # shares only the verb of add_note
        "What's the difference between weather and climate?",
        # A question that only shares a tool's name, or an example followed by a different subject.
        "When was the calculator invented?",
        "Which document declared American independence?",
        "What's the time signature of a waltz?",
        "Can you explain what a time zone is?",
        # Questions about a topic share words with tools but want an explanation: running the tool would
        # answer something else.
        "Why do we have time zones?",
        "How do I take good notes in class?",
        "Explain how a calculator adds numbers.",
        "What is a document management system?",
        "How do weather forecasts work?",
    ],
)
def test_near_misses_and_topic_questions_do_not_take_the_fast_path(router: ToolRouter, question: str) -> None:
    assert router.confident(question) is None


def test_a_plugins_own_pattern_takes_the_fast_path_and_two_matches_do_not() -> None:
    from assistant.tools import tool
    from assistant.tools.spec import ToolSpec

    def spec(fn: object) -> ToolSpec:
        return fn.__sori_tool__  # type: ignore[attr-defined,no-any-return]

    @tool(patterns=[r"^\W*roll\s+(?:a|\d+|two|three)\s+(?:[\w-]+\s+)?dic?e\b"])
    def roll_dice(sides: int = 6, count: int = 1) -> list[int]:
        """Roll dice."""
        return [sides] * count

    @tool(patterns=[r"\bdice\b"])
    def dice_stats(count: int = 1) -> str:
        """Dice odds."""
        return ""

    alone = ToolRouter([spec(roll_dice)])
    assert alone.confident("Roll two twenty-sided dice") == "roll_dice"
    assert alone.confident("Let's rock and roll") is None
    both = ToolRouter([spec(roll_dice), spec(dice_stats)])
    assert both.matched("roll two dice") == ["roll_dice", "dice_stats"]
    assert both.confident("roll two dice") is None  # in doubt: the model chooses
    assert set(both.select("roll two dice")) == {"roll_dice", "dice_stats"}


def test_a_runaway_pattern_does_not_freeze_the_turn(caplog: pytest.LogCaptureFixture) -> None:
    import time

    from assistant.tools import tool

    # Nested alternatives backtrack exponentially on a long run of "a": unbounded, this never returns.
    @tool(patterns=[r"^(?:a|aa|aaa)+c"])
    def slow(x: int = 1) -> int:
        """Slow."""
        return x

    router = ToolRouter([slow.__sori_tool__])  # type: ignore[attr-defined]
    t0 = time.monotonic()
    assert router.confident("a" * 80) is None
    assert time.monotonic() - t0 < 5
    assert "tool slow: pattern" in caplog.text and "ignored" in caplog.text


def test_no_fast_path_when_a_required_number_was_not_said(router: ToolRouter) -> None:
    # The model would have to make up the timer's length; on its own path it can ask for it.
    assert router.confident("Set me a timer") is None
    assert router.confident("Start a timer for the tea") is None
    assert router.confident("Put a timer on for quarter of an hour") == "set_timer"
    assert router.confident("Start a timer for eight minutes for the tea") == "set_timer"
    assert router.confident("Delete note number 2") == "delete_note"
    assert router.confident("Delete that note") is None


def test_a_users_tool_that_fits_better_wins_over_a_builtins_pattern(router: ToolRouter) -> None:
    from assistant.tools import tool

    registry = builtin_registry()

    @tool(examples=["snow report for Whistler"])
    def ski_resort_weather(resort: str) -> str:
        """Snow depth and weather at a ski resort."""
        return resort

    question = "How cold is it in the Zermatt ski resort?"
    assert router.confident(question) == "get_weather"  # the built-in's pattern, with no plugin about
    both = ToolRouter([*registry.tools.values(), ski_resort_weather.__sori_tool__])  # type: ignore[attr-defined]
    assert both.rival(question, "get_weather") == "ski_resort_weather"
    assert both.confident(question) is None  # no fast path to the built-in: the model chooses
    assert both.select(question) == ["ski_resort_weather"]  # the built-in steps aside
    # Where the plugin's words fit no better, the built-in keeps its fast path.
    assert both.confident("How cold is it in Oslo?") == "get_weather"


def test_requests_are_routed_from_several_threads_at_once() -> None:
    """The speculative prefill and an answer route at the same time; a shared stemmer once mixed up
    their words (an IndexError in a turn of the 60 s monologue test)."""
    import threading

    from assistant.tools import router as router_module

    texts = [" ".join(f"walking talked{'s' * i} runner{'x' * j}ing" for j in range(20)) for i in range(30)]
    expected = [words(t) for t in texts]
    router_module._stem.cache_clear()  # every word through the stemmer again, from the threads
    failures: list[str] = []

    def route(k: int) -> None:
        try:
            pairs = zip(texts[k::2], expected[k::2], strict=True)
            failures.extend("mismatch" for t, e in pairs if words(t) != e)
        except Exception as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=route, args=(k % 2,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
