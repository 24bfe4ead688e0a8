"""One behaviour suite for the three front ends over the Session: the terminal chat, hands-free listening
(`sori chat --listen`) and the window. Each is driven through a small driver that uses it as a person
would: typing, speaking into its microphone, pressing its buttons, stopping an answer.

Inputs each front end has (a behaviour it cannot receive is skipped, with the reason):
  chat: typing (Ctrl-C stops)      listen: typing, speaking (Ctrl-C stops)
  window: typing, speaking (hands-free), buttons (Stop, Allow/Dismiss)

The matrix runs over scripted engines (tests/fakes.py) in seconds; the cases marked slow repeat one case per
behaviour through the real small models and real audio.
"""

from __future__ import annotations

import io
import math
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.audio.decode import decode_file
from assistant.audio.sources import ScriptedSource
from assistant.cli.chat import open_chat
from assistant.cli.listen import HandsFree
from assistant.session_audio import chime
from tests.conftest import SHARED
from tests.fakes import ScriptedLocalChat, ScriptedSTT, ToneTTS, Turn, make_assistant
from tests.plugin_files import GARAGE_PLUGIN
from tests.ui_support import LOAD_TIMEOUT_MS  # also: Qt on its offscreen platform

UTTERANCES = SHARED / "eval" / "utterances"  # recordings of questions, with transcripts.tsv
PAUSES = Path(__file__).parent / "data" / "pauses"  # questions with a pause mid-sentence
MOON_FIRST, MOON_WHOLE = "How far is the moon?", "How far is the moon from the Earth?"
MOON_EARLY = "The moon is far away, and the distance changes a little as it goes round on its orbit."
LONG = " ".join(f"Sentence {i} of the story." for i in range(200))
# Sori's scripted voice, in characters a second. Its audio plays in real time, and a turn is stored once it
# has been heard: fast, so each answer is over in a fraction of a second.
FAST_VOICE = 300.0
# Slow enough that the echo canceller hears Sori's voice long enough (half a second) to know the microphone
# does not: until then nothing the user says over Sori is heard. For a question answered while it is asked.
SLOW_VOICE = 30.0


def answer(request) -> Turn:
    """The scripted model: what it says to each question (tools are called through the fast path)."""
    asked = request.messages[-1].content.lower()
    if "capital of france" in asked:
        return Turn("Paris is the capital of France.")
    if "story" in asked:
        return Turn(LONG)
    if asked == MOON_FIRST.lower():
        return Turn(MOON_EARLY)
    if asked == MOON_WHOLE.lower():
        return Turn("About 384,000 kilometres.")
    return Turn("Done.")


class Driver:
    """Uses one front end; `shown()` is everything the user can read in it now."""

    name = ""

    def __init__(
        self,
        tmp_path: Path,
        engines: tuple | None,
        plugins: Path,
        voice: float = FAST_VOICE,
        settings: dict | None = None,
    ) -> None:
        if engines is None:
            self.heard = ["What is the capital of France?"]  # what the scripted STT hears next
            stt = ScriptedSTT(lambda audio: self.hear(audio))
            llm = ScriptedLocalChat(
                answer, delay_s=0.01, forced={"open_garage": {}, "set_timer": {"duration_seconds": 1}}
            )
            engines = (stt, llm, ToneTTS(chars_per_s=voice))  # voice: characters a second
        self.stt, self.llm, self.tts = engines
        self.assistant = make_assistant(
            tmp_path, stt=self.stt, llm=self.llm, tts=self.tts, tools=[plugins], settings=settings
        )
        self.mic = ScriptedSource([], tail_silence_s=math.inf)  # the microphone in a quiet room
        self.tmp_path = tmp_path

    def hear(self, audio) -> str:
        """What the scripted speech recognizer makes of `audio`."""
        return self.heard[0]

    def speak(self, recording: Path, text: str) -> None:
        self.heard = [text]
        self.mic.add_echo(decode_file(recording), time.monotonic() + 0.1)

    def wait(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{self.name}: gave up waiting; it shows:\n{self.shown()}"
            time.sleep(0.02)

    def wait_shown(self, text: str, timeout: float = 30) -> None:
        self.wait(lambda: text in self.shown(), timeout)

    def stored(self) -> list[tuple[str, str, bool]]:
        conv = self.assistant.store.latest_conversation()
        return [(m.role, m.text, m.complete) for m in self.assistant.store.messages(conv.id)] if conv else []


class TerminalDriver(Driver):
    """`sori chat` (hands_free=False) or `sori chat --listen` (True), with its output captured."""

    def __init__(
        self,
        tmp_path: Path,
        engines: tuple | None,
        plugins: Path,
        hands_free: bool,
        voice: float = FAST_VOICE,
        settings: dict | None = None,
    ) -> None:
        super().__init__(tmp_path, engines, plugins, voice, settings)
        self.name = "listen" if hands_free else "chat"
        self.out, self.lines = io.StringIO(), queue.Queue()
        self.chat = open_chat(
            self.assistant, hands_free=hands_free, readline=self._readline, out=self.out, err=self.out
        )
        session = self.chat.session
        session.follow(self.assistant.store.new_conversation().id)
        if hands_free:
            self.hands_free = HandsFree(session)
            self.hands_free.start(self.mic, session.audio.output(tmp_path / "heard.wav", source=self.mic))
        else:
            session.start()
            self.thread = threading.Thread(target=self.chat.run, daemon=True)
            self.thread.start()

    def _readline(self, prompt: str) -> str:
        self.out.write(prompt)
        line = self.lines.get()
        if line is None:
            raise EOFError
        return line

    def type(self, text: str) -> None:
        if self.name == "listen":
            self.hands_free.typed(text)  # what its typed-lines reader does with each line
        else:
            self.lines.put(text)

    def stop(self) -> None:  # Ctrl-C
        (self.hands_free if self.name == "listen" else self.chat).stop()

    def shown(self) -> str:
        return self.out.getvalue()

    def close(self) -> None:
        self.lines.put(None)
        self.chat.session.close()


class WindowDriver(Driver):
    name = "window"

    def __init__(
        self,
        tmp_path: Path,
        engines: tuple | None,
        plugins: Path,
        qtbot,
        voice: float = FAST_VOICE,
        settings: dict | None = None,
    ) -> None:
        from PySide6.QtCore import Qt

        from ui.app import create_window

        super().__init__(tmp_path, engines, plugins, voice, settings)
        self.qtbot, self.Qt = qtbot, Qt
        # A recording makes voice input available; the driver's microphone stands in for it.
        audio_in = [UTTERANCES / "q01_capital.wav"]
        self.window = create_window(self.assistant, audio_in=audio_in, audio_out=tmp_path / "heard.wav")
        self.window.bridge._make_source = lambda: self.mic
        qtbot.addWidget(self.window)
        self.window.show()
        qtbot.waitUntil(lambda: self.window.loaded, timeout=LOAD_TIMEOUT_MS)

    def wait(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        self.qtbot.waitUntil(condition, timeout=int(timeout * 1000))  # the GUI thread shows what comes

    def type(self, text: str) -> None:
        box = self.window.input.box
        box.setPlainText(text)
        self.qtbot.keyClick(box, self.Qt.Key.Key_Return)

    def listen(self) -> None:
        """Hands-free on, then the microphone button."""
        if not self.window.bridge.voice_active:
            self.window.input.hands_free.setChecked(True)
            self.qtbot.mouseClick(self.window.input.mic, self.Qt.MouseButton.LeftButton)
            self.wait(lambda: self.window.input.mic.property("micState") == "listening")

    def speak(self, recording: Path, text: str) -> None:
        self.listen()
        super().speak(recording, text)

    def press(self, allow: bool, timeout: float = 30) -> None:
        notices = self.window.notices.notices
        self.wait(lambda: any(k.startswith("confirm-") for k in notices), timeout)
        notice = next(n for k, n in notices.items() if k.startswith("confirm-"))
        button = notice.action_button if allow else notice.dismiss
        self.qtbot.mouseClick(button, self.Qt.MouseButton.LeftButton)

    def stop(self) -> None:
        self.wait(lambda: self.window.input.stop.isVisible())
        self.qtbot.mouseClick(self.window.input.stop, self.Qt.MouseButton.LeftButton)

    def shown(self) -> str:
        lines = [f"{m.role}> {m.text}{'' if m.complete else ' [cut off]'}" for m in self.window.chat.messages]
        notices = self.window.notices.notices.values()
        return "\n".join(lines + [f"[{n.title.text()}] {n.message.text()}" for n in notices])

    def close(self) -> None:
        self.window.close()


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir(mode=0o700)
    (folder / "garage.py").write_text(GARAGE_PLUGIN)
    monkeypatch.setenv("SORI_TEST_GARAGE", str(tmp_path / "garage.txt"))
    return folder


def open_front_end(
    name: str,
    tmp_path: Path,
    plugins: Path,
    request,
    engines: tuple | None = None,
    voice: float = FAST_VOICE,
    settings: dict | None = None,
) -> Driver:
    if name == "window":
        qtbot = request.getfixturevalue("qtbot")
        driver: Driver = WindowDriver(tmp_path, engines, plugins, qtbot, voice, settings)
    else:
        listen = name == "listen"
        driver = TerminalDriver(tmp_path, engines, plugins, hands_free=listen, voice=voice, settings=settings)
    request.addfinalizer(driver.close)
    return driver


INPUTS = {"chat": {"text"}, "listen": {"text", "voice"}, "window": {"text", "voice", "button"}}


def needs(what: str):
    """The input a test uses (the default is typing); front ends without it skip the test."""

    def mark(test):
        test.needs = what
        return test

    return mark


def configured(settings: dict):
    """Settings the front end starts with (overrides of the test settings)."""

    def mark(test):
        test.settings = settings
        return test

    return mark


@pytest.fixture(params=list(INPUTS))
def front_end(request, tmp_path: Path, plugins: Path) -> Driver:
    params = getattr(request.node, "callspec", None)
    how = params.params.get("how") if params else None
    wanted = how or getattr(request.function, "needs", "text")
    if wanted not in INPUTS[request.param]:
        pytest.skip(f"the {request.param} front end has no {wanted} input")
    voice = SLOW_VOICE if how == "voice" else FAST_VOICE  # answered aloud while Sori asks
    settings = getattr(request.function, "settings", None)  # set before the front end starts listening
    return open_front_end(request.param, tmp_path, plugins, request, voice=voice, settings=settings)


# -- the matrix, over scripted engines -------------------------------------------------------------


def test_typed_turn(front_end: Driver):
    front_end.type("What is the capital of France?")
    front_end.wait_shown("Paris is the capital of France.")
    front_end.wait(lambda: len(front_end.stored()) == 2)
    assert front_end.stored() == [
        ("user", "What is the capital of France?", True),
        ("assistant", "Paris is the capital of France.", True),
    ]


@needs("voice")
def test_spoken_turn(front_end: Driver):
    front_end.speak(UTTERANCES / "q01_capital.wav", "What is the capital of France?")
    front_end.wait_shown("Paris is the capital of France.")
    assert "What is the capital of France?" in front_end.shown()  # the transcript, as the user's turn
    question = front_end.assistant.store.messages(front_end.assistant.store.latest_conversation().id)[0]
    assert question.source == "spoken" and question.audio_duration_s > 1


@pytest.mark.parametrize("how", ["text", "voice", "button"])
def test_confirmation(front_end: Driver, how: str, tmp_path: Path):
    if how == "voice" and isinstance(front_end, WindowDriver):
        front_end.listen()  # asked aloud only in a spoken conversation
    front_end.type("Open the garage door")
    front_end.wait_shown("Open the garage door?")
    if how == "text":
        front_end.type("yes")
    elif how == "voice":
        front_end.speak(UTTERANCES / "q02_time.wav", "Yes, please.")
    else:
        front_end.press(allow=True)
    front_end.wait(lambda: (tmp_path / "garage.txt").exists())
    front_end.wait(lambda: len(front_end.stored()) == 2 and bool(front_end.stored()[1][1]))
    calls = front_end.assistant.store.messages(front_end.assistant.store.latest_conversation().id)[
        1
    ].tool_calls
    assert [(c["name"], c["confirmed"]) for c in calls] == [("open_garage", True)]
    if isinstance(front_end, WindowDriver):  # the question's notice goes once it is answered
        front_end.wait(lambda: not any(k.startswith("confirm-") for k in front_end.window.notices.notices))


def test_stop_in_the_middle_of_an_answer(front_end: Driver):
    front_end.type("Tell me a long story.")
    front_end.wait_shown("Sentence 10 ")  # and the first sentences have been spoken meanwhile
    front_end.stop()
    front_end.wait(lambda: len(front_end.stored()) == 2)
    (_, said, complete) = front_end.stored()[1]
    assert not complete and said.startswith("Sentence 0 of") and len(said) < len(LONG)
    mark = "[stopped]" if front_end.name == "chat" else "[cut off]"
    front_end.wait_shown(mark)


def test_a_timer_rings(front_end: Driver):
    front_end.type("Set a timer for 1 second")
    front_end.wait_shown("Your 1 second timer is done.", timeout=20)
    if front_end.name == "listen":  # said aloud too
        front_end.wait(lambda: "Your 1 second timer is done." in front_end.tts.spoken)
    if isinstance(front_end, WindowDriver):  # and a chime played into the sink
        sink = front_end.window.bridge.session.sink.sink

        def chimed() -> bool:
            return any(abs(c.t_end - c.t_start - len(chime()) / 24_000) < 0.01 for c in sink.chunks)

        front_end.wait(chimed)


@needs("voice")
@configured({"voice": {"speculative_silence_ms": 100, "end_silence_ms": 1500}})
def test_an_early_answer_the_user_talks_on_over_is_taken_back(front_end: Driver):
    # "How far is the moon ... from the Earth?" with an 857 ms pause: the first part is a whole question,
    # answered at the short silence, and the user goes on. The end-of-turn silence is longer than the pause,
    # so going on is the same turn: the early answer is withdrawn, and only the whole question stays.
    front_end.hear = lambda audio: MOON_FIRST if len(audio) < 2.2 * 16_000 else MOON_WHOLE
    front_end.speak(PAUSES / "p16_how_far_is_the.wav", MOON_WHOLE)
    front_end.wait_shown(MOON_EARLY[:20])  # the early answer began
    front_end.wait_shown("About 384,000 kilometres.")
    whole = [("user", MOON_WHOLE, True), ("assistant", "About 384,000 kilometres.", True)]
    front_end.wait(lambda: front_end.stored() == whole)
    if isinstance(front_end, WindowDriver):  # the window shows the conversation as it is now
        now = f"user> {MOON_WHOLE}\nassistant> About 384,000 kilometres."
        front_end.wait(lambda: front_end.shown() == now)
    else:  # a terminal cannot take printed lines back: it says so
        assert "that answer is taken back" in front_end.shown()


# -- one case per behaviour through the real models and real audio ----------------------------------


@pytest.mark.slow
def test_real_spoken_turn_hands_free(request, tmp_path: Path, plugins: Path, engines):
    driver = open_front_end("listen", tmp_path, plugins, request, engines)
    driver.speak(UTTERANCES / "q01_capital.wav", "")
    driver.wait(lambda: len(driver.stored()) == 2 and driver.stored()[1][2], timeout=240)
    (_, question, _), (_, reply, _) = driver.stored()
    assert "capital of france" in question.lower() and "Paris" in reply
    assert f"you (spoken)> {question}" in driver.shown()


@pytest.mark.slow
def test_real_typed_turn_stopped_in_the_terminal(request, tmp_path: Path, plugins: Path, engines):
    driver = open_front_end("chat", tmp_path, plugins, request, engines)
    driver.type("Write the numbers from one to two hundred in words, separated by commas.")
    driver.wait(lambda: len(driver.shown()) > 60, timeout=240)
    driver.stop()
    driver.wait_shown("[stopped]", timeout=60)
    driver.wait(lambda: len(driver.stored()) == 2)
    assert driver.stored()[1][1] and not driver.stored()[1][2]


@pytest.mark.slow
def test_real_confirmation_by_button_in_the_window(request, tmp_path: Path, plugins: Path, engines):
    driver = open_front_end("window", tmp_path, plugins, request, engines)
    driver.type("Open the garage door.")
    driver.press(allow=True, timeout=240)
    driver.wait(lambda: (tmp_path / "garage.txt").exists(), timeout=240)
    driver.wait(lambda: len(driver.stored()) == 2, timeout=240)
    assert "garage" in driver.stored()[1][1].lower()
