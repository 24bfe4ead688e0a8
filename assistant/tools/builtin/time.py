"""Built-in tool: the current date and time, here or in a city, country or IANA time zone."""

from __future__ import annotations

import os
import re
import unicodedata
import zoneinfo
from datetime import datetime, timedelta, tzinfo
from datetime import timezone as fixed_offset
from functools import lru_cache
from pathlib import Path

from assistant.tools import tool
from assistant.tools.said import PROPER_NAME

# Common names people say -> IANA zone. Cities that are the last part of a zone name ("Tokyo", "Paris",
# "new york") are found without this table; it holds the rest: countries, other cities, abbreviations.
# fmt: off
PLACES: dict[str, str] = {
    "utc": "UTC", "gmt": "UTC", "zulu": "UTC",
    "korea": "Asia/Seoul", "south korea": "Asia/Seoul", "busan": "Asia/Seoul", "kst": "Asia/Seoul",
    "japan": "Asia/Tokyo", "osaka": "Asia/Tokyo", "kyoto": "Asia/Tokyo", "jst": "Asia/Tokyo",
    "china": "Asia/Shanghai", "beijing": "Asia/Shanghai", "shenzhen": "Asia/Shanghai",
    "guangzhou": "Asia/Shanghai", "taiwan": "Asia/Taipei", "hong kong": "Asia/Hong_Kong",
    "thailand": "Asia/Bangkok", "vietnam": "Asia/Ho_Chi_Minh", "hanoi": "Asia/Bangkok",
    "ho chi minh city": "Asia/Ho_Chi_Minh", "saigon": "Asia/Ho_Chi_Minh", "indonesia": "Asia/Jakarta",
    "philippines": "Asia/Manila", "malaysia": "Asia/Kuala_Lumpur",
    "india": "Asia/Kolkata", "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata", "mumbai": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata", "chennai": "Asia/Kolkata",
    "ist": "Asia/Kolkata",
    "pakistan": "Asia/Karachi", "bangladesh": "Asia/Dhaka", "uae": "Asia/Dubai", "abu dhabi": "Asia/Dubai",
    "iran": "Asia/Tehran", "israel": "Asia/Jerusalem", "tel aviv": "Asia/Jerusalem",
    "saudi arabia": "Asia/Riyadh", "turkey": "Europe/Istanbul", "ankara": "Europe/Istanbul",
    "russia": "Europe/Moscow", "saint petersburg": "Europe/Moscow", "st petersburg": "Europe/Moscow",
    "uk": "Europe/London", "united kingdom": "Europe/London", "england": "Europe/London",
    "britain": "Europe/London", "great britain": "Europe/London", "scotland": "Europe/London",
    "edinburgh": "Europe/London", "manchester": "Europe/London", "bst": "Europe/London",
    "ireland": "Europe/Dublin", "france": "Europe/Paris", "germany": "Europe/Berlin",
    "munich": "Europe/Berlin", "frankfurt": "Europe/Berlin", "hamburg": "Europe/Berlin",
    "spain": "Europe/Madrid", "barcelona": "Europe/Madrid", "italy": "Europe/Rome", "milan": "Europe/Rome",
    "netherlands": "Europe/Amsterdam", "holland": "Europe/Amsterdam", "belgium": "Europe/Brussels",
    "switzerland": "Europe/Zurich", "geneva": "Europe/Zurich", "austria": "Europe/Vienna",
    "sweden": "Europe/Stockholm", "norway": "Europe/Oslo", "denmark": "Europe/Copenhagen",
    "finland": "Europe/Helsinki", "poland": "Europe/Warsaw", "czechia": "Europe/Prague",
    "czech republic": "Europe/Prague", "greece": "Europe/Athens", "portugal": "Europe/Lisbon",
    "ukraine": "Europe/Kyiv", "kiev": "Europe/Kyiv", "cet": "Europe/Paris",
    "egypt": "Africa/Cairo", "south africa": "Africa/Johannesburg", "cape town": "Africa/Johannesburg",
    "nigeria": "Africa/Lagos", "kenya": "Africa/Nairobi", "morocco": "Africa/Casablanca",
    "usa": "America/New_York", "us": "America/New_York", "united states": "America/New_York",
    "america": "America/New_York", "nyc": "America/New_York", "washington": "America/New_York",
    "washington dc": "America/New_York", "boston": "America/New_York", "miami": "America/New_York",
    "atlanta": "America/New_York", "philadelphia": "America/New_York", "eastern": "America/New_York",
    "est": "America/New_York", "edt": "America/New_York", "houston": "America/Chicago",
    "dallas": "America/Chicago", "central": "America/Chicago", "cst": "America/Chicago",
    "mountain": "America/Denver", "mst": "America/Denver", "la": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "seattle": "America/Los_Angeles",
    "california": "America/Los_Angeles", "las vegas": "America/Los_Angeles", "pacific": "America/Los_Angeles",
    "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles", "hawaii": "Pacific/Honolulu",
    "alaska": "America/Anchorage", "canada": "America/Toronto", "ottawa": "America/Toronto",
    "montreal": "America/Toronto", "mexico": "America/Mexico_City", "brazil": "America/Sao_Paulo",
    "rio de janeiro": "America/Sao_Paulo", "rio": "America/Sao_Paulo", "brasilia": "America/Sao_Paulo",
    "argentina": "America/Argentina/Buenos_Aires", "peru": "America/Lima", "colombia": "America/Bogota",
    "chile": "America/Santiago", "australia": "Australia/Sydney", "canberra": "Australia/Sydney",
    "new zealand": "Pacific/Auckland", "wellington": "Pacific/Auckland",
}
# fmt: on

_OFFSET_RE = re.compile(r"^(?:utc|gmt)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$")


@lru_cache(maxsize=1)
def _zone_index() -> tuple[dict[str, str], dict[str, str]]:
    """Lower-cased full zone names, and their last components ("new_york"), -> the real zone names."""
    full: dict[str, str] = {}
    last: dict[str, str] = {}
    for name in sorted(zoneinfo.available_timezones()):
        full[name.lower()] = name
        tail = name.rsplit("/", 1)[-1].lower()
        last.setdefault(tail, name)  # sorted, so the same tail always maps to the same zone
    return full, last


def _normalize(place: str) -> str:
    """'São Paulo' -> 'sao paulo', 'St. Petersburg' -> 'st petersburg', 'New_York' -> 'new york'."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", place) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[.'’]", "", plain).lower().replace("_", " ").split())


def resolve_zone(place: str) -> tuple[tzinfo, str]:
    """The tzinfo and zone name for a city, country, abbreviation, IANA zone or UTC offset.

    ValueError with a hint when the place is not known.
    """
    full, last = _zone_index()
    text = place.strip()
    key = _normalize(text)
    # The table first: "EST" should mean New York's time (with summer time), not the fixed zone "EST".
    if key in PLACES:
        return zoneinfo.ZoneInfo(PLACES[key]), PLACES[key]
    if text.lower() in full:  # an IANA name, any case: "asia/seoul", "UTC"
        name = full[text.lower()]
        return zoneinfo.ZoneInfo(name), name
    if match := _OFFSET_RE.match(key.replace(" ", "")):
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=14):
            raise ValueError(f"{place!r} is not a valid UTC offset (at most 14 hours)")
        offset = fixed_offset(-delta if sign == "-" else delta)
        return offset, offset.tzname(None) or "UTC"
    # "Tokyo, Japan" or "Paris France": try the whole, then each comma-separated part.
    for candidate in [key, *(p.strip() for p in key.split(",") if p.strip())]:
        if candidate in PLACES:
            return zoneinfo.ZoneInfo(PLACES[candidate]), PLACES[candidate]
        underscored = candidate.replace(" ", "_")
        if underscored in last:
            return zoneinfo.ZoneInfo(last[underscored]), last[underscored]
    raise ValueError(
        f"unknown place or time zone {place!r}; give a big city or a country (e.g. 'Tokyo', 'France') "
        "or an IANA zone such as 'Europe/Paris'"
    )


def _local_zone_name(now: datetime) -> str:
    """The local IANA zone name if the system says (TZ or /etc/localtime), else the abbreviation."""
    tz_env = os.environ.get("TZ", "").lstrip(":")
    if tz_env and "/" in tz_env and not tz_env.startswith("/"):
        return tz_env
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1].removeprefix("posix/").removeprefix("Etc/")
    except OSError:
        pass
    return now.tzname() or "local"


def spoken(now: datetime) -> str:
    """'3:45 PM, Friday 27 November': how a person would say the time and date."""
    hour = now.hour % 12 or 12
    return f"{hour}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}, {now:%A} {now.day} {now:%B}"


# Asking the clock, in its usual words; it must be the whole request ("what's the time complexity of
# quicksort", "what time does the shop close" and "what day is Christmas" are not).
_ASK = r"""
    ^\W*(?:(?:hey|ok|okay|so|and|sori|please)\W+)*
    (?:(?:can|could|would)\s+you\s+(?:please\s+)?tell\s+me\s+|do\s+you\s+know\s+|tell\s+me\s+)?
    (?: what(?:'s|\s+is)?\s+(?:the\s+)?(?:current\s+|exact\s+|local\s+)?(?:time|date)
      | what\s+time(?:'s|\s+is)\s+it | what\s+time\s+it\s+is
      | what\s+(?:date|day)(?:\s+of\s+the\s+(?:week|month))?(?:(?:'s|\s+is)\s+it|\s+it\s+is)
      | what(?:'s|\s+is)\s+today(?:'s\s+date)?
      | (?:the\s+)?(?:current|local|exact)\s+(?:time|date) | the\s+(?:time|date) | today's\s+date
      | time\s+check )"""
_WHEN = r"now|right\s+now|today|please|here|there|at\s+the\s+moment"
CLOCK = "(?x)" + _ASK + rf"(?:\W+(?:{_WHEN}|in(?:\s+[\w/'.-]+){{1,4}}))*\W*$"
# The same with a place said as its proper name ("in Tokyo", "in New York"; capitalized, as Whisper writes
# it) and nothing after it but when: the call's time zone as said, no model needed.
IN_PLACE = "(?x)" + _ASK + rf"(?:\W+(?:{_WHEN}))*\s+in\s+(?P<timezone>{PROPER_NAME})(?:\W+(?:{_WHEN}))*\W*$"


@tool(
    patterns=[IN_PLACE, CLOCK],
    examples=[
        "what's the time",
        "tell me the time",
        "what's the date today",
        "what day is it",
        "what time is it in Sydney",
        "current time in Berlin",
    ],
)
def get_time(timezone: str | None = None) -> dict:
    """Get the current date, day and time, here or in another city, country or time zone; you cannot know them
    without this tool.

    Args:
        timezone: a city, country or IANA time zone (e.g. "Tokyo", "France", "Europe/London");
            leave it out for the local time here
    """
    if timezone is None or timezone.strip().lower() in ("", "local", "here", "now"):
        now = datetime.now().astimezone()
        zone_name = _local_zone_name(now)
    else:
        tz, zone_name = resolve_zone(timezone)
        now = datetime.now(tz)
    offset = now.strftime("%z")
    return {
        "timezone": zone_name,
        "iso": now.isoformat(timespec="seconds"),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": now.strftime("%A"),
        "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "+00:00",
        "spoken": spoken(now),
    }
