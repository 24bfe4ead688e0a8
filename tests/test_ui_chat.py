"""The desktop window with the real small models: typed turns, stop, conversations, restart, no stalls."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt, QTimer

from tests.ui_support import ANSWER_TIMEOUT_MS, ask, open_window, shown_messages

pytestmark = pytest.mark.slow

LONG_QUESTION = "Write a long, detailed story about a dragon who learns to bake bread."


def _click_conversation(qtbot, window, conversation_id: int) -> None:
    qtbot.waitUntil(lambda: conversation_id in window.sidebar.ids())
    row = window.sidebar.ids().index(conversation_id)
    item = window.sidebar.list.item(row)
    rect = window.sidebar.list.visualItemRect(item)
    qtbot.mouseClick(window.sidebar.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: window.current_id == conversation_id and bool(window.chat.messages))


def test_typed_turns_stop_switch_and_restart(qtbot, small_settings, engines):
    window = open_window(qtbot, small_settings, engines)
    deltas: list[str] = []
    window.bridge.replyDelta.connect(lambda _cid, text: deltas.append(text))

    # A question streams its answer into the window.
    result = ask(qtbot, window, "What is the capital of France?")
    assert result.complete and "Paris" in result.text
    assert len(deltas) > 1, "the answer arrived in one piece, not streamed"
    assert shown_messages(window) == [
        ("user", "What is the capital of France?", True),
        ("assistant", result.text, True),
    ]
    first = window.current_id
    assert first is not None
    qtbot.waitUntil(lambda: window.sidebar.ids() == [first])

    # A new conversation; a long answer stopped part-way is kept, marked as cut off.
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    assert window.chat.messages == [] and window.current_id is None
    window.input.box.setPlainText(LONG_QUESTION)
    with qtbot.waitSignal(window.replyShown, timeout=ANSWER_TIMEOUT_MS) as stopped:
        qtbot.keyClick(window.input.box, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda: window.chat.live is not None and len(window.chat.live.text) > 20,
            timeout=ANSWER_TIMEOUT_MS,
        )
        assert window.input.stop.isVisible() and window.input.stop.isEnabled()
        qtbot.mouseClick(window.input.stop, Qt.MouseButton.LeftButton)
    cut = stopped.args[0]
    assert not cut.complete and cut.text
    second = window.current_id
    assert second not in (None, first)
    answer = window.chat.messages[-1]
    assert answer.role == "assistant" and not answer.complete and answer.cut_label.isVisibleTo(window)
    assert not window.input.stop.isVisible()

    # Switch back and forth: each conversation shows its own messages.
    _click_conversation(qtbot, window, first)
    assert [m[1] for m in shown_messages(window)] == ["What is the capital of France?", result.text]
    _click_conversation(qtbot, window, second)
    assert shown_messages(window) == [("user", LONG_QUESTION, True), ("assistant", cut.text, False)]

    # Restart: a new window on the same data folder has both conversations and reopens the last one.
    window.close()
    again = open_window(qtbot, small_settings, engines)
    qtbot.waitUntil(lambda: sorted(again.sidebar.ids()) == sorted([first, second]))
    qtbot.waitUntil(lambda: again.current_id == second and len(again.chat.messages) == 2)
    assert shown_messages(again) == [("user", LONG_QUESTION, True), ("assistant", cut.text, False)]
    # Waited for, not asserted at once: one clean-clone run found the reopened view not yet settled here
    # (the label is shown when the stored, cut-off answer is rendered).
    qtbot.waitUntil(lambda: again.chat.messages[-1].cut_label.isVisibleTo(again), timeout=5000)
    _click_conversation(qtbot, again, first)
    assert shown_messages(again) == [
        ("user", "What is the capital of France?", True),
        ("assistant", result.text, True),
    ]


def _runqueue_wait_s() -> float:
    """Time this thread has spent runnable but not running (the machine's other work took the CPUs)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0  # not Linux: every gap counts in full


def test_window_never_stalls_while_the_answer_streams(qtbot, small_settings, engines):
    """A 10 ms timer on the GUI thread: its longest gap while the model streams stays under 50 ms.

    Time the GUI thread spent waiting for a CPU is taken out: on a loaded machine (other processes) the
    OS may not run it for a while, which is not the window freezing. Waiting for a lock, the GIL or our
    own work on the GUI thread all still count.
    """
    window = open_window(qtbot, small_settings, engines)
    ticks: list[tuple[float, float]] = []
    deltas: list[float] = []
    timer = QTimer(window)
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append((time.perf_counter(), _runqueue_wait_s())))
    window.bridge.replyDelta.connect(lambda _cid, _text: deltas.append(time.perf_counter()))
    timer.start()
    result = ask(qtbot, window, "Explain in a few sentences why the sky is blue.")
    timer.stop()
    assert result.text and len(deltas) > 5
    assert len([t for t, _ in ticks if deltas[0] <= t <= deltas[-1]]) > 10
    gaps = [(b[0] - a[0], (b[0] - a[0]) - (b[1] - a[1])) for a, b in zip(ticks, ticks[1:], strict=False)]
    raw = max(g[0] for g in gaps) * 1000
    worst = max(g[1] for g in gaps) * 1000
    assert worst < 50, (
        f"the GUI thread stalled for {worst:.0f} ms ({raw:.0f} ms with CPU waits) while streaming"
    )
