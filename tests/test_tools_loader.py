"""Tests for ToolRegistry: folders, files, entry points, broken plugins, duplicates, permissions, watching."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.tools import LoadError, ToolRegistry
from assistant.tools import importer as importer_module
from assistant.tools.errors import ToolNotFound
from tests.plugin_files import GOOD, make_folder, mixed_folder, write


def errors_by_file(registry: ToolRegistry) -> dict[str, LoadError]:
    return {e.file.name: e for e in registry.errors}


def test_mixed_folder_loads_the_good_and_reports_the_bad(tmp_path: Path) -> None:
    registry = ToolRegistry([mixed_folder(tmp_path)], entry_points=False)
    registry.load()
    assert set(registry.tools) == {"roll_dice", "hang", "explode", "weird", "huge"}
    errors = errors_by_file(registry)
    assert set(errors) == {"syntax.py", "raises.py"}
    assert errors["syntax.py"].line == 3 and "SyntaxError" in errors["syntax.py"].message
    assert errors["raises.py"].line == 3
    assert str(errors["raises.py"]) == (
        f"{errors['raises.py'].file}:3: RuntimeError while loading: plugin is broken"
    )
    assert registry.sources()["roll_dice"].name == "good.py"
    assert registry.get("roll_dice").parameters["properties"]["sides"]["default"] == 6
    assert [s["function"]["name"] for s in registry.schemas()][0] == "explode"  # files in name order


def test_load_is_idempotent_and_rereads_files(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    source = (
        "from assistant.tools import tool\n\n@tool\ndef answer() -> int:\n    '''Answer.'''\n    return 1\n"
    )
    path = write(folder, "answer.py", source)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    registry.load()
    assert list(registry.tools) == ["answer"] and registry.errors == []
    assert registry.get("answer").fn() == 1
    # Same size, same second: must not come from a stale cache.
    path.write_text(path.read_text().replace("return 1", "return 2"))
    registry.load()
    assert registry.get("answer").fn() == 2
    assert not (folder / "__pycache__").exists()


def test_duplicate_names_reject_the_second_file(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder, "a.py", GOOD)
    write(folder, "b.py", GOOD + "\n@tool\ndef other() -> int:\n    '''Other.'''\n    return 0\n")
    flip = GOOD.replace("@tool", "@tool(name='flip')")
    write(folder, "c.py", flip + flip.replace("def roll_dice", "def toss"))
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    assert set(registry.tools) == {"roll_dice"}  # b.py is rejected whole, c.py clashes with itself
    errors = errors_by_file(registry)
    assert "tool name 'roll_dice' is already used by" in errors["b.py"].message
    assert str(folder.resolve() / "a.py") in errors["b.py"].message
    assert errors["b.py"].line == 4  # the @tool line
    assert "two tools are named 'flip'" in errors["c.py"].message


def test_same_file_name_in_two_folders_are_separate_modules(tmp_path: Path) -> None:
    one, two = make_folder(tmp_path, "one"), make_folder(tmp_path, "two")
    write(one, "dice.py", GOOD)
    write(two, "dice.py", GOOD.replace("roll_dice", "roll_other"))
    registry = ToolRegistry([one, two], entry_points=False)
    registry.load()
    assert set(registry.tools) == {"roll_dice", "roll_other"}


def test_signature_problems_missing_modules_and_exits(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder, "untyped.py", "from assistant.tools import tool\n\n@tool\ndef f(x):\n    return x\n")
    write(folder, "needs.py", "import sori_no_such_module_xyz\n")
    write(folder, "exits.py", "import sys\nsys.exit(3)\n")
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    errors = errors_by_file(registry)
    assert "parameter 'x' needs a type hint" in errors["untyped.py"].message
    assert errors["untyped.py"].line in (3, 4)
    assert "pip install sori_no_such_module_xyz" in errors["needs.py"].message
    assert errors["needs.py"].line == 1
    assert "SystemExit" in errors["exits.py"].message
    assert registry.tools == {}


def test_a_bad_pattern_disables_its_file_with_the_line(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder, "good.py", GOOD)
    write(
        folder,
        "badre.py",
        'from assistant.tools import tool\n\n@tool(patterns=["roll (a die"])\ndef roll_one() -> int:\n'
        '    """Roll one die."""\n    return 4\n',
    )
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    error = errors_by_file(registry)["badre.py"]
    assert "not a valid regular expression" in error.message and error.line in (3, 4)
    assert set(registry.tools) == {"roll_dice"}


def test_plugin_hanging_at_import_is_abandoned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "IMPORT_TIMEOUT_S", 0.3)
    folder = make_folder(tmp_path)
    write(folder, "slow.py", "import time\ntime.sleep(30)\n")
    write(folder, "good.py", GOOD)
    registry = ToolRegistry([folder], entry_points=False)
    t0 = time.monotonic()
    registry.load()
    assert time.monotonic() - t0 < 5
    assert "did not finish loading within 0.3 s" in errors_by_file(registry)["slow.py"].message
    assert "roll_dice" in registry.tools


def test_plugin_with_its_own_model(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    plugin = '''
        from __future__ import annotations
        from pydantic import BaseModel
        from assistant.tools import tool

        class Place(BaseModel):
            city: str
            country: str = "KR"

        @tool
        def weather(place: Place) -> str:
            """The weather somewhere."""
            return f"sunny in {place.city}, {place.country}"
    '''
    write(folder, "where.py", plugin)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    assert registry.errors == []
    spec = registry.get("weather")
    assert spec.parameters["properties"]["place"]["properties"]["city"] == {"type": "string"}
    assert spec.fn(**spec.validate({"place": {"city": "Seoul"}})) == "sunny in Seoul, KR"


def test_unknown_tool_is_a_helpful_key_error(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder, "good.py", GOOD)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    with pytest.raises(KeyError) as info:
        registry.get("roll_die")
    assert isinstance(info.value, ToolNotFound)
    assert str(info.value) == "no tool named 'roll_die'; did you mean 'roll_dice'? (available: roll_dice)"


def test_world_writable_folder_and_file_are_refused(tmp_path: Path) -> None:
    open_folder = make_folder(tmp_path, "open")
    write(open_folder, "good.py", GOOD)
    open_folder.chmod(0o777)
    folder = make_folder(tmp_path)
    loose = write(folder, "loose.py", GOOD.replace("roll_dice", "loose"), mode=0o666)
    write(folder, "fine.py", GOOD.replace("roll_dice", "fine"))
    registry = ToolRegistry([open_folder, folder], entry_points=False)
    registry.load()
    assert set(registry.tools) == {"fine"}
    messages = {str(e) for e in registry.errors}
    assert f"{open_folder}: refused: writable by other users; fix: chmod go-w {open_folder}" in messages
    loose_path = loose.resolve()
    assert f"{loose_path}: refused: writable by other users; fix: chmod go-w {loose_path}" in messages
    # The fix works, and refresh() notices a chmod alone.
    open_folder.chmod(0o755)
    loose.chmod(0o644)
    assert registry.refresh() is True
    assert set(registry.tools) == {"fine", "loose", "roll_dice"} and registry.errors == []


def test_other_owner_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_folder(tmp_path)
    write(folder, "good.py", GOOD)
    if os.getuid() == 0:
        os.chown(folder, 12345, -1)  # root can give it away
    else:
        monkeypatch.setattr(os, "getuid", lambda: os.stat(folder).st_uid + 1)
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    assert registry.tools == {}
    assert f"{folder}: refused: owned by another user" in str(registry.errors[0])


def test_builtin_dir_is_exempt_from_the_permission_check(tmp_path: Path) -> None:
    builtin = make_folder(tmp_path, "builtin")
    write(builtin, "clock.py", GOOD.replace("roll_dice", "clock"), mode=0o666)
    builtin.chmod(0o777)
    user = make_folder(tmp_path)
    write(user, "clock2.py", GOOD.replace("roll_dice", "clock"))
    registry = ToolRegistry([user], entry_points=False, builtin_dir=builtin)
    registry.load()
    assert registry.sources()["clock"].parent == builtin.resolve()  # built-ins come first and win
    assert "already used by" in registry.errors[0].message


def test_explicit_files(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, "elsewhere")
    path = write(folder, "mine.py", GOOD)
    registry = ToolRegistry([], files=[path, tmp_path / "missing.py"], entry_points=False)
    registry.load()
    assert list(registry.tools) == ["roll_dice"]
    assert [str(e) for e in registry.errors] == [f"{(tmp_path / 'missing.py').resolve()}: file not found"]
    assert registry.refresh() is False  # still missing is not a change


def test_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = make_folder(tmp_path, "site")
    write(site, "sori_ep_demo.py", GOOD.replace("roll_dice", "ep_dice"))
    write(site, "sori_ep_broken.py", "x = 1\nraise ImportError('needs a thing')\n")
    info = site / "sori_ep_demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sori-ep-demo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[sori.plugins]\ndemo = sori_ep_demo\nbroken = sori_ep_broken\n")
    monkeypatch.syspath_prepend(str(site))
    registry = ToolRegistry([], entry_points=True)
    registry.load()
    assert "ep_dice" in registry.tools
    assert registry.sources()["ep_dice"].name == "sori_ep_demo.py"
    broken = [e for e in registry.errors if "broken" in e.message]
    assert broken and broken[0].line == 2 and "needs a thing" in broken[0].message
    sys.modules.pop("sori_ep_demo", None)


def test_readers_see_consistent_snapshots_during_reloads(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    for i in range(5):
        write(folder, f"p{i}.py", GOOD.replace("roll_dice", f"tool{i}"))
    registry = ToolRegistry([folder], entry_points=False)
    registry.load()
    stop, bad = threading.Event(), []

    def read() -> None:
        while not stop.is_set():
            tools = registry.tools
            if len(tools) != 5:
                bad.append(len(tools))

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(5):
        registry.load()
    stop.set()
    reader.join()
    assert bad == []


def wait_for(condition: Callable[[], bool], limit: float = 2.0) -> float:
    """Seconds until condition() held; fails after `limit`."""
    t0 = time.monotonic()
    while not condition():
        if time.monotonic() - t0 > limit:
            pytest.fail(f"not within {limit} s")
        time.sleep(0.02)
    return time.monotonic() - t0


def test_watcher_add_edit_delete(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    write(folder, "good.py", GOOD)
    changes: list[float] = []
    registry = ToolRegistry([folder], entry_points=False)
    registry.start_watching(interval=0.1, on_change=lambda: changes.append(time.monotonic()))
    try:
        assert set(registry.tools) == {"roll_dice"}
        source = (
            "from assistant.tools import tool\n\n@tool\ndef greet() -> str:\n    '''Hi.'''\n    return 'A'\n"
        )
        path = write(folder, "greet.py", source)
        wait_for(lambda: "greet" in registry.tools)
        assert registry.get("greet").fn() == "A"
        path.write_text(source.replace("'A'", "'B'"))
        wait_for(lambda: registry.get("greet").fn() == "B")
        write(folder, "broken.py", "def (\n")
        wait_for(lambda: any(e.file.name == "broken.py" for e in registry.errors))
        path.unlink()
        (folder / "broken.py").unlink()
        wait_for(lambda: "greet" not in registry.tools and registry.errors == [])
        assert set(registry.tools) == {"roll_dice"}
        assert len(changes) >= 4
    finally:
        registry.stop_watching()
    assert registry._watcher is None
