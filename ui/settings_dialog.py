"""Settings: models, voice and audio, plugins. Saving validates, then the bridge writes the TOML config."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from assistant import models
from assistant.config import Settings, apply_overrides
from assistant.errors import SoriError
from ui import theme
from ui.bridge import Bridge

_CHOOSE = "\x00choose"  # item data of the "Choose…" entry
_CHOOSE_FOLDER = "\x00folder"  # the voice's second picker: a sherpa-onnx model folder
_PICKERS = {
    "stt": ("folder", ""),
    "llm": ("file", "GGUF models (*.gguf)"),
    "tts": ("file", "Piper voices (*.onnx)"),
}


def _named(widget: QWidget, name: str, tip: str) -> QWidget:
    widget.setAccessibleName(name)
    widget.setToolTip(tip)
    return widget


class ModelCombo(QComboBox):
    """The profile's model, the catalog's models for this role, a chosen file, and "Choose…"."""

    def __init__(
        self, role: str, value: str, profile: str, parent: QWidget | None = None, *, choices=None
    ) -> None:
        super().__init__(parent)
        self.role = role
        default = models.profile_models(profile).get(role, "")  # type: ignore[call-overload]
        self.addItem(f"Profile default ({default})", "")
        if choices is not None:  # voices: catalog, cloned and sherpa-onnx ones, each usable or not
            for c in choices:
                self.addItem(c.label if c.usable else f"{c.label} (not usable)", c.value)
                self.setItemData(self.count() - 1, c.detail, Qt.ItemDataRole.ToolTipRole)
        for model_id, m in models.catalog().items():
            if m.role == role and choices is None:
                self.addItem(f"{model_id} — {m.description}", model_id)
                self.setItemData(self.count() - 1, m.description, Qt.ItemDataRole.ToolTipRole)
        if value and self.findData(value) < 0:
            self.addItem(value, value)
        self.addItem("Choose a " + ("folder…" if _PICKERS[role][0] == "folder" else "file…"), _CHOOSE)
        if role == "tts":
            self.addItem("Choose a sherpa-onnx model folder…", _CHOOSE_FOLDER)
        self.setCurrentIndex(max(0, self.findData(value)))
        self._last = self.currentIndex()
        self.activated.connect(self._maybe_choose)

    def value(self) -> str:
        return str(self.currentData() or "")

    def _maybe_choose(self, index: int) -> None:
        if self.itemData(index) not in (_CHOOSE, _CHOOSE_FOLDER):
            self._last = index
            return
        kind, pattern = _PICKERS[self.role]
        if self.itemData(index) == _CHOOSE_FOLDER:
            path = QFileDialog.getExistingDirectory(self, "Choose a sherpa-onnx model folder")
        elif kind == "folder":
            path = QFileDialog.getExistingDirectory(self, "Choose a CTranslate2 Whisper folder")
        else:
            path = QFileDialog.getOpenFileName(self, "Choose a model file", "", pattern)[0]
        if not path:
            self.setCurrentIndex(self._last)
            return
        first_picker = self.findData(_CHOOSE)
        self.insertItem(first_picker, path, path)
        self.setCurrentIndex(first_picker)
        self._last = self.currentIndex()


class SettingsDialog(QDialog):
    """Edits a copy of the settings; `saved` carries the validated result and the speak-replies choice."""

    saved = Signal(object, bool)  # Settings, speak replies

    def __init__(
        self, settings: Settings, speak_replies: bool, bridge: Bridge, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowTitle("Sori settings")
        self.setAccessibleName("Sori settings")
        self.settings = settings
        self.bridge = bridge
        s = settings
        tabs = QTabWidget(self)
        tabs.setAccessibleName("Settings sections")

        # Models
        self.stt = _named(
            ModelCombo("stt", s.stt.model, s.profile),
            "Speech recognition model",
            "The Whisper model that turns speech into text",
        )
        self.llm = _named(
            ModelCombo("llm", s.llm.model, s.profile),
            "Chat model",
            "The language model that writes the answers (any GGUF chat model)",
        )
        self.gpu = _named(QSpinBox(), "GPU layers", "Layers of the chat model run on the GPU; 0 = CPU only")
        self.gpu.setRange(-1, 999)
        self.gpu.setSpecialValueText("all (when this build can)")
        self.gpu.setValue(s.llm.n_gpu_layers)
        form = QFormLayout()
        form.addRow("Speech recognition", self.stt)
        form.addRow("Chat model", self.llm)
        form.addRow("GPU layers", self.gpu)
        form.addRow(QLabel("Model changes take effect when Sori starts again."))
        tabs.addTab(self._page(form), "Models")

        # Voice and audio
        from assistant.tts.select import available_voices

        self.voice = _named(
            ModelCombo("tts", s.tts.voice, s.profile, choices=available_voices(s)),
            "Voice",
            "Sori's voice: hibari, a Piper voice, a sherpa-onnx model or a cloned voice; used from the next "
            "sentence on",
        )
        self.rate = _named(QDoubleSpinBox(), "Speaking rate", "1.0 is normal; higher is faster")
        self.rate.setRange(0.5, 2.0)
        self.rate.setSingleStep(0.1)
        self.rate.setValue(s.tts.speaking_rate)
        self.speak = _named(QCheckBox("Speak replies"), "Speak replies", "Say typed answers out loud too")
        self.speak.setChecked(speak_replies)
        self.input_device = _named(QComboBox(), "Input device", "The microphone Sori listens to")
        self.output_device = _named(QComboBox(), "Output device", "The speaker Sori talks through")
        for combo, current in (
            (self.input_device, s.audio.input_device),
            (self.output_device, s.audio.output_device),
        ):
            combo.addItem("System default", "")
            if current != "":
                combo.addItem(str(current), current)
                combo.setCurrentIndex(1)
        self.vad = _named(
            QSpinBox(),
            "Noise filtering",
            "How strictly sound must look like speech: 0 hears most, 3 ignores most noise",
        )
        self.vad.setRange(0, 3)
        self.vad.setValue(s.voice.vad_aggressiveness)
        self.silence = _named(
            QSpinBox(), "End-of-turn silence", "How long a pause ends your turn; shorter answers sooner"
        )
        self.silence.setRange(200, 5000)
        self.silence.setSingleStep(50)
        self.silence.setSuffix(" ms")
        self.silence.setValue(s.voice.end_silence_ms)
        self.barge_in = _named(
            QCheckBox("Interrupt Sori by talking (barge-in)"),
            "Barge-in",
            "Turn off when Sori hears itself through loudspeakers",
        )
        self.barge_in.setChecked(s.voice.barge_in)
        form = QFormLayout()
        form.addRow("Voice", self.voice)
        form.addRow("Speaking rate", self.rate)
        form.addRow("", self.speak)
        form.addRow("Input device", self.input_device)
        form.addRow("Output device", self.output_device)
        form.addRow("Noise filtering", self.vad)
        form.addRow("End-of-turn silence", self.silence)
        form.addRow("", self.barge_in)
        tabs.addTab(self._page(form), "Voice and audio")

        # Plugins
        self.tools_on = _named(
            QCheckBox("Let Sori use tools"),
            "Use tools",
            "Allow the model to call the built-in tools and your plugins",
        )
        self.tools_on.setChecked(s.plugins.enabled)
        self.plugins = _named(QListWidget(), "Plugins", "Tools Sori can use, and plugin files that failed")
        # Long descriptions are cut to the dialog's width; the tooltip has all of it.
        self.plugins.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plugins.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.open_folder = _named(QPushButton("Open folder"), "Open plugin folder", "Show your plugin folder")
        self.reload = _named(QPushButton("Reload"), "Reload plugins", "Load the plugin files again")
        self.open_folder.clicked.connect(self._open_folder)
        self.reload.clicked.connect(lambda: bridge.list_plugins(reload=True))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder)
        buttons.addWidget(self.reload)
        buttons.addStretch(1)
        box = QVBoxLayout()
        box.addWidget(self.tools_on)
        box.addWidget(self.plugins, 1)
        box.addLayout(buttons)
        tabs.addTab(self._page(box), "Plugins")

        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.ERROR_RED.name()};")
        self.error.setVisible(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        for button, tip in (
            (QDialogButtonBox.StandardButton.Save, "Save to the config file"),
            (QDialogButtonBox.StandardButton.Cancel, "Close without saving"),
        ):
            widget = self.buttons.button(button)
            _named(widget, widget.text().replace("&", ""), tip)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(560, 440)

        q = Qt.ConnectionType.QueuedConnection
        bridge.pluginsListed.connect(self.show_plugins, q)
        bridge.devicesListed.connect(self.show_devices, q)
        bridge.list_plugins()
        bridge.list_devices()

    @staticmethod
    def _page(layout) -> QWidget:
        page = QWidget()
        page.setLayout(layout)
        return page

    def show_plugins(self, tools: list, errors: list) -> None:
        self.plugins.clear()
        for name, description, source in tools:
            item = QListWidgetItem(f"{name} — {description}" if description else name)
            item.setToolTip(f"{description}\n{source}" if description else source)
            self.plugins.addItem(item)
        for error in errors:
            item = QListWidgetItem(f"⚠ {error}")
            item.setForeground(theme.ERROR_RED)
            item.setToolTip(str(error))
            self.plugins.addItem(item)
        if not tools and not errors:
            self.plugins.addItem("No plugins yet: put a plugin file in the plugin folder, then Reload.")

    def show_devices(self, devices: list, error: str) -> None:
        for combo, attr in ((self.input_device, "inputs"), (self.output_device, "outputs")):
            current = combo.currentData()
            for d in devices:
                if getattr(d, attr) > 0 and combo.findData(d.name) < 0:
                    combo.addItem(f"{d.name} ({getattr(d, attr)} ch)", d.name)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            if error:
                combo.setToolTip(f"{combo.toolTip()} ({error})")

    def _open_folder(self) -> None:
        from assistant import paths

        folder = Path(paths.plugins_dir())
        folder.mkdir(parents=True, exist_ok=True)  # a single mkdir: the user asked to see it now
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def values(self) -> dict[str, object]:
        return {
            "stt.model": self.stt.value(),
            "llm.model": self.llm.value(),
            "llm.n_gpu_layers": self.gpu.value(),
            "tts.voice": self.voice.value(),
            "tts.speaking_rate": round(self.rate.value(), 2),
            "audio.input_device": self.input_device.currentData() or "",
            "audio.output_device": self.output_device.currentData() or "",
            "voice.vad_aggressiveness": self.vad.value(),
            "voice.end_silence_ms": self.silence.value(),
            "voice.barge_in": self.barge_in.isChecked(),
            "plugins.enabled": self.tools_on.isChecked(),
        }

    def _save(self) -> None:
        try:
            new = apply_overrides(self.settings, **self.values())
        except SoriError as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            return
        self.saved.emit(new, self.speak.isChecked())
        self.accept()
