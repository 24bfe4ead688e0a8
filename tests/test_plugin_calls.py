"""Deciding to call a plugin the model has never seen, through the real small model (typed turns).

The decision is the model's probability of starting a call against `[plugins] call_threshold`
(assistant/llm/decide.py); several calls are written as a list (assistant/llm/calls.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.store import ConversationStore

ALMANAC = Path(__file__).parent / "data" / "plugins" / "almanac.py"


@pytest.fixture(scope="module")
def almanac(small_settings, engines, tmp_path_factory):
    """The small models with a user's plugin file (population, currency, ski report) beside the built-ins."""
    folder = tmp_path_factory.mktemp("plugins")
    folder.chmod(0o755)
    shutil.copy(ALMANAC, folder / "almanac.py")
    (folder / "almanac.py").chmod(0o644)
    data = small_settings.model_dump()
    data["plugins"] = {"dirs": [str(folder)]}
    a = Assistant(Settings.model_validate(data), store=ConversationStore(folder.parent / "c.sqlite3"))
    a._stt, a._llm, a._tts = engines
    return a


def calls(a: Assistant, text: str) -> list[tuple[str, dict]]:
    reply = a.reply(a.store.new_conversation().id, text)
    return [(c["name"], c.get("arguments", {})) for c in reply.tool_calls]


def test_a_question_a_plugin_answers_calls_it(almanac):
    # A question, so no fast path: the model itself decides to call the tool it has never seen.
    question = "What was the population of California in 1970?"
    assert almanac.router().confident(question) is None
    assert calls(almanac, question) == [
        ("us_population_by_state_year", {"state": "California", "year": 1970})
    ]


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who wrote Romeo and Juliet?",
        "How do I set a timer on an Android phone?",
    ],
)
def test_general_questions_call_nothing_with_plugins_loaded(almanac, question):
    assert calls(almanac, question) == []


def test_an_enum_argument_is_one_of_its_choices(almanac):
    assert calls(almanac, "Convert 20 dollars to euros") == [
        ("convert_currency", {"amount": 20, "to": "EUR"})
    ]


def test_two_calls_in_one_turn_each_answered(almanac):
    reply = almanac.reply(
        almanac.store.new_conversation().id, "Give me the snow report for Whistler and for Zermatt."
    )
    assert [c["arguments"] for c in reply.tool_calls] == [{"resort": "Whistler"}, {"resort": "Zermatt"}]
    assert "Whistler" in reply.text and "Zermatt" in reply.text


def test_a_plugin_that_fits_better_wins_over_a_builtins_pattern(almanac):
    question = "How cold is it in the Zermatt ski resort?"  # the weather built-in's pattern matches it
    assert almanac.router().matched(question) == ["get_weather"]
    assert calls(almanac, question) == [("ski_resort_weather", {"resort": "Zermatt"})]
