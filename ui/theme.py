"""Colours and the window's style sheet, derived from the current palette so light and dark both work."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

ERROR_RED = QColor("#d64545")
INFO_BLUE = QColor("#3b82c4")


def blend(top: QColor, bottom: QColor, amount: float) -> QColor:
    """`top` laid over `bottom` at opacity `amount` (0..1)."""
    a = max(0.0, min(1.0, amount))
    return QColor(
        round(top.red() * a + bottom.red() * (1 - a)),
        round(top.green() * a + bottom.green() * (1 - a)),
        round(top.blue() * a + bottom.blue() * (1 - a)),
    )


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def colors(palette: QPalette) -> dict[str, QColor]:
    """The named colours the widgets use."""
    role = QPalette.ColorRole
    base, text = palette.color(role.Base), palette.color(role.Text)
    window, accent = palette.color(role.Window), palette.color(role.Highlight)
    dark = is_dark(palette)
    return {
        "base": base,
        "text": text,
        "window": window,
        "accent": accent,
        "accent_text": palette.color(role.HighlightedText),
        "muted": blend(text, base, 0.6),
        "border": blend(text, base, 0.16 if dark else 0.13),
        "user_bubble": blend(accent, base, 0.28 if dark else 0.14),
        "assistant_bubble": blend(text, base, 0.07 if dark else 0.035),
        "card": blend(text, base, 0.12 if dark else 0.06),
        "code": blend(text, base, 0.16 if dark else 0.09),
        "error_bg": blend(ERROR_RED, base, 0.22 if dark else 0.1),
        "error_border": blend(ERROR_RED, base, 0.7),
        "info_bg": blend(INFO_BLUE, base, 0.22 if dark else 0.1),
        "info_border": blend(INFO_BLUE, base, 0.6),
        "meter": QColor("#3aa65b"),
        "listening": QColor("#2f9e5a"),
        "speaking": accent,
    }


def stylesheet(palette: QPalette) -> str:
    """The window's style sheet. Only named widgets are styled; everything else keeps the native look."""
    c = {k: v.name() for k, v in colors(palette).items()}
    return f"""
    #chatArea, #chatContainer {{ background: {c["base"]}; border: none; }}
    #sidebar {{ background: {c["window"]}; }}
    #conversationList {{ border: none; background: transparent; outline: none; }}
    #conversationList::item {{ padding: 7px 8px; border-radius: 6px; margin: 1px 0; }}
    #conversationList::item:selected {{ background: {c["user_bubble"]}; color: {c["text"]}; }}
    #conversationList::item:hover:!selected {{ background: {c["assistant_bubble"]}; }}
    #userBubble {{ background: {c["user_bubble"]}; border-radius: 12px; }}
    #assistantBubble {{ background: {c["assistant_bubble"]}; border: 1px solid {c["border"]};
        border-radius: 12px; }}
    #roleLabel {{ color: {c["muted"]}; font-weight: 600; }}
    #metaLabel {{ color: {c["muted"]}; }}
    #cutOffLabel {{ color: {c["error_border"]}; }}
    #messageBody {{ color: {c["text"]}; background: transparent; }}
    #toolCard {{ background: {c["card"]}; border: 1px solid {c["border"]}; border-radius: 8px; }}
    #toolDetails {{ color: {c["text"]}; background: transparent; }}
    #emptyHint {{ color: {c["muted"]}; }}
    #notice[kind="error"] {{ background: {c["error_bg"]}; border: 1px solid {c["error_border"]};
        border-radius: 8px; }}
    #notice[kind="info"] {{ background: {c["info_bg"]}; border: 1px solid {c["info_border"]};
        border-radius: 8px; }}
    #noticeTitle {{ font-weight: 600; }}
    #inputFrame {{ background: {c["base"]}; border: 1px solid {c["border"]}; border-radius: 10px; }}
    #inputBox {{ background: transparent; border: none; }}
    #inputPanel {{ background: {c["base"]}; }}
    #sendButton {{ background: {c["accent"]}; color: {c["accent_text"]}; border: none;
        border-radius: 8px; padding: 6px 14px; font-weight: 600; }}
    #sendButton:disabled {{ background: {c["border"]}; color: {c["muted"]}; }}
    #micButton {{ border: 1px solid {c["border"]}; border-radius: 17px; background: {c["base"]}; }}
    #micButton[micState="listening"] {{ background: {c["listening"]}; border-color: {c["listening"]}; }}
    #micButton[micState="speaking"] {{ background: {c["speaking"]}; border-color: {c["speaking"]}; }}
    #micButton:disabled {{ background: {c["window"]}; }}
    #levelMeter {{ border: none; background: {c["border"]}; border-radius: 2px; }}
    #levelMeter::chunk {{ background: {c["meter"]}; border-radius: 2px; }}
    #stopButton, #copyButton, #dismissButton, #newChatButton, #settingsButton {{ border: none;
        border-radius: 6px; padding: 4px; }}
    #stopButton:hover, #copyButton:hover, #dismissButton:hover, #newChatButton:hover,
    #settingsButton:hover {{ background: {c["assistant_bubble"]}; }}
    """
