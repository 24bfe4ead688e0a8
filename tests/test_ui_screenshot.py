"""`run_app(screenshot=...)`: the real window, ready, with a demo conversation, saved as a PNG."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from assistant.store import ConversationStore
from tests.ui_support import dark_palette
from ui.app import run_app

pytestmark = pytest.mark.slow


def _lightness(image: QImage) -> float:
    """Mean lightness of a grid of sample points, 0..255."""
    points = [(x, y) for x in range(5, image.width(), 37) for y in range(5, image.height(), 29)]
    return sum(image.pixelColor(x, y).lightness() for x, y in points) / len(points)


def test_screenshot_with_demo_in_light_and_dark(qapp, config_file, small_settings, tmp_path):
    light_png = tmp_path / "light.png"
    assert run_app(small_settings, screenshot=light_png, demo=True) == 0
    image = QImage(str(light_png))
    assert image.width() >= 800 and image.height() >= 500
    assert _lightness(image) > 170

    # The demo is a real conversation, answered by the model and stored.
    with ConversationStore() as store:
        (conv,) = store.list_conversations()
        messages = store.messages(conv.id)
    assert messages[0].text == "What is the capital of France?" and "Paris" in messages[1].text
    assert all(m.complete for m in messages) and len(messages) == 4

    # In a dark desktop palette the same window is dark (and the demo is not added twice).
    light = qapp.palette()
    try:
        QApplication.setPalette(dark_palette())
        dark_png = tmp_path / "dark.png"
        assert run_app(small_settings, screenshot=dark_png, demo=True) == 0
    finally:
        QApplication.setPalette(light)
    assert _lightness(QImage(str(dark_png))) < 90
    with ConversationStore() as store:
        assert len(store.list_conversations()) == 1
