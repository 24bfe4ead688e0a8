"""Markdown to the rich text a QLabel shows, with shaded code (Qt's own markdown leaves code unshaded)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat

MONO_FAMILIES = ["DejaVu Sans Mono", "Menlo", "Consolas", "monospace"]


def to_html(markdown: str, code_background: QColor, font: QFont) -> str:
    """HTML for `markdown` (paragraphs, lists, links, code), code blocks and `inline code` shaded."""
    doc = QTextDocument()
    doc.setDefaultFont(font)  # else the HTML pins the application font over the label's
    doc.setMarkdown(markdown, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
    cursor = QTextCursor(doc)
    block = doc.begin()
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.hasProperty(QTextFormat.Property.BlockCodeFence) or fmt.nonBreakableLines():
            fmt.setBackground(code_background)
            cursor.setPosition(block.position())
            cursor.setBlockFormat(fmt)
        else:
            _shade_inline_code(cursor, block, code_background)
        block = block.next()
    return doc.toHtml()


def _shade_inline_code(cursor: QTextCursor, block, background: QColor) -> None:
    it = block.begin()
    while not it.atEnd():
        fragment = it.fragment()
        if fragment.isValid() and fragment.charFormat().fontFixedPitch():
            cursor.setPosition(fragment.position())
            cursor.setPosition(fragment.position() + fragment.length(), QTextCursor.MoveMode.KeepAnchor)
            shade = QTextCharFormat()
            shade.setBackground(background)
            cursor.mergeCharFormat(shade)
        it += 1
