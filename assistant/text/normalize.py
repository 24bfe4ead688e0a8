"""Turn assistant text (often markdown from an LLM) into plain English words a TTS voice reads naturally.

Everything is a table of compiled regexes applied in a fixed order: markdown first (markdown.py, so
markup never reaches later passes), then things that contain digits and punctuation in special shapes
(URLs, dates, times, money, units), and plain numbers last.
"""

import re
import unicodedata
from collections.abc import Callable
from urllib.parse import urlsplit

from num2words import num2words

from assistant.text.markdown import markdown_to_text

_Repl = str | Callable[[re.Match[str]], str]


def _digit_words(digits: str) -> str:
    return " ".join(num2words(int(d)) for d in digits if d.isdigit())


def _int_words(digits: str) -> str:
    digits = digits.replace(",", "")
    # Codes with leading zeros and absurdly long numbers are read digit by digit, as people do.
    if (len(digits) > 1 and digits[0] == "0") or len(digits) > 15:
        return _digit_words(digits)
    return num2words(int(digits))


def _number_words(text: str) -> str:
    negative = text[:1] in "-−"
    whole, _, frac = text.lstrip("-−").partition(".")
    words = _int_words(whole) if whole else "zero"
    if frac:
        words += " point " + _digit_words(frac)
    return "minus " + words if negative else words


def _year(text: str) -> str:
    return num2words(int(text), to="year")


def _ordinal(value: int) -> str:
    return num2words(value, to="ordinal")


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _end_dot(m: re.Match[str]) -> str:
    """Give back an abbreviation's period when that period also ended the sentence."""
    if not m.group(0).endswith("."):
        return ""
    rest = m.string[m.end() :].lstrip()
    return "." if not rest or rest[0].isupper() else ""


# A number starts only where a digit run starts, so regexes never retry inside long digit strings.
_NUM = r"(?:(?<![\w.])[-−])?(?<!\d)(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"


_DROP_CATEGORIES = {"So", "Sk", "Co", "Cs", "Cn"}
_KEEP_SYMBOLS = {"°"}  # "So", but it means degrees
_INVISIBLE = {"\u200d", "\ufe0e", "\ufe0f", "\u20e3"}  # joiners, variation selectors, keycaps


def _keep(ch: str) -> bool:
    return ch in _KEEP_SYMBOLS or (ch not in _INVISIBLE and unicodedata.category(ch) not in _DROP_CATEGORIES)


_SEPARATOR_WORDS = {".": " dot ", "_": " underscore ", "-": " dash ", "+": " plus "}


def _spoken_host(host: str) -> str:
    return " dot ".join(part for part in host.removeprefix("www.").split(".") if part)


def _url(m: re.Match[str]) -> str:
    url = m.group(0)
    trimmed = url.rstrip(".,;:!?")  # sentence punctuation after a URL is not part of it
    host = urlsplit(trimmed if "://" in trimmed else "http://" + trimmed).hostname or trimmed
    return _spoken_host(host) + url[len(trimmed) :]


def _email(m: re.Match[str]) -> str:
    local = re.sub(r"[._+-]", lambda s: _SEPARATOR_WORDS[s.group(0)], m.group(1))
    return f"{local} at {_spoken_host(m.group(2))}"


_ABBREVIATIONS: list[tuple[str, str, bool]] = [  # pattern, words, whether it may also end a sentence
    (r"(?i)\be\.\s?g\.(?!\w)", "for example", False),
    (r"(?i)\bi\.\s?e\.(?!\w)", "that is", False),
    (r"(?i)\betc\b\.?", "et cetera", True),
    (r"(?i)\bvs\b\.?", "versus", False),
    (r"(?i)\bapprox\b\.?", "approximately", False),
    (r"\bDr\.(?=\s+[A-Z])", "Doctor", False),
    (r"\bMrs\.(?=\s)", "Missus", False),
    (r"\bMr\.(?=\s)", "Mister", False),
    (r"\bMs\.(?=\s)", "Miz", False),
    (r"\bProf\.(?=\s)", "Professor", False),
    (r"\bSt\.(?=\s+[A-Z])", "Saint", False),
    (r"\bSt\.", "Street", True),
    (r"\bJr\.", "Junior", True),
    (r"\bSr\.", "Senior", True),
    (r"\bNo\.(?=\s?\d)", "number", False),
]


def _initialism(m: re.Match[str]) -> str:
    # "U.S. Army": a capital after an initialism is usually a name, so only the very end keeps the period.
    at_end = m.group(0).endswith(".") and not m.string[m.end() :].strip()
    return " ".join(re.findall(r"[A-Z]", m.group(0))) + ("." if at_end else "")


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_MONTH_NUMBER = {name[:3]: i + 1 for i, name in enumerate(_MONTHS)}  # any spelling's first three letters
_MONTH_ANY = "|".join(sorted({*_MONTHS, *_MONTH_NUMBER, "Sept"}, key=len, reverse=True))
_DAY = r"(?<![\w.,])(\d{1,2})(?:st|nd|rd|th)?(?![\d:])"


def _date(m: re.Match[str], month: int | str, day: str, year: str | None, day_first: bool = False) -> str:
    """Speak a date, or give the match back unchanged when it is not a real calendar date."""
    month = _MONTH_NUMBER[month[:3]] if isinstance(month, str) else month
    if not (1 <= month <= 12 and 1 <= int(day) <= 31):
        return m.group(0)
    name, nth = _MONTHS[month - 1], _ordinal(int(day))
    words = f"the {nth} of {name}" if day_first else f"{name} {nth}"
    return f"{words}, {_year(year)}" if year else words


def _slash_date(m: re.Match[str]) -> str:
    # Day first only when it cannot be a month; otherwise American order, matching the English voice.
    month, day = (m[2], m[1]) if int(m[1]) > 12 else (m[1], m[2])
    return _date(m, int(month), day, m[3])


def _clock(m: re.Match[str]) -> str:
    hour, minute, suffix = int(m.group(1)), int(m.group(2) or 0), (m.group(3) or "").upper()
    if hour > 24 or (suffix and not 1 <= hour <= 12):
        return m.group(0)
    if not suffix and hour == 0:
        hour, suffix = 12, "A"
    if minute == 0:
        words = num2words(hour) + ("" if suffix else " o'clock" if hour <= 12 else " hundred")
    else:
        words = f"{num2words(hour)} {'oh ' if minute < 10 else ''}{num2words(minute)}"
    return words + (f" {suffix} M" if suffix else "") + _end_dot(m)


_CURRENCIES = {  # symbol -> one, many, one hundredth, many hundredths
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "", ""),
    "₩": ("won", "won", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}
_SCALES = {
    "k": "thousand",
    "K": "thousand",
    "M": "million",
    "mn": "million",
    "B": "billion",
    "bn": "billion",
    "T": "trillion",
}


def _money(m: re.Match[str]) -> str:
    sign, symbol, whole, frac, scale_word, scale_letter = m.groups()
    one, many, cent, cents = _CURRENCIES[symbol]
    scale = scale_word or _SCALES.get(scale_letter or "")
    if scale or (frac and (len(frac) > 2 or not cent)):
        amount = _number_words(whole + ("." + frac if frac else ""))
        words = f"{amount} {scale} {many}" if scale else f"{amount} {many}"
    else:
        units, sub = int(whole.replace(",", "")), int(frac.ljust(2, "0")) if frac else 0
        parts = [f"{_int_words(whole)} {one if units == 1 else many}"] if units or not sub else []
        if sub:
            parts.append(f"{num2words(sub)} {cent if sub == 1 else cents}")
        words = " and ".join(parts)
    return "minus " + words if sign else words


_UNITS = {  # symbol -> singular name; plurals are derived in _unit
    "km/h": "kilometer per hour",
    "kph": "kilometer per hour",
    "mph": "mile per hour",
    "m/s": "meter per second",
    "km": "kilometer",
    "m": "meter",
    "cm": "centimeter",
    "mm": "millimeter",
    "mi": "mile",
    "ft": "foot",
    "kg": "kilogram",
    "g": "gram",
    "mg": "milligram",
    "lb": "pound",
    "lbs": "pound",
    "oz": "ounce",
    "L": "liter",
    "ml": "milliliter",
    "mL": "milliliter",
    "KB": "kilobyte",
    "kB": "kilobyte",
    "MB": "megabyte",
    "GB": "gigabyte",
    "TB": "terabyte",
    "Hz": "hertz",
    "kHz": "kilohertz",
    "MHz": "megahertz",
    "GHz": "gigahertz",
    "kW": "kilowatt",
    "kWh": "kilowatt hour",
    "ms": "millisecond",
    "sec": "second",
    "min": "minute",
    "h": "hour",
    "hr": "hour",
    "hrs": "hour",
}
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
_TEMPERATURE_SCALES = {"C": " Celsius", "F": " Fahrenheit", "K": " kelvin", "": ""}


def _unit(m: re.Match[str]) -> str:
    name = _UNITS[m.group(2)]
    if m.group(1).lstrip("-−") != "1":
        head, per, tail = name.partition(" per ")  # "kilometers per hour": the word before "per" is plural
        name = head + ("" if head.endswith("z") else "s") + per + tail
    return f"{_number_words(m.group(1))} {name.replace('foots', 'feet')}"


def _degrees(m: re.Match[str]) -> str:
    noun = "degree" if m.group(1).lstrip("-−") == "1" else "degrees"
    return f"{_number_words(m.group(1))} {noun}{_TEMPERATURE_SCALES[m.group(2) or '']}"


def _phone(m: re.Match[str]) -> str:
    plus = "plus " if m.group(0).startswith("+") else ""
    return plus + ", ".join(_digit_words(group) for group in re.findall(r"\d+", m.group(0)))


def _dotted_number(m: re.Match[str]) -> str:
    parts = m.group(2).split(".")
    joiner = " dot " if len(parts) >= 4 and not m.group(1) else " point "  # four parts: an IP address
    return ("version " if m.group(1) else "") + joiner.join(_int_words(p) for p in parts)


def _number(m: re.Match[str]) -> str:
    text, start, end = m.string, m.start(), m.end()
    # Keep digits glued to letters ("mp3", "4K") apart from them once they are words.
    before = " " if start and text[start - 1].isalpha() else ""
    after = " " if end < len(text) and text[end].isalpha() else ""
    return before + _number_words(m.group(0)) + after


_FRACTIONS = {
    "1/2": "one half",
    "1/3": "one third",
    "2/3": "two thirds",
    "1/4": "one quarter",
    "3/4": "three quarters",
    "½": "one half",
    "⅓": "one third",
    "⅔": "two thirds",
    "¼": "one quarter",
    "¾": "three quarters",
}


def _fraction(m: re.Match[str]) -> str:
    glued = m.start() and m.string[m.start() - 1].isdigit()  # "2½" is "two and one half"
    return (" and " if glued else "") + _FRACTIONS[m.group(0)]


_SYMBOLS = {
    "->": "to",
    "=>": "to",
    "→": "to",
    "⇒": "to",
    "<=": "less than or equal to",
    "≤": "less than or equal to",
    ">=": "greater than or equal to",
    "≥": "greater than or equal to",
    "!=": "does not equal",
    "≠": "does not equal",
    "==": "equals",
    "=": "equals",
    "+": "plus",
    "×": "times",
    "÷": "divided by",
    "±": "plus or minus",
    "≈": "approximately",
    "&": "and",
    "@": "at",
    "%": "percent",
    "°": "degrees",
}
_YEAR = r"(1[1-9]\d\d|20\d\d)"
_YEAR_CONTEXT = (
    r"(?i:in|since|by|from|until|till|before|after|during|around|circa|year|early|late|mid|"
    r"spring|summer|fall|autumn|winter)|" + "|".join(_MONTHS)
)

_PASSES: list[tuple[str, _Repl]] = [
    (r"(?<![\w.+-])([\w.+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)", _email),
    (r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>\"'\])]+", _url),
    (r"(?<![\w@/.-])(?:[A-Za-z0-9-]+\.)+[a-z]{2,6}\b(?:/[^\s<>\"'\])]*)?", _url),
    *[(p, lambda m, w=w, e=e: w + (_end_dot(m) if e else "")) for p, w, e in _ABBREVIATIONS],
    (r"\b[A-Z](?:\.[A-Z])+\b\.?", _initialism),
    (r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])", lambda m: _date(m, int(m[2]), m[3], m[1])),
    (rf"\b({_MONTH_ANY})\.?\s+{_DAY}(?:,?\s+(\d{{4}})(?!\d))?", lambda m: _date(m, m[1], m[2], m[3])),
    (
        rf"\b{_DAY}\s+(?:of\s+)?({'|'.join(_MONTHS)})\b(?:,?\s+(\d{{4}})(?!\d))?",
        lambda m: _date(m, m[2], m[1], m[3], day_first=True),
    ),
    (r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])", _slash_date),
    (r"(?<![\d:.])(\d{1,2}):([0-5]\d)(?![\d:])(?:\s?([AaPp])\.?\s?[Mm]\b\.?)?", _clock),
    (r"(?<![\d:.,])(\d{1,2})()\s?([AaPp])\.?\s?[Mm]\b\.?", _clock),
    (r"(?<![\w.-])(?:\+\d{1,3}[\s-])?(?:\(\d{3}\)\s?|\d{3}[-.])?\d{3}[-.]\d{4}(?![\w-])", _phone),
    (r"[~≈]\s?(?=[-−]?[\d$€£¥₩₹])", "about "),
    (rf"(?<![\w.]){_YEAR}\s?[-–—]\s?{_YEAR}(?!\d)", lambda m: f"{_year(m.group(1))} to {_year(m.group(2))}"),
    (r"(?<=\d)\s-\s(?=\d)", " minus "),
    (r"(?<=\d)\s?[-–—]\s?(?=[$€£¥₩₹]\d)", " to "),
    (r"(?<![\d.-])(\d+(?:\.\d+)?)(?:-|\s?[–—]\s?)(?=\d+(?:\.\d+)?(?![\d-]))", r"\1 to "),
    (
        r"(?:(?<![\w.])([-−]))?([$€£¥₩₹])\s?(\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.(\d+))?"
        r"(?:\s?(thousand|million|billion|trillion)\b|(k|K|M|mn|B|bn|T)\b)?",
        _money,
    ),
    (r"\s?([²³])", lambda m: " squared" if m[1] == "²" else " cubed"),  # before units: "m²" is not \w-free
    (rf"({_NUM})\s?°\s?([CFK])?(?![A-Za-z])", _degrees),
    (rf"({_NUM})\s?%", lambda m: _number_words(m.group(1)) + " percent"),
    (rf"({_NUM})\s?({_UNIT_ALT})(?![\w/])", _unit),
    (r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:st|nd|rd|th)\b", lambda m: _ordinal(int(m[1].replace(",", "")))),
    (r"(?<![\w.])(1\d|20)\d0s\b", lambda m: _plural(_year(m.group(0)[:4]))),
    (r"['’](\d)0s\b", lambda m: _plural(num2words(int(m.group(1)) * 10))),
    (rf"\b({_YEAR_CONTEXT})(\s+|-){_YEAR}(?![\d%]|[.,]\d)", lambda m: m[1] + m[2] + _year(m[3])),
    (r"(?<![\w.])([vV])(\d+(?:\.\d+)+)\b", _dotted_number),
    (r"(?<![\w.])()(\d+(?:\.\d+){2,})(?!\w)", _dotted_number),
    (r"(?<![\d/])(?:1/2|1/3|2/3|1/4|3/4)(?![\d/])|[½⅓⅔¼¾]", _fraction),
    (r"(?<=\d)\s*<\s*(?=[-−]?\d)", " less than "),
    (r"(?<=\d)\s*>\s*(?=[-−]?\d)", " greater than "),
    (r"(?<=\d)\s*\*\s*(?=[-−]?\d)", " times "),
    (r"(?<=\d)x(?=\d)", " by "),  # 1920x1080
    (r"#(?=\d)", "number "),
    (r"\s*(->|=>|<=|>=|!=|==|[≤≥≠=+×÷±≈&@→⇒%°])\s*", lambda m: f" {_SYMBOLS[m.group(1)]} "),
    (r"(?<=\d):(?=\d)", " to "),  # a ratio; clock times were read earlier
    (r"\s+-{1,3}\s+|\s*[—–]\s*|•", ", "),  # dashes and bullets mid-line are pauses
    (r"(?<=\w)/(?=(?:month|year|week|day|hour|night|person|kg|lb)\b)", " per "),
    (r"[*_#|\\^~<>\[\]{}`/$€£¥₩₹]", " "),  # markup and symbols with nothing left to say
    (_NUM + r"|(?<![\w.])\.\d+", _number),
]
_COMPILED = [(re.compile(p), r) for p, r in _PASSES]

_TIDY = [
    (re.compile(p), r)
    for p, r in [
        (r"\s+", " "),
        (r"\(\s*\)", ""),
        (r"\s+([,.;:!?])", r"\1"),
        (r"([,;:])(?:\s*[,;:])+", r"\1"),
        (r"[,;:]\s*([.!?])", r"\1"),
        (r"([.!?])\s*[,;:]+", r"\1"),
        (r"(?<!\.)\.\.(?!\.)", "."),
        (r"^[\s,;:.]+", ""),
    ]
]


def _speak(text: str) -> str:
    out = "".join(filter(_keep, markdown_to_text(text)))
    for pattern, repl in _COMPILED:
        out = pattern.sub(repl, out)
    for pattern, repl in _TIDY:
        out = pattern.sub(repl, out)
    return out.strip()


def normalize_for_speech(text: str) -> str:
    """Return `text` as plain English a TTS voice can read aloud.

    Markdown is flattened (list items and headings become sentences, code blocks become
    a short phrase), and numbers, dates, times, money, units, abbreviations, URLs and
    emails are spelled out. Emoji and other pictographs are dropped.
    """
    if out := _speak(text):
        return out
    # Never silence real words, however odd the markup around them ("1." alone is an empty list item).
    words = " ".join(re.findall(r"[^\W_]+", text))
    return (_speak(words) or words) if words else ""
