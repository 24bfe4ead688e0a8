"""Arguments nobody said, and tools nobody asked for: the real small model, the real tools.

The small model fills every optional argument it is shown, with the example from the tool's docstring:
"set a timer for five minutes" got label="laundry", "what time is it" got timezone="Tokyo". And a request
with no tool in it ("Say only the word ready.") was offered search_documents for the word "say" in one of
its examples, and called it with the example query from the docstring.
"""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.llm.toolcall import ToolCall
from assistant.store import ConversationStore
from assistant.tools.grounding import adds_something, ground, invented, said_words, values_left

# A plugin whose docstring examples tempt the model: both tools take optional text the request may not say.
PLUGIN = '''
from assistant.tools import tool


@tool(patterns=[r"^\\W*roll (?:a|one) (?:die|dice)\\b"], examples=["roll a die"])
def roll_die(sides: int = 6, colour: str | None = None) -> dict:
    """Roll one die and say the number it shows.

    Args:
        sides: how many faces the die has
        colour: the colour of the die, e.g. "red" or "green"
    """
    return {"number": 4, "colour": colour}


@tool(patterns=[r"^\\W*(?:call|phone) (?:a )?taxi\\b"], examples=["call a taxi"])
def call_taxi(pickup: str | None = None, destination: str | None = None) -> dict:
    """Order a taxi.

    Args:
        pickup: where to be picked up, e.g. "home" or "Central Station"
        destination: where to go, e.g. "the airport"
    """
    return {"ordered": True, "pickup": pickup, "destination": destination}
'''


@pytest.fixture(scope="module")
def assistant(small_settings, engines, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    folder.chmod(0o755)
    (folder / "errands.py").write_text(PLUGIN)
    (folder / "errands.py").chmod(0o644)
    data = small_settings.model_dump()
    data["plugins"] = {"dirs": [str(folder)]}
    store = ConversationStore(tmp_path_factory.mktemp("store") / "c.sqlite3")
    a = Assistant(Settings.model_validate(data), store=store)
    a._stt, a._llm, a._tts = engines
    a.dry_run_tools = True  # what is called, and with what, without setting real timers
    return a


def ask(assistant: Assistant, text: str):
    return assistant.reply(assistant.store.new_conversation().id, text)


def test_a_timer_for_five_minutes_has_no_made_up_label(assistant: Assistant) -> None:
    reply = ask(assistant, "set a timer for five minutes")
    assert [c["name"] for c in reply.tool_calls] == ["set_timer"]
    assert reply.tool_calls[0]["arguments"] == {"duration_seconds": 300}  # no "laundry"


@pytest.mark.parametrize(
    "request_,tool,arguments",
    [
        ("What time is it?", "get_time", {}),  # the model wrote timezone="Tokyo"
        ("Roll a die", "roll_die", {}),  # colour="red"; sides is not written either: its default, 6, applies
        ("Call a taxi", "call_taxi", {}),  # pickup="home", destination="the airport"
    ],
)
def test_optional_arguments_nobody_said_are_left_out(
    assistant: Assistant, request_: str, tool: str, arguments: dict
) -> None:
    reply = ask(assistant, request_)
    assert [c["name"] for c in reply.tool_calls] == [tool]
    assert reply.tool_calls[0]["arguments"] == arguments


def test_optional_arguments_the_user_said_are_kept(assistant: Assistant) -> None:
    reply = ask(assistant, "Call a taxi to the airport")
    args = reply.tool_calls[0]["arguments"]
    assert "airport" in args.get("destination", "").lower()
    assert "pickup" not in args  # "Central Station" was never said
    reply = ask(assistant, "What time is it in Tokyo?")
    assert "tokyo" in reply.tool_calls[0]["arguments"].get("timezone", "").lower()


@pytest.mark.parametrize(
    "request_",
    [
        "Say only the word ready.",
        "Just say yes.",
        "Reply with the single word done.",
        "How do you say thank you in Japanese?",
    ],
)
def test_requests_with_no_tool_in_them_call_none(assistant: Assistant, request_: str) -> None:
    reply = ask(assistant, request_)
    assert reply.tool_calls == []
    assert reply.text.strip() and "documents folder" not in reply.text  # answered, by the model


def test_a_made_up_required_argument_is_not_run(assistant: Assistant) -> None:
    # The model, offered search_documents, copied its docstring's example query: such a call is not run,
    # and the model answers without tools.
    messages = ["Say only the word ready."]
    call = ToolCall("search_documents", {"query": "pets, warranty period, vacation days"})
    schema = assistant.tools.get("search_documents").openai_schema()
    assert ground(call, schema, said_words(messages)) is None
    real = ToolCall("search_documents", {"query": "warranty"})
    assert ground(real, schema, said_words(["what does my warranty say?"])) == real


CONVERT = {
    "type": "function",
    "function": {
        "name": "convert_currency",
        "description": "Convert money between currencies, e.g. 20 pounds to yen.",
        "parameters": {
            "type": "object",
            "properties": {
                "to": {"type": "string", "description": "a currency code such as JPY"},
                "unit": {"type": "string", "enum": ["cash", "card"]},
                "city": {"type": "string", "description": "where the bank is"},
            },
            "required": ["to", "unit", "city"],
        },
    },
}


@pytest.mark.parametrize(
    ("arguments", "kept"),
    [
        # Worked out from what was said: a code for "euros", a city for "the capital of France".
        ({"to": "EUR", "unit": "cash", "city": "Paris"}, True),
        # A choice from the tool's own list is never made up.
        ({"to": "EUR", "unit": "card", "city": "Paris"}, True),
        # The description's example, not the request: the call is not what the user asked for.
        ({"to": "JPY", "unit": "cash", "city": "Paris"}, False),
    ],
)
def test_a_required_argument_the_model_worked_out_is_kept(arguments: dict, kept: bool) -> None:
    said = said_words(["Convert 10 euros to cash at a bank in the capital of France"])
    call = ToolCall("convert_currency", {**arguments})
    assert (ground(call, CONVERT, said) == call) is kept


@pytest.mark.parametrize(
    "value,said,made_up",
    [
        ("laundry", "set a timer for five minutes", True),
        ("timer", "set a timer for five minutes", False),  # the tool's own name adds nothing either way
        ("laundry timer", "set a timer for five minutes", True),
        ("call mom", "remind me in half an hour to call Mom", False),
        ("Asia/Tokyo", "What time is it in Tokyo?", False),
        ("0.18 * 65", "If I tip 18 percent on 65 dollars, how much is the tip?", False),
        ("all", "cancel my timer", False),  # only words any request has: nothing of its own
        ("", "cancel my timer", False),
        ("Paris", "what's the weather", True),
        ("sqrt(9)", "What is the square root of nine?", False),  # a number said in words
        ("sqrt(-1)", "What's the square root of minus one called?", False),
    ],
)
def test_what_counts_as_said(value: str, said: str, made_up: bool) -> None:
    assert invented(value, said_words([said]), "set_timer") is made_up


def test_the_conversation_counts_but_not_only_this_request() -> None:
    # "And tomorrow?" after a question about Paris may name Paris: it was said in the conversation.
    said = said_words(["What's the weather in Paris?", "It is sunny in Paris.", "And tomorrow?"])
    assert not invented("Paris", said, "get_weather")


def test_another_call_in_one_answer_must_do_more_than_those_before() -> None:
    said = said_words(["What is the weather in Paris and in Oslo, and the time in Tokyo?"])
    paris = ToolCall("get_weather", {"city": "Paris"})
    earlier = [paris]
    assert adds_something(ToolCall("get_weather", {"city": "Oslo"}), earlier, said)  # a place said, unused
    assert adds_something(ToolCall("get_time", {"city": "Tokyo"}), earlier, said)  # another tool, named
    assert not adds_something(ToolCall("list_timers", {}), earlier, said)  # another tool nobody asked for
    assert not adds_something(ToolCall("search_notes", {"query": "Paris"}), earlier, said)
    assert not adds_something(ToolCall("get_weather", {"city": "Paris", "units": "metric"}), earlier, said)
    assert not adds_something(ToolCall("get_weather", {"city": "Berlin"}), earlier, said)  # nobody said it
    circles = said_words(["The area of two circles, with a radius of 5 and of 10 metres."])
    areas = [ToolCall("area", {"radius": 5}), ToolCall("area", {"radius": 10})]
    assert adds_something(areas[1], areas[:1], circles)
    assert not adds_something(ToolCall("area", {"radius": 15}), areas, circles)


@pytest.mark.parametrize(
    "request_,calls,left",
    [
        ("The area of circles with radius 5 and 10.", [{"radius": 5}], True),
        ("The area of circles with radius 5 and 10.", [{"radius": 5}, {"radius": 10}], False),
        ("What is the weather in Paris and Oslo?", [{"city": "Paris"}], True),
        ("Temperature in New York, Los Angeles and Tokyo", [{"city": "New York"}], True),
        ("Win rate of the Lakers and Bulls in 2018 and 2020", [{"team": "Lakers", "year": 2018}], True),
        # One call takes everything listed, or nothing listed is a value: nothing left for another.
        ("What is the weather in Paris, France?", [{"city": "Paris, France"}], False),
        ("The BMI for weight 70 kg and height 175 cm", [{"weight": 70, "height": 175}], False),
        ("Take a note: buy milk and eggs", [{"text": "buy milk and eggs"}], False),
        ("Set a timer for 10 minutes and call it Pasta", [{"minutes": 10, "label": "Pasta"}], False),
        ("The area of a circle with radius 5.", [{"radius": 5}], False),
    ],
)
def test_a_request_listing_values_gets_a_call_for_each(request_: str, calls: list, left: bool) -> None:
    """The model's own P(another call) is as low after "5" in "radius 5 and 10" as after a single request's
    only call, so a listed value no call has used has another call written (kept if it adds something)."""
    assert values_left([ToolCall("f", args) for args in calls], request_) is left


def _timer_schema() -> dict:
    from tests.conftest import builtin_registry

    return builtin_registry().tools["set_timer"].openai_schema()


@pytest.mark.parametrize(
    "request_,options",
    [
        ("Set a timer for 10 minutes.", False),  # nothing left for a label: it is not written at all
        ("Could you start a 15 minute timer?", False),
        ("Set a pasta timer for 12 minutes.", True),
        ("Set a timer for 3 minutes to check the oven.", True),
        ("Remind me in half an hour to call mom.", True),
    ],
)
def test_optional_arguments_are_written_only_when_words_are_left_for_them(request_: str, options: bool):
    from assistant.tools.grounding import without_unsaid_options

    schema = _timer_schema()
    written = without_unsaid_options(schema, request_)
    assert ("label" in written["function"]["parameters"]["properties"]) is options
    assert written["function"]["parameters"]["required"] == ["duration_seconds"]
    assert "label" in schema["function"]["parameters"]["properties"]  # the prompt's schema is untouched


_SUSHI = {
    "type": "function",
    "function": {
        "name": "find_closest_restaurant",
        "description": "Locate the closest restaurant by criteria, such as the presence of a patio.",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city, for instance Boston."},
                "amenities": {"type": "array", "items": {"type": "string", "enum": ["Patio", "Wi-Fi"]}},
            },
            "required": ["location"],
        },
    },
}


@pytest.mark.parametrize(
    "request_,options",
    [
        ("Find the closest restaurant with a patio in Boston.", True),  # a choice of the optional one
        ("Find the closest restaurant in Boston.", False),
    ],
)
def test_an_option_the_tool_s_description_mentions_is_still_the_user_s_to_ask_for(request_, options) -> None:
    from assistant.tools.grounding import without_unsaid_options

    written = without_unsaid_options(_SUSHI, request_)
    assert ("amenities" in written["function"]["parameters"]["properties"]) is options


def test_a_label_the_user_said_is_written(assistant: Assistant) -> None:
    reply = ask(assistant, "Set a timer for 3 minutes to check the oven.")
    assert [c["name"] for c in reply.tool_calls] == ["set_timer"]
    args = reply.tool_calls[0]["arguments"]
    assert args["duration_seconds"] == 180 and "oven" in args.get("label", "").lower(), args
