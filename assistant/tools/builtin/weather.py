"""Built-in tool: current weather and today's range for a place, from an Open-Meteo-compatible service.

The services are SORI_WEATHER_URL (forecast, default https://api.open-meteo.com) and SORI_GEOCODING_URL
(place names, default https://geocoding-api.open-meteo.com); Open-Meteo needs no API key.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from assistant.tools import tool
from assistant.tools.said import PROPER_NAME

TIMEOUT_S = 10.0

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_CODES: dict[int, str] = {
    0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast", 45: "fog",
    48: "freezing fog", 51: "light drizzle", 53: "drizzle", 55: "heavy drizzle",
    56: "light freezing drizzle", 57: "freezing drizzle", 61: "light rain", 63: "rain", 65: "heavy rain",
    66: "light freezing rain", 67: "freezing rain", 71: "light snow", 73: "snow", 75: "heavy snow",
    77: "snow grains", 80: "light rain showers", 81: "rain showers", 82: "violent rain showers",
    85: "light snow showers", 86: "heavy snow showers", 95: "thunderstorm",
    96: "thunderstorm with light hail", 99: "thunderstorm with heavy hail",
}  # fmt: skip


def _base(var: str, default: str) -> str:
    return (os.environ.get(var) or default).rstrip("/")


def _get_json(client: httpx.Client, url: str, params: dict[str, Any]) -> dict[str, Any]:
    """GET url and return its JSON object; every failure becomes a ValueError that says what happened."""
    service = httpx.URL(url).host or url
    try:
        response = client.get(url, params=params)
    except httpx.TimeoutException:
        raise ValueError(f"the weather service ({service}) did not answer within {TIMEOUT_S:g} s") from None
    except httpx.HTTPError as exc:
        raise ValueError(
            f"cannot reach the weather service ({service}): {type(exc).__name__}; is this computer offline?"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code != 200:
        reason = data.get("reason") if isinstance(data, dict) else None
        raise ValueError(
            f"the weather service ({service}) answered HTTP {response.status_code}"
            + (f": {reason}" if reason else "")
        )
    if not isinstance(data, dict):
        raise ValueError(f"the weather service ({service}) sent an answer that is not a JSON object")
    return data


def _geocode(client: httpx.Client, location: str) -> dict[str, Any]:
    url = _base("SORI_GEOCODING_URL", "https://geocoding-api.open-meteo.com") + "/v1/search"
    # The geocoder matches names only: "Paris, France" finds nothing, so retry with "Paris".
    names = dict.fromkeys([location, location.split(",")[0].strip()])
    for name in names:
        found = _get_json(client, url, {"name": name, "count": 1, "language": "en", "format": "json"})
        results = found.get("results") or []
        if results and isinstance(results[0], dict) and "latitude" in results[0]:
            return results[0]
    raise ValueError(f"no place called {location!r} was found; try a city name such as 'Paris'")


def _place_name(place: dict[str, Any]) -> str:
    parts = [place.get("name"), place.get("admin1"), place.get("country")]
    return ", ".join(dict.fromkeys(str(p) for p in parts if p))


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else None


# How it is outside, asked about now or a place: "how cold is it in Oslo", "will it snow tomorrow", "do I
# need an umbrella today". Not "how hot is the sun" or "why is it cold in winter".
_WHEN_OR_WHERE = (
    r"(?:(?:right\s+)?now|today|tonight|tomorrow|this\s+(?:morning|afternoon|evening|week)|outside|out|"
    r"in\s+(?!here\b)\w+)"
)
# The same requests naming a place as its proper name ("in Oslo", "in New York"; capitalized, as Whisper
# writes it), and nothing after it but when: the place is the call's location as said, no model needed.
PLACE = rf"(?P<location>{PROPER_NAME})"
_NOW = r"(?:\s+(?:right\s+now|now|today|at\s+the\s+moment|this\s+(?:morning|afternoon|evening)))?\W*$"
NAMED_PLACE = [
    r"^\W*(?:what|how)(?:'s|\s+is)\s+the\s+weather(?:\s+like)?\s+in\s+" + PLACE + _NOW,
    r"^\W*how\s+(?:hot|cold|warm|chilly|windy|humid)\s+is\s+it\s+in\s+" + PLACE + _NOW,
    r"^\W*(?:the\s+)?weather\s+in\s+" + PLACE + _NOW,
]
CONDITIONS = [
    *NAMED_PLACE,
    r"^\W*(?:what|how)(?:'s|\s+is)\s+the\s+weather(?:\s+like)?(?:\s+" + _WHEN_OR_WHERE + r".*)?\W*$",
    r"^\W*how\s+(?:hot|cold|warm|chilly|windy|humid)\s+is\s+it(?:\s+" + _WHEN_OR_WHERE + r".*)?\W*$",
    r"^\W*(?:is|will)\s+it\s+(?:going\s+to\s+)?(?:be\s+)?"
    r"(?:rain|snow|sunny|windy|cold|hot|warm|freezing|cloudy|stormy)\w*\s+" + _WHEN_OR_WHERE,
    r"^\W*do\s+i\s+need\s+(?:an?\s+)?(?:umbrella|raincoat|jacket|coat|sunscreen)\b",
    r"^\W*what(?:'s|\s+is)\s+the\s+(?:temperature|forecast)\s+(?:for\s+)?" + _WHEN_OR_WHERE,
]


@tool(
    patterns=CONDITIONS,
    examples=[
        "what's the weather like in Madrid",
        "is it raining in Seattle",
        "how warm is it in Rome right now",
        "weather in Chicago today",
    ],
)
def get_weather(location: str) -> dict:
    """Get the current weather (temperature: hot or cold; rain, snow or sun; wind) and today's high and low;
    you cannot know it without this tool.

    Args:
        location: a city or place name, e.g. "Paris" or "New York"
    """
    if not location.strip():
        raise ValueError("say which place to get the weather for")
    with httpx.Client(timeout=TIMEOUT_S, follow_redirects=True) as client:
        place = _geocode(client, location.strip())
        forecast = _get_json(
            client,
            _base("SORI_WEATHER_URL", "https://api.open-meteo.com") + "/v1/forecast",
            {
                "latitude": place["latitude"],
                "longitude": place["longitude"],
                "current": "temperature_2m,weather_code,wind_speed_10m",
                "daily": "temperature_2m_max,temperature_2m_min",
                "timezone": "auto",
            },
        )
    current = forecast.get("current")
    if not isinstance(current, dict) or current.get("temperature_2m") is None:
        raise ValueError("the weather service's answer has no current weather")
    units = forecast.get("current_units") or {}
    daily = forecast.get("daily") or {}
    temp_unit = units.get("temperature_2m", "°C")
    wind_unit = units.get("wind_speed_10m", "km/h")
    code = current.get("weather_code")
    conditions = WMO_CODES.get(int(code), f"weather code {code}") if code is not None else "unknown"
    high, low = _first(daily.get("temperature_2m_max")), _first(daily.get("temperature_2m_min"))
    temp, wind = current["temperature_2m"], current.get("wind_speed_10m")
    summary = f"{conditions.capitalize()}, {round(temp)} {temp_unit}"
    if wind is not None:
        summary += f", wind {round(wind)} {wind_unit}"
    if high is not None and low is not None:
        summary += f"; today between {round(low)} and {round(high)} {temp_unit}"
    return {
        "location": _place_name(place),
        "local_time": current.get("time"),
        "conditions": conditions,
        "temperature": temp,
        "temperature_unit": temp_unit,
        "wind_speed": wind,
        "wind_unit": wind_unit,
        "today_high": high,
        "today_low": low,
        "summary": summary + ".",
    }
