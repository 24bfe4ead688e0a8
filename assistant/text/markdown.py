"""Markdown (and the few HTML tags a chat model writes) as plain sentences for a voice: markup removed,
code blocks replaced by one phrase, list items, headings and table rows closed with a period so the voice
pauses after each, paragraph breaks as sentence ends. The first pass of normalize.py."""

import re

CODE_PHRASE = "Here is some code."

_INLINE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, f), r)
    for p, r, f in [
        (r"```([^`\n]+)```", r"\1", 0),  # one-line "fence" is just inline code
        (r"^[ \t]*(`{3,}|~{3,})[^\n]*\n?.*?(?:^[ \t]*\1[ \t]*$|\Z)", f"\n\n{CODE_PHRASE}\n\n", re.M | re.S),
        (r"`([^`\n]+)`", r"\1", 0),
        (r"!\[[^\]]*\]\([^)]*\)", "", 0),
        (r"\[([^\]]+)\]\([^)]*\)", r"\1", 0),
        (r"\[([^\]]+)\]\[[^\]]*\]", r"\1", 0),
        (r"<((?:https?|ftp)://[^>\s]+|[^>\s@]+@[^>\s]+)>", r"\1", 0),
        (r"<br\s*/?>", "\n", re.I),
        (r"</?(?:p|div|span|[biu]|em|strong|code|pre|su[pb]|[uo]l|li|t[rdh]|table|h\d)\b[^>]*>", " ", re.I),
        (r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", 0),
        (r"~~(?=\S)(.+?)(?<=\S)~~", r"\1", 0),
        (r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])", r"\1", 0),
        (r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)", r"\1", 0),
    ]
]
_HEADING_RE = re.compile(r"#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*")
_LIST_RE = re.compile(r"(?:[-*+•]|\d{1,3}[.)])(?:\s+(?:\[[ xX]\]\s+)?(.*))?")  # bare marker: empty item
_QUOTE_RE = re.compile(r"^(?:>\s?)+")
_RULE_RE = re.compile(r"([-*_])(?:\s*\1){2,}|\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?")


def _sentence(text: str) -> str:
    """End a list item, heading or table row with a period so the voice pauses after it."""
    text = text.strip()
    return text + "." if text and text.rstrip("\"')]”’")[-1:] not in ".!?:;…" else text


def markdown_to_text(text: str) -> str:
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    lines: list[str] = []
    for raw in text.splitlines():
        line = _QUOTE_RE.sub("", raw.strip()).strip()
        if _RULE_RE.fullmatch(line):
            continue
        if line.startswith("|"):  # table row: read the cells as one sentence
            line = _sentence(", ".join(c.strip() for c in line.strip("|").split("|") if c.strip()))
        elif m := _HEADING_RE.fullmatch(line) or _LIST_RE.fullmatch(line):
            line = _sentence(m.group(1) or "")
        lines.append(line)
    parts = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "\n".join(lines))]
    parts = [p for p in parts if p]
    # A paragraph break is a pause: close every paragraph but the last with a period.
    return " ".join(_sentence(p) if i < len(parts) - 1 else p for i, p in enumerate(parts))


__all__ = ["CODE_PHRASE", "markdown_to_text"]
