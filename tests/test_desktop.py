"""Linux desktop integration: the shipped files validate, and `sori desktop install|uninstall` round-trips."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import: no display needed

from assistant.cli import desktop  # noqa: E402
from tests.conftest import REPO, assert_clean_error  # noqa: E402

SRC = REPO / "packaging" / "linux"
APP_ID = desktop.APP_ID


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; fix: sudo apt-get install -y desktop-file-utils appstream")
    return path


def _validate_desktop(path: Path) -> None:
    proc = subprocess.run([_tool("desktop-file-validate"), str(path)], capture_output=True, text=True)
    # It exits 0 on hints too; the files should not need any.
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _exec_argv(desktop_file: Path) -> list[str]:
    line = next(ln for ln in desktop_file.read_text("utf-8").splitlines() if ln.startswith("Exec="))
    # Undo the key file's string escape, then the Exec quoting (a subset of the shell's).
    value = line.removeprefix("Exec=").replace("\\\\", "\\")
    return shlex.split(value.replace("%%", "%"))


def test_shipped_desktop_entry_validates():
    _validate_desktop(SRC / f"{APP_ID}.desktop")
    text = (SRC / f"{APP_ID}.desktop").read_text("utf-8")
    assert f"Icon={APP_ID}\n" in text and "Exec=sori\n" in text


def test_metainfo_validates():
    proc = subprocess.run(
        [_tool("appstreamcli"), "validate", "--no-net", "--explain", str(SRC / f"{APP_ID}.metainfo.xml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Nothing but the pedantic note about the upper-case letter in the reverse-DNS id.
    assert not re.search(r"^[EWI]: ", proc.stdout, re.M), proc.stdout


def test_screenshot_icons_and_svg(qapp):
    from PySide6.QtSvg import QSvgRenderer

    metainfo = (SRC / f"{APP_ID}.metainfo.xml").read_text("utf-8")
    urls = re.findall(r"<image>([^<]+)</image>", metainfo)
    assert urls and all(u.startswith("https://") for u in urls)
    for url in urls:
        shot = SRC / url.rsplit("/packaging/linux/", 1)[1]
        width, height = _png_size(shot)
        assert width >= 600 and height >= 400, (shot, width, height)
    assert f"<launchable type=\"desktop-id\">{APP_ID}.desktop</launchable>" in metainfo

    renderer = QSvgRenderer(str(SRC / f"{APP_ID}.svg"))
    assert renderer.isValid()
    assert sorted(int(p.name.split("x")[0]) for p in (SRC / "icons").iterdir()) == list(desktop.ICON_SIZES)
    for n in desktop.ICON_SIZES:
        assert _png_size(SRC / "icons" / f"{n}x{n}" / f"{APP_ID}.png") == (n, n)


def test_install_then_uninstall_leaves_nothing(sori, tmp_path, monkeypatch):
    home = tmp_path / "xdg"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home))

    for _ in range(2):  # installing again just rewrites the same files
        result = sori("desktop", "install")
        assert result.returncode == 0, result.stderr
        assert "application menu" in result.stdout
    files = sorted(p for p in home.rglob("*") if p.is_file())
    assert [str(p.relative_to(home)) for p in files] == sorted(desktop.targets())
    assert all(f"installed {p}" in result.stdout for p in files)

    installed = home / "applications" / f"{APP_ID}.desktop"
    _validate_desktop(installed)
    command = Path(_exec_argv(installed)[0])
    assert command.is_absolute() and command.is_file() and os.access(command, os.X_OK), command
    assert _png_size(home / "icons/hicolor/48x48/apps" / f"{APP_ID}.png") == (48, 48)

    result = sori("desktop", "uninstall")
    assert result.returncode == 0, result.stderr
    assert f"removed {installed}" in result.stdout
    assert _listing(home) == []

    result = sori("desktop", "uninstall")
    assert result.returncode == 0, result.stderr
    assert "nothing to remove" in result.stdout
    assert _listing(home) == []


def test_uninstall_keeps_other_apps_files(tmp_path):
    home = tmp_path / "xdg"
    other = home / "icons" / "hicolor" / "48x48" / "apps" / "other.png"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"x")
    desktop.install(home)
    desktop.uninstall(home)
    assert _listing(home) == ["icons", "icons/hicolor", "icons/hicolor/48x48", "icons/hicolor/48x48/apps",
                              "icons/hicolor/48x48/apps/other.png"]


def test_unwritable_data_home_is_a_clean_error(sori, tmp_path, monkeypatch):
    home = tmp_path / "xdg"
    home.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    if os.geteuid() == 0:  # root writes anywhere: block the folder with a file instead
        (home / "applications").write_text("")
        result = sori("desktop", "install")
        assert_clean_error(result, "applications", "not a folder")
        return
    home.chmod(0o500)
    try:
        result = sori("desktop", "install")
    finally:
        home.chmod(0o700)
    assert_clean_error(result, str(home), "XDG_DATA_HOME")


def test_exec_quoting_follows_the_spec():
    assert desktop.exec_value(["/usr/bin/sori"]) == "/usr/bin/sori"
    spaced = desktop.exec_value(["/opt/my apps/python", "-m", "assistant"])
    assert spaced == '"/opt/my apps/python" -m assistant'
    # $ and " are backslash-escaped inside quotes, and every backslash is doubled by the key file's escape.
    assert desktop.exec_value(['/a$b/"c"']) == '"/a\\\\$b/\\\\"c\\\\""'
    assert desktop.exec_value(["/100%/sori"]) == "/100%%/sori"


def test_frozen_bundle_files_are_found(tmp_path, monkeypatch):
    bundled = tmp_path / "assistant" / "_desktop"
    bundled.mkdir(parents=True)
    (bundled / f"{APP_ID}.desktop").write_text("[Desktop Entry]\n")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert desktop.source_dir() == bundled
    assert desktop.sori_command() == [str(Path(sys.executable).absolute())]
