"""Tests for `sori plugins list|check|new`, called through run_plugins (as cli.py will call it)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from assistant import paths
from assistant.cli import plugins as plugins_cli
from assistant.cli.plugins import run_plugins
from assistant.config import Settings
from assistant.errors import InputError
from assistant.tools import PluginError, ToolRegistry
from assistant.tools.router import ToolRouter
from assistant.tools.template import PLUGIN_TEMPLATE, new_plugin
from tests.plugin_files import GOOD, make_folder, write


@pytest.fixture(autouse=True)
def _no_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Counts in these tests must not depend on the built-in plugins shipped beside them.
    monkeypatch.setattr(plugins_cli, "BUILTIN_DIR", tmp_path / "no-builtins")


def args(command: str, file: Path | None = None, name: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(plugins_command=command, file=file, name=name)


def settings_with(*dirs: Path) -> Settings:
    return Settings.model_validate({"plugins": {"dirs": [str(d) for d in dirs]}})


def test_new_writes_a_working_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_plugins(args("new", name="weather_now"), Settings()) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == paths.plugins_dir() / "weather_now.py"
    assert not os.stat(path.parent).st_mode & 0o022 and not os.stat(path).st_mode & 0o022
    registry = ToolRegistry([path.parent], entry_points=False)
    registry.load()
    assert registry.errors == []
    spec = registry.get("weather_now")
    assert spec.parameters["properties"]["sides"]["description"] == "number of faces on each die"
    # It shows up in the list, and is never overwritten.
    assert run_plugins(args("list"), Settings()) == 0
    assert "weather_now" in capsys.readouterr().out
    with pytest.raises(PluginError, match="already exists"):
        run_plugins(args("new", name="weather_now"), Settings())


@pytest.mark.parametrize("bad", ["2fast", "with-dash", "_hidden", "class", "a" * 65, "x/y"])
def test_new_refuses_bad_names(bad: str, tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="plugin name"):
        new_plugin(bad, tmp_path)


def test_template_is_a_valid_plugin(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder, "dice.py", PLUGIN_TEMPLATE)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    assert list(registry.tools) == ["roll_dice"] and registry.errors == []
    # Its pattern, as a user would copy it: strict enough for "rock and roll", loose enough for real asks.
    router = ToolRouter(registry.tools.values())
    assert router.confident("Roll three twenty-sided dice") == "roll_dice"
    assert router.confident("Let's rock and roll, nice") is None


def test_check_good_file_prints_schemas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(make_folder(tmp_path), "dice.py", GOOD)
    assert run_plugins(args("check", file=path), Settings()) == 0
    schemas = json.loads(capsys.readouterr().out)
    assert schemas[0]["function"]["name"] == "roll_dice"
    assert schemas[0]["function"]["parameters"]["required"] == []


def test_check_bad_file_prints_file_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(make_folder(tmp_path), "bad.py", "x = 1\n\nraise KeyError('nope')\n")
    assert run_plugins(args("check", file=path), Settings()) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"{path.resolve()}:3: KeyError while loading: 'nope'"
    empty = write(make_folder(tmp_path), "empty.py", "x = 1\n")
    assert run_plugins(args("check", file=empty), Settings()) == 1
    assert "no tools found" in capsys.readouterr().err
    with pytest.raises(InputError, match="file not found"):
        run_plugins(args("check", file=tmp_path / "nope.py"), Settings())


def test_list_shows_tools_errors_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = make_folder(tmp_path, "extra")
    write(extra, "dice.py", GOOD)
    write(extra, "broken.py", "def (\n")
    assert run_plugins(args("list"), settings_with(extra)) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    dice = next(line for line in lines if line.startswith("roll_dice"))
    assert "Roll dice and return each result." in dice and str(extra.resolve() / "dice.py") in dice
    assert any(line.startswith(f"{extra.resolve() / 'broken.py'}:1: SyntaxError") for line in lines)
    assert lines[-1].startswith("1 tool, 1 load error (listed above); plugin folders:")
    assert str(paths.plugins_dir()) in lines[-1] and "not there yet" in lines[-1]


def test_list_with_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_plugins(args("list"), Settings()) == 0
    assert "sori plugins new NAME" in capsys.readouterr().out


def test_list_includes_builtins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    builtin = make_folder(tmp_path, "builtin")
    write(builtin, "clock.py", GOOD.replace("roll_dice", "what_time"))
    monkeypatch.setattr(plugins_cli, "BUILTIN_DIR", builtin)
    assert run_plugins(args("list"), Settings()) == 0
    assert capsys.readouterr().out.startswith("what_time")


def test_check_says_how_requests_are_routed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(make_folder(tmp_path), "dice.py", PLUGIN_TEMPLATE)
    namespace = args("check", file=path)
    namespace.say = ["Roll two twenty-sided dice", "Rock and roll all night"]
    assert run_plugins(namespace, Settings()) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)[0]["function"]["name"] == "roll_dice"  # stdout stays the schemas
    assert "'Roll two twenty-sided dice': offered roll_dice; fast path runs roll_dice" in err
    assert "'Rock and roll all night': offered none (the model answers alone); no fast path" in err


def test_check_says_when_a_plugin_wins_over_a_builtins_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.tools.loader import BUILTIN_DIR

    monkeypatch.setattr(plugins_cli, "BUILTIN_DIR", BUILTIN_DIR)  # the weather built-in is the rival
    source = '''from assistant.tools import tool


@tool(examples=["snow report for Whistler"])
def ski_resort_weather(resort: str) -> str:
    """Snow depth and weather at a ski resort."""
    return resort
'''
    path = write(make_folder(tmp_path), "ski.py", source)
    namespace = args("check", file=path)
    namespace.say = ["How cold is it in the Zermatt ski resort?"]
    assert run_plugins(namespace, Settings()) == 0
    err = capsys.readouterr().err
    assert "offered ski_resort_weather; no fast path (the model chooses)" in err
    assert "ski_resort_weather fits the words better than the built-in get_weather's pattern" in err
