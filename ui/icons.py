"""Small line icons drawn from SVG paths in a colour taken from the palette (so they follow dark mode)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

_STROKE = 'fill="none" stroke="{c}" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"'

# 24x24 outlines in the style of common open icon sets; {c} is replaced with the colour.
_PATHS: dict[str, str] = {
    "mic": f'<g {_STROKE}><rect x="9" y="3" width="6" height="11" rx="3"/>'
    '<path d="M5 11a7 7 0 0 0 14 0M12 18v3M9 21h6"/></g>',
    "mic-off": f'<g {_STROKE}><path d="M9 9V6a3 3 0 0 1 5.6-1.5M15 10v1a3 3 0 0 1-4.6 2.5"/>'
    '<path d="M5 11a7 7 0 0 0 11.5 5.4M19 11a7 7 0 0 1-.5 2.5M12 18v3M9 21h6M3 3l18 18"/></g>',
    "speaker": f'<g {_STROKE}><path d="M4 9h4l5-4v14l-5-4H4z"/>'
    '<path d="M16.5 8.5a5 5 0 0 1 0 7M19 6a8.5 8.5 0 0 1 0 12"/></g>',
    "send": f'<g {_STROKE}><path d="M4 12l16-8-6 16-3-7z"/><path d="M11 13l9-9"/></g>',
    "stop": '<rect x="6" y="6" width="12" height="12" rx="2" fill="{c}"/>',
    "copy": f'<g {_STROKE}><rect x="8" y="8" width="12" height="12" rx="2"/>'
    '<path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2"/></g>',
    "plus": f'<g {_STROKE}><path d="M12 5v14M5 12h14"/></g>',
    "settings": f'<g {_STROKE}><circle cx="12" cy="12" r="3"/><path d="M12 2v3M12 19v3M2 12h3M19 12h3'
    'M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1"/></g>',
    "close": f'<g {_STROKE}><path d="M6 6l12 12M18 6L6 18"/></g>',
    "tool": f'<g {_STROKE}><path d="M14.7 6.3a4 4 0 0 0-5.4 5.4L3 18l3 3 6.3-6.3a4 4 0 0 0 5.4-5.4'
    'l-2.6 2.6-2.4-.6-.6-2.4z"/></g>',
    "warning": f'<g {_STROKE}><path d="M12 3l10 18H2z"/><path d="M12 10v5M12 18v.01"/></g>',
    "info": f'<g {_STROKE}><circle cx="12" cy="12" r="9"/><path d="M12 11v6M12 7.5v.01"/></g>',
    "search": f'<g {_STROKE}><circle cx="11" cy="11" r="6"/><path d="M20 20l-4.5-4.5"/></g>',
}


def icon(name: str, color: QColor | str, size: int = 24) -> QIcon:
    """An icon from the set above, drawn at 1x and 2x in `color`."""
    result = QIcon()
    for scale in (1, 2):
        result.addPixmap(pixmap(name, color, size * scale))
    return result


def pixmap(name: str, color: QColor | str, size: int) -> QPixmap:
    hex_color = QColor(color).name()
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">{_PATHS[name]}</svg>'
    renderer = QSvgRenderer(QByteArray(svg.replace("{c}", hex_color).encode()))
    out = QPixmap(size, size)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return out


def app_icon(accent: QColor | None = None) -> QIcon:
    """Sori's window and tray icon: a white microphone on a round accent-coloured badge."""
    accent = accent or QColor("#3b6fd8")
    result = QIcon()
    for size in (16, 24, 32, 48, 64, 128):
        out = QPixmap(size, size)
        out.fill(Qt.GlobalColor.transparent)
        painter = QPainter(out)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(accent)
        painter.drawEllipse(QRectF(0, 0, size, size))
        inner = size * 0.62
        off = (size - inner) / 2
        painter.drawPixmap(round(off), round(off), pixmap("mic", "#ffffff", round(inner)))
        painter.end()
        result.addPixmap(out)
    return result
