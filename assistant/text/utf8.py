"""Text Sori can store and tokenize: bytes that were not UTF-8 become U+FFFD where text enters Sori.

Python keeps undecodable bytes of argv and stdin as lone surrogates ("surrogateescape"); they survive until
the first encode (SQLite, the tokenizer) and fail there. So they are replaced as the text comes in.
"""

from __future__ import annotations

import re

NOT_UTF8 = "the input had bytes that are not UTF-8; they were replaced"
_SURROGATE = re.compile("[\ud800-\udfff]")


def scrub(text: str) -> str:
    """text with each undecodable byte (or any other lone surrogate) replaced by U+FFFD."""
    if not _SURROGATE.search(text):
        return text
    try:  # the original bytes, decoded as UTF-8 decoders do: one U+FFFD per bad sequence
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte (from a plugin or a paste)
        return _SURROGATE.sub("\ufffd", text)
