"""The OpenAI-compatible chat backend against a real llama-cpp-python server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(engines, tmp_path_factory):
    port = _free_port()
    # The server logs a lot while loading: a file, not a pipe that could fill up and block it.
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(engines[1].model.path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chat_format",
            "chatml",
            "--n_ctx",
            "2048",
            "--model_alias",
            "small",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not start within 120 s")
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def test_ask_through_server(sori, server):
    r = sori("--llm-server", server, "ask", "--json", "What is the capital of France?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "paris" in out["answer"].lower()
    assert out["timings_ms"]["first_token_ms"] > 0


def test_streams_and_cancels(server):
    import threading

    from assistant.llm import ChatMessage
    from assistant.llm.openai_compat import OpenAICompatChat

    chat = OpenAICompatChat(server, model="small")
    chat.load()
    cancel = threading.Event()
    gen = chat.generate(
        [ChatMessage("user", "Count from one to fifty in words.")], temperature=0.0, cancel=cancel
    )
    got = []
    for delta in gen:
        got.append(delta)
        if len(got) == 3:
            cancel.set()
    assert len(got) == 3 and gen.cancelled
    assert gen.stats.first_token_ms is not None
