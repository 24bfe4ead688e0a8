"""Arguments a tool's pattern takes from the words as said (named groups): exact, or left to the model."""

from __future__ import annotations

import pytest

from assistant.chain import fast_path_tool
from assistant.tools.router import ToolRouter
from assistant.tools.said import bounded, said_arguments
from assistant.tools.spec import tool
from tests.conftest import builtin_registry
from tests.fakes import ScriptedLocalChat, ToolSet, make_settings


@pytest.fixture(scope="module")
def builtins():
    registry = builtin_registry()
    return ToolRouter(registry.tools.values()), {s.name: s.openai_schema() for s in registry.tools.values()}


@pytest.mark.parametrize(
    ("request_", "name", "arguments"),
    [
        ("What time is it in Tokyo?", "get_time", {"timezone": "Tokyo"}),
        ("What's the time in New York right now?", "get_time", {"timezone": "New York"}),
        ("What time is it?", "get_time", {}),  # nothing said for the optional zone: local time
        ("How cold is it in Oslo right now?", "get_weather", {"location": "Oslo"}),
        ("What's the weather like in St. Louis today?", "get_weather", {"location": "St. Louis"}),
        ("How warm is it in Rome.", "get_weather", {"location": "Rome"}),  # not "Rome."
        ("Set a timer for ten minutes.", "set_timer", {"duration_seconds": 600}),
        ("Start a 15 minute timer", "set_timer", {"duration_seconds": 900}),
        ("What is 17 times 23?", "calculate", {"expression": "17 times 23"}),
        ("Take a note: buy milk and eggs tomorrow.", "add_note", {"text": "buy milk and eggs tomorrow"}),
        ("Note that the keys are in the drawer.", "add_note", {"text": "the keys are in the drawer"}),
        ("Take a note buy milk and eggs tomorrow.", "add_note", {"text": "buy milk and eggs tomorrow"}),
        ("Please remember that my locker code is 4512", "add_note", {"text": "my locker code is 4512"}),
    ],
)
def test_arguments_said_in_the_words_are_taken_as_said(builtins, request_, name, arguments):
    router, schemas = builtins
    assert fast_path_tool(router, request_, [schemas[name]]) is not None
    assert said_arguments(router, schemas[name], request_) == arguments


@pytest.mark.parametrize(
    ("request_", "name", "whole"),
    [
        ("Set a timer for 10 minutes", "set_timer", True),  # a length
        ("How cold is it in New York", "get_weather", True),  # a name
        ("What is 17 times 23", "calculate", False),  # a sum may go on: "... plus 4"
        ("Add a note that", "add_note", False),  # a note's first word, not a note
        ("Note that the keys are in the drawer", "add_note", False),
    ],
)
def test_said_values_that_cannot_go_on_make_a_request_whole(builtins, request_, name, whole):
    router, schemas = builtins
    assert bounded(said_arguments(router, schemas[name], request_) or {}, schemas[name]) is whole


@pytest.mark.parametrize(
    ("request_", "name"),
    [
        ("what time is it in tokyo", "get_time"),  # typed in lower case: the model reads the place
        ("What time is it in Tokyo, Japan?", "get_time"),
        ("How cold is it in the UK?", "get_weather"),
        ("What is the weather in Oslo tomorrow?", "get_weather"),
        ("How cold is it in Oslo and Bergen?", "get_weather"),
        ("Set a pasta timer for 12 minutes.", "set_timer"),  # a label: the model writes the call
        ("Set a timer for 1.5 seconds.", "set_timer"),  # not a whole number of seconds
        ("What's 2 to the power of 10?", "calculate"),
        ("Take a note.", "add_note"),
        ("Remember that film we saw?", "add_note"),  # a question, no note
        ("Tell me a joke.", "get_time"),  # no pattern of it matches
    ],
)
def test_otherwise_the_model_writes_the_arguments(builtins, request_, name):
    router, schemas = builtins
    assert said_arguments(router, schemas[name], request_) is None


@tool(patterns=[r"^roll (?P<count>\w+) (?P<sides>d6|d20) dice$"])
def roll(count: int, sides: str, label: str = "") -> str:
    """Roll dice.

    Args:
        count: how many
        sides: which die, "d6" or "d20"
        label: what the roll is for
    """
    return f"{count} {sides}"


def test_a_long_note_is_never_cut_short(builtins):
    # The patterns read only the start of a very long request: such a note goes to the model whole.
    router, schemas = builtins
    note = "Take a note: " + "the long list goes on " * 200
    assert said_arguments(router, schemas["add_note"], note) is None


def test_a_plugin_s_named_groups_are_typed_by_its_schema():
    router = ToolRouter([roll.__sori_tool__])  # type: ignore[attr-defined]
    schema = roll.__sori_tool__.openai_schema()  # type: ignore[attr-defined]
    assert said_arguments(router, schema, "roll three d20 dice") == {"count": 3, "sides": "d20"}
    assert said_arguments(router, schema, "Roll 12 D6 dice") == {"count": 12, "sides": "D6"}
    assert said_arguments(router, schema, "roll many d6 dice") is None  # not a number


def test_the_fast_path_calls_with_said_arguments_without_the_model():
    from assistant.chain import ToolChain
    from assistant.llm import ChatMessage
    from assistant.tools import ToolExecutor

    @tool(patterns=[r"^\W*weather in (?P<city>(?-i:[A-Z]\w*))\W*$"])
    def get_weather(city: str) -> dict:
        """The weather in a city now."""
        return {"location": city, "conditions": "sunny", "temperature_c": 21}

    tools = ToolSet(get_weather)
    llm = ScriptedLocalChat(forced={"get_weather": {"city": "Somewhere else"}})
    router = ToolRouter(tools.tools.values())
    chain = ToolChain(llm, ToolExecutor(tools), make_settings(), local=llm, router=router)
    question = "Weather in Lima?"
    chain.run(question, [ChatMessage("user", question)], tools.schemas(), lambda delta: None)
    assert llm.forced_calls == [] and llm.requests == []  # the model wrote nothing
    assert [c["arguments"] for c in chain.calls] == [{"city": "Lima"}]
    assert chain.text == "In Lima it is sunny, 21 °C."


def test_a_spoken_place_reaches_the_real_tool(sori):
    # The real command and model: the time in Tokyo, its zone taken from the words.
    import json

    r = sori("ask", "--json", "What time is it in Tokyo?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    (call,) = out["tool_calls"]
    assert call["name"] == "get_time" and call["arguments"] == {"timezone": "Tokyo"} and call["ok"]
    assert json.loads(call["content"])["timezone"] == "Asia/Tokyo" and out["answer"]
