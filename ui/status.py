"""The status bar: what Sori is doing, model loading progress, model names, the last turn's latency."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

STATE_TEXT = {
    "ready": "Ready",
    "listening": "Listening",
    "hearing": "Hearing you…",
    "transcribing": "Transcribing…",
    "thinking": "Thinking…",
    "speaking": "Speaking…",
}
_ROLE_NAMES = {"stt": "speech", "llm": "chat", "tts": "voice"}


class StatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Status")
        self.state = QLabel("Starting…", self)
        self.state.setAccessibleName("State")
        self.state.setToolTip("What Sori is doing now")
        self.progress = QProgressBar(self)
        self.progress.setMaximumWidth(140)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Model loading progress")
        self.progress.setToolTip("Loading the models in the background; you can type meanwhile")
        self.models = QLabel(self)
        self.models.setAccessibleName("Models")
        self.models.setToolTip("The models in use")
        self.latency = QLabel(self)
        self.latency.setAccessibleName("Latency")
        self.latency.setToolTip("Last spoken turn: from the end of your speech to Sori's first sound")
        self.audio = QLabel(self)
        self.audio.setAccessibleName("Audio output")
        self.audio.setVisible(False)
        self.addWidget(self.state)
        self.addWidget(self.progress)
        self.addPermanentWidget(self.audio)
        self.addPermanentWidget(self.latency)
        self.addPermanentWidget(self.models)
        self.names: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.loading = True

    def set_progress(self, done: int, total: int, label: str) -> None:
        self.loading = done < total
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setVisible(self.loading)
        if self.loading:
            self.state.setText(f"Loading models {done + 1}/{total}: {label}…")

    def set_state(self, state: str) -> None:
        if not self.loading or state not in ("ready",):
            self.state.setText(STATE_TEXT.get(state, state.capitalize()))

    def set_model(self, role: str, name: str, ok: bool = True) -> None:
        (self.names if ok else self.failed)[role] = name
        parts = []
        for key in ("stt", "llm", "tts"):
            if key in self.names:
                parts.append(self.names[key])
            elif key in self.failed:
                parts.append(f"no {_ROLE_NAMES[key]}")
        self.models.setText("  ·  ".join(parts))
        tips = [f"{_ROLE_NAMES[k]}: {self.names[k]}" for k in ("stt", "llm", "tts") if k in self.names]
        tips += [f"{_ROLE_NAMES[k]}: not loaded ({why})" for k, why in self.failed.items()]
        self.models.setToolTip("\n".join(tips))

    def set_latency(self, ms: float | None, spoken: bool) -> None:
        if ms is None:
            return
        what = "voice → first audio" if spoken else "text → first audio"
        self.latency.setText(f"{what}: {ms / 1000:.2f} s")

    def set_audio_output(self, ok: bool, why: str) -> None:
        self.audio.setVisible(not ok)
        self.audio.setText("no speaker")
        self.audio.setToolTip(f"Replies are not spoken: {why}")
