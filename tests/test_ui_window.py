"""The window's parts on a real store and real (loaded) engines, without waiting for answers."""

from __future__ import annotations

import tomllib

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QWidget,
)

from assistant import paths
from assistant.store import ConversationStore
from tests.ui_support import dark_palette, open_window
from ui import display_available

pytestmark = pytest.mark.slow

TOOL_CALL = {
    "name": "get_time",
    "arguments": {"timezone": "Europe/Paris"},
    "ok": True,
    "content": '{"time": "14:05"}',
    "duration_ms": 3.2,
}


def _seed() -> tuple[int, int]:
    """Two stored conversations: a spoken one with a tool call, and a typed one."""
    with ConversationStore() as store:
        spoken = store.new_conversation()
        store.add_message(
            spoken.id, "user", "What time is it in Paris?", source="spoken", audio_duration_s=1.8
        )
        store.add_message(
            spoken.id,
            "assistant",
            "It is **14:05** in Paris.\n\n- one\n- two\n\n```python\nprint('hi')\n```",
            tool_calls=[TOOL_CALL],
            timings_ms={"first_token_ms": 420.0, "first_audio_ms": 910.0},
        )
        typed = store.new_conversation()
        store.add_message(typed.id, "user", "Tell me about bread.")
        store.add_message(typed.id, "assistant", "Bread is baked dough.", complete=False)
        return spoken.id, typed.id


def test_stored_turns_show_marks_cards_and_copy(qtbot, small_settings, engines):
    spoken, typed = _seed()
    window = open_window(qtbot, small_settings, engines)
    # The typed conversation's own messages, not the ones still shown from before the switch.
    qtbot.waitUntil(
        lambda: (
            window.current_id == typed
            and [m.text for m in window.chat.messages][-1:] == ["Bread is baked dough."]
            and window.chat.messages[-1].cut_label.isVisibleTo(window)
        )
    )
    assert window.chat.messages[-1].cut_label.isVisibleTo(window)  # stopped answers stay marked
    assert not window.chat.messages[0].mic_mark.isVisibleTo(window)

    window.open_conversation(spoken)
    # The id changes at once; the messages come from the store worker a moment later.
    qtbot.waitUntil(
        lambda: window.current_id == spoken
        and [m.text for m in window.chat.messages][:1] == ["What time is it in Paris?"]
        and window.chat.messages[0].mic_mark.isVisibleTo(window)  # shown with the message, or just after
    )
    question, answer = window.chat.messages
    assert question.mic_mark.isVisibleTo(window)
    tip = question.mic_mark.toolTip()
    assert "Spoken question (1.8 s)" in tip and "first audio: 0.91 s" in tip
    assert "<li" in answer.body.text() and "print(" in answer.body.text()  # markdown list and code
    (card,) = answer.cards
    assert "get_time" in card.toggle.text() and not card.details.isVisibleTo(window)
    qtbot.mouseClick(card.toggle, Qt.MouseButton.LeftButton)
    assert card.details.isVisibleTo(window) and "Europe/Paris" in card.details.text()
    qtbot.mouseClick(answer.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == answer.text


def test_sidebar_search_rename_and_delete_with_undo(qtbot, small_settings, engines):
    spoken, typed = _seed()
    window = open_window(qtbot, small_settings, engines)
    bar = window.sidebar
    qtbot.waitUntil(lambda: bar.ids() == [typed, spoken])

    qtbot.keyClicks(bar.search, "Paris")
    qtbot.waitUntil(lambda: bar.ids() == [spoken])
    bar.search.clear()
    qtbot.waitUntil(lambda: bar.ids() == [typed, spoken])

    item = bar.list.item(1)
    item.setText("Time questions")  # what the inline editor does when the user renames
    qtbot.waitUntil(lambda: bar.list.count() == 2 and bar.list.item(1).text() == "Time questions")

    bar.list.setCurrentRow(0)  # opens `typed`
    qtbot.waitUntil(lambda: window.current_id == typed)
    bar.list.setFocus()
    qtbot.keyClick(bar.list, Qt.Key.Key_Delete)
    assert bar.ids() == [spoken] and window.current_id is None and window.chat.messages == []
    notice = window.notices.notices[f"deleted-{typed}"]
    qtbot.mouseClick(notice.action_button, Qt.MouseButton.LeftButton)  # Undo
    assert sorted(bar.ids()) == sorted([typed, spoken])

    window.delete_conversation(typed, "Tell me about bread.")
    window.notices.dismiss(f"deleted-{typed}")  # dismissing (or the timeout) makes it final
    qtbot.waitUntil(lambda: bar.ids() == [spoken])
    window.close()
    with ConversationStore() as store:
        assert [c.id for c in store.list_conversations()] == [spoken]
        assert store.get_conversation(spoken).title == "Time questions"


def test_keyboard_input_box(qtbot, small_settings, engines):
    window = open_window(qtbot, small_settings, engines)
    box = window.input.box
    box.setFocus()
    with qtbot.waitSignal(box.talkPressed, timeout=1000):
        qtbot.keyPress(box, Qt.Key.Key_Space)  # Space in the empty box is push-to-talk ...
    with qtbot.waitSignal(box.talkReleased, timeout=1000):
        qtbot.keyRelease(box, Qt.Key.Key_Space)
    assert box.toPlainText() == ""  # ... and types nothing
    qtbot.keyClicks(box, "two")
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(box, "lines please")
    assert box.toPlainText() == "two\nlines please"  # Space types once there is text
    height = box.height()
    qtbot.keyClick(box, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert box.height() > height  # the box grows with its text


def _settings_dialog() -> QWidget:
    return next(
        w for w in QApplication.topLevelWidgets() if w.windowTitle() == "Sori settings" and w.isVisible()
    )


def test_every_control_is_named_and_explained(qtbot, small_settings, engines):
    window = open_window(qtbot, small_settings, engines)
    window.open_settings()
    dialog = _settings_dialog()
    kinds = (QAbstractButton, QLineEdit, QPlainTextEdit, QListWidget, QComboBox, QAbstractSpinBox)
    missing = []
    for top in (window, dialog):
        for widget in top.findChildren(QWidget):
            parent = widget.parentWidget()
            inner = widget.objectName().startswith("qt_") or parent.objectName().startswith("qt_")
            if not isinstance(widget, kinds) or inner or isinstance(parent, QLineEdit):
                continue  # Qt's own inner parts: a spin box's line edit, tab scrollers, a clear button
            if not widget.accessibleName() or not widget.toolTip():
                missing.append(f"{type(widget).__name__} {widget.objectName()!r} in {type(parent).__name__}")
    assert missing == []
    if not window.input.mic.isEnabled():  # no microphone here: the button says why
        assert window.input.mic.toolTip().startswith("Voice input is off: ")
    dialog.close()


def test_settings_dialog_saves_the_config_and_lists_plugin_errors(qtbot, small_settings, engines):
    plugins = paths.plugins_dir()
    plugins.mkdir(parents=True)
    (plugins / "broken.py").write_text("from assistant.tools import tool\n\n@tool\ndef oops(:\n    pass\n")
    window = open_window(qtbot, small_settings, engines)
    # A failing plugin is reported in the window, with its file and line.
    assert any(key.startswith("plugin-") for key in window.notices.notices)
    message = next(n.message.text() for k, n in window.notices.notices.items() if k.startswith("plugin-"))
    assert "broken.py:4" in message

    window.open_settings()
    dialog = _settings_dialog()
    qtbot.waitUntil(
        lambda: any("broken.py:4" in dialog.plugins.item(i).text() for i in range(dialog.plugins.count()))
    )
    dialog.rate.setValue(1.3)
    dialog.barge_in.setChecked(False)
    dialog.silence.setValue(900)
    with qtbot.waitSignal(window.bridge.settingsSaved, timeout=10_000):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    saved = tomllib.loads(paths.config_file().read_text())
    assert saved["tts"]["speaking_rate"] == 1.3
    assert saved["voice"]["barge_in"] is False and saved["voice"]["end_silence_ms"] == 900
    assert window.bridge.assistant.settings.voice.end_silence_ms == 900  # used from the next turn on
    qtbot.waitUntil(lambda: window.notices.has("settings"))


def test_follows_the_system_palette(qtbot, small_settings, engines):
    app = QApplication.instance()
    light = app.palette()
    window = open_window(qtbot, small_settings, engines)
    try:
        app.setPalette(dark_palette())
        qtbot.waitUntil(lambda: "#1e1f22" in window.styleSheet())
        image = window.grab().toImage()
        corner = image.pixelColor(image.width() // 2, image.height() // 3)
        assert corner.lightness() < 80, "the conversation area stayed light in dark mode"
        text = window.palette().color(QPalette.ColorRole.Text)
        assert text.lightness() > 180
    finally:
        app.setPalette(light)


def test_display_available_offscreen():
    assert display_available()


def test_missing_chat_model_is_reported_and_typing_still_works(qtbot, small_settings, engines, tmp_path):
    from assistant.config import apply_overrides
    from assistant.core import Assistant
    from ui.app import create_window

    settings = apply_overrides(small_settings, **{"llm.model": str(tmp_path / "gone.gguf")})
    assistant = Assistant(settings)
    assistant._stt, assistant._tts = engines[0], engines[2]  # only the chat model is missing
    window = create_window(assistant)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.loaded, timeout=60_000)
    notice = window.notices.notices["engine-llm"]
    assert "gone.gguf" in notice.message.text()
    assert not window.input.send.isEnabled() and "chat model" in window.input.send.toolTip()
    qtbot.keyClicks(window.input.box, "still typing")
    assert window.input.box.toPlainText() == "still typing"
    qtbot.mouseClick(notice.dismiss, Qt.MouseButton.LeftButton)
    assert not window.notices.has("engine-llm")


def test_lost_microphone_is_reported_and_listening_stops(qtbot, small_settings, engines, shared, monkeypatch):
    import numpy as np

    from assistant.audio.sources import AudioFrame, AudioInputUnavailable

    def unplugged():
        for i in range(10):
            yield AudioFrame(np.zeros(320, np.float32), float(i) * 0.02, i)
        raise AudioInputUnavailable(
            "the microphone 'USB' stopped delivering audio (unplugged?); Sori continues in text"
        )

    question = shared / "eval" / "utterances" / "q01_capital.wav"
    window = open_window(qtbot, small_settings, engines, audio_in=[question])
    monkeypatch.setattr(window.bridge, "_make_source", unplugged)
    qtbot.mouseClick(window.input.mic, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.notices.has("voice"), timeout=10_000)
    assert "unplugged" in window.notices.notices["voice"].message.text()
    qtbot.waitUntil(lambda: not window.bridge.voice_active and window.input.mic.property("micState") == "off")
    assert window.input.box.isEnabled()


def test_a_tool_asks_before_it_acts(qtbot, small_settings, engines):
    import threading

    window = open_window(qtbot, small_settings, engines)
    confirm = window.bridge.assistant.confirm  # what the core calls from the turn thread
    answers: list[bool] = []
    for allow in (True, False):
        worker = threading.Thread(target=lambda: answers.append(confirm("Sori will delete note 3.")))
        worker.start()
        qtbot.waitUntil(lambda: any(k.startswith("confirm-") for k in window.notices.notices))
        key = next(k for k in window.notices.notices if k.startswith("confirm-"))
        notice = window.notices.notices[key]
        assert "delete note 3" in notice.message.text()
        button = notice.action_button if allow else notice.dismiss
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        worker.join(5)
        assert not window.notices.has(key)
    assert answers == [True, False]


def test_tray_menu_shows_hides_and_mutes(qtbot, small_settings, engines):
    from ui.tray import Tray

    window = open_window(qtbot, small_settings, engines)
    tray = Tray(window, window.windowIcon())  # built by hand: the offscreen platform has no tray
    muted: list[bool] = []
    tray.muteToggled.connect(muted.append)
    tray.toggle_window()
    assert not window.isVisible() and tray.show_action.text() == "Show Sori"
    tray.toggle_window()
    assert window.isVisible() and tray.show_action.text() == "Hide Sori"
    tray.mute_action.trigger()
    assert muted == [True]
    tray.icon.hide()


def test_a_damaged_database_is_reported(qtbot, small_settings, engines):
    db = paths.database_file()
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is not a database" * 100)
    window = open_window(qtbot, small_settings, engines)
    qtbot.waitUntil(lambda: window.notices.has("store-repair"))
    assert "moved it to" in window.notices.notices["store-repair"].message.text()


def _chimed(window) -> bool:
    """A timer's chime (0.7 s) was played into the window's sink."""
    from assistant.session_audio import CHIME_RATE, chime

    seconds = len(chime()) / CHIME_RATE
    return any(abs(c.t_end - c.t_start - seconds) < 0.01 for c in window.bridge.session.sink.sink.chunks)


def _timer_notice(window) -> str | None:
    return next((n.message.text() for k, n in window.notices.notices.items() if k.startswith("timer-")), None)


def test_a_typed_timer_rings_in_the_window_and_after_a_restart(qtbot, small_settings, engines, tmp_path):
    import time

    from assistant.services.timers import pending_timers
    from tests.ui_support import ask

    window = open_window(qtbot, small_settings, engines, audio_out=tmp_path / "first.wav")
    result = ask(qtbot, window, "Set a timer for 3 seconds.")
    assert "3 seconds" in result.text and [c["name"] for c in result.tool_calls] == ["set_timer"]
    qtbot.waitUntil(lambda: _timer_notice(window) is not None, timeout=30_000)
    assert _timer_notice(window) == "Your 3 second timer is done."
    qtbot.waitUntil(lambda: _chimed(window), timeout=30_000)  # after the answer, never over it

    # A timer that falls due while the window is closed rings when it opens again.
    result = ask(qtbot, window, "Set a timer for 20 seconds.")
    assert "20 seconds" in result.text
    window.close()
    (timer,) = pending_timers()
    time.sleep(max(0.0, timer.due - time.time()) + 0.5)
    again = open_window(qtbot, small_settings, engines, audio_out=tmp_path / "second.wav")
    qtbot.waitUntil(lambda: _timer_notice(again) is not None, timeout=30_000)
    assert _timer_notice(again).startswith("Your 20 second timer is done. (Late: it was due")
    qtbot.waitUntil(lambda: _chimed(again), timeout=30_000)
    assert pending_timers() == []


SECRET_PLUGIN = '''from assistant.tools import tool


@tool(patterns=[r"^what is the secret word"])
def secret_word() -> str:
    """The secret word of the day."""
    return "The secret word is pineapple."
'''


def test_a_plugin_dropped_in_while_the_window_is_open_is_callable(qtbot, small_settings, engines):
    import time

    from tests.ui_support import ask

    folder = paths.plugins_dir()
    folder.mkdir(parents=True, mode=0o700)
    window = open_window(qtbot, small_settings, engines)
    registry = window.bridge.assistant.tools
    assert "secret_word" not in registry.tools
    listed: list[list] = []
    window.bridge.pluginsListed.connect(lambda tools, errors: listed.append([t[0] for t in tools]))
    dropped = time.monotonic()
    (folder / "secret.py").write_text(SECRET_PLUGIN)
    qtbot.waitUntil(lambda: "secret_word" in registry.tools, timeout=2000)  # no restart
    print(f"\nthe plugin was callable {time.monotonic() - dropped:.2f} s after it was written")
    result = ask(qtbot, window, "What is the secret word?")
    assert [c["name"] for c in result.tool_calls] == ["secret_word"] and "pineapple" in result.text.lower()
    qtbot.waitUntil(lambda: any("secret_word" in names for names in listed))  # Settings → Plugins too
