"""The tray icon (where the desktop has a tray): show/hide the window, mute the microphone, quit."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget


class Tray(QObject):
    muteToggled = Signal(bool)
    quitRequested = Signal()

    def __init__(self, window: QWidget, icon: QIcon) -> None:
        super().__init__(window)
        self.window = window
        self.icon = QSystemTrayIcon(icon, self)
        self.icon.setToolTip("Sori")
        menu = QMenu(window)
        self.show_action = QAction("Hide Sori", menu)
        self.show_action.triggered.connect(self.toggle_window)
        self.mute_action = QAction("Mute microphone", menu, checkable=True)
        self.mute_action.toggled.connect(self.muteToggled)
        quit_action = QAction("Quit", menu)
        quit_action.triggered.connect(self.quitRequested)
        for action in (self.show_action, self.mute_action, quit_action):
            menu.addAction(action)
        self.menu = menu
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._activated)
        self.icon.show()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
        self.update_labels()

    def update_labels(self) -> None:
        self.show_action.setText("Hide Sori" if self.window.isVisible() else "Show Sori")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()
