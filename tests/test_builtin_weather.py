"""get_weather against a local HTTP server that replays recorded Open-Meteo answers (never the internet)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from assistant.tools import ToolExecutor, ToolRegistry
from tests.conftest import builtin_registry, call, fails

DATA = Path(__file__).parent / "data" / "weather"
PROXY_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]


class Recorded(BaseHTTPRequestHandler):
    """Open-Meteo's geocoding and forecast endpoints, answered from tests/data/weather/."""

    requests: list[tuple[str, dict[str, str]]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append((url.path, query))
        if url.path == "/v1/search":
            name = query.get("name", "").lower()
            if name == "server error":
                return self.reply(500, b"Internal Server Error", "text/plain")
            if name == "north pole":  # a place whose forecast request the service rejects
                return self.reply(
                    200,
                    json.dumps(
                        {"results": [{"name": "North Pole", "latitude": 91.0, "longitude": 0.0}]}
                    ).encode(),
                )
            fixture = "geocoding_paris.json" if name == "paris" else "geocoding_empty.json"
            return self.reply(200, (DATA / fixture).read_bytes())
        if url.path == "/v1/forecast":
            if query.get("latitude") == "91.0":
                return self.reply(400, (DATA / "forecast_error.json").read_bytes())
            return self.reply(200, (DATA / "forecast_paris.json").read_bytes())
        return self.reply(404, b'{"error": true, "reason": "Not Found"}')

    def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, str]]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv("SORI_WEATHER_URL", base)
    monkeypatch.setenv("SORI_GEOCODING_URL", base + "/")
    for var in PROXY_VARS:  # a proxy from the environment must not see 127.0.0.1 requests
        monkeypatch.delenv(var, raising=False)
    Recorded.requests = []
    try:
        yield Recorded.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def registry() -> ToolRegistry:
    return builtin_registry()


@pytest.fixture
def executor(registry: ToolRegistry) -> ToolExecutor:
    return ToolExecutor(registry)


def test_weather_in_paris(executor: ToolExecutor, server: list) -> None:
    data = call(executor, "get_weather", location="Paris")
    assert data["location"] == "Paris, Île-de-France, France"
    assert data["conditions"] == "light rain"
    assert (data["temperature"], data["temperature_unit"]) == (8.4, "°C")
    assert (data["wind_speed"], data["wind_unit"]) == (14.8, "km/h")
    assert (data["today_low"], data["today_high"]) == (4.1, 10.2)
    assert data["summary"] == "Light rain, 8 °C, wind 15 km/h; today between 4 and 10 °C."
    (geo_path, geo), (fc_path, fc) = server
    assert geo_path == "/v1/search" and geo["name"] == "Paris" and geo["count"] == "1"
    assert fc_path == "/v1/forecast"
    assert (fc["latitude"], fc["longitude"]) == ("48.85341", "2.3488")
    assert fc["current"] == "temperature_2m,weather_code,wind_speed_10m"
    assert fc["daily"] == "temperature_2m_max,temperature_2m_min"
    assert fc["timezone"] == "auto"


def test_city_with_country_falls_back_to_the_city(executor: ToolExecutor, server: list) -> None:
    assert call(executor, "get_weather", location="Paris, France")["location"].startswith("Paris")
    assert [q["name"] for p, q in server if p == "/v1/search"] == ["Paris, France", "Paris"]


def test_unknown_place(executor: ToolExecutor, server: list) -> None:
    error = fails(executor, "get_weather", location="Xyzzyville")
    assert "no place called 'Xyzzyville'" in error
    assert all(p == "/v1/search" for p, _ in server)  # no forecast asked for


def test_http_errors_are_explained(executor: ToolExecutor, server: list) -> None:
    assert "HTTP 500" in fails(executor, "get_weather", location="server error")
    error = fails(executor, "get_weather", location="North Pole")
    assert "HTTP 400" in error and "Latitude must be in range" in error


def test_offline(executor: ToolExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SORI_GEOCODING_URL", f"http://127.0.0.1:{port}")
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    error = fails(executor, "get_weather", location="Paris")
    assert "cannot reach the weather service" in error and "offline" in error
