"""An inline message strip at the top of the panel: what went wrong (or what to do next) in plain words,
with optional action buttons ("Train a model", "Open checkpoint..."). Hidden when there is nothing to say."""
from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

_STYLES = {
    "info": "background:#e8f1fd; border:1px solid #9cc0f0; color:#1d3b66;",
    "warning": "background:#fff4e0; border:1px solid #f0c070; color:#5a3d00;",
    "error": "background:#fde8e8; border:1px solid #f09c9c; color:#661d1d;",
}


class Banner(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("inspectorBanner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(self._label.textInteractionFlags())
        layout.addWidget(self._label, 1)
        self._actions_layout = QHBoxLayout()
        layout.addLayout(self._actions_layout)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout.addWidget(close)
        self._buttons: list[QPushButton] = []
        self.level = ""
        self.hide()

    def show_message(self, level: str, text: str, actions: list[tuple[str, Callable[[], None]]] = ()) -> None:
        self.level = level
        self.setStyleSheet(f"#inspectorBanner {{{_STYLES.get(level, _STYLES['info'])} border-radius:4px;}}")
        self._label.setText(text)
        for button in self._buttons:
            button.deleteLater()
        self._buttons = []
        for title, callback in actions:
            button = QPushButton(title)
            button.clicked.connect(callback)
            self._actions_layout.addWidget(button)
            self._buttons.append(button)
        self.show()

    def clear(self) -> None:
        self.level = ""
        self._label.clear()
        self.hide()

    def text(self) -> str:
        return self._label.text() if self.isVisible() or self.level else ""

    def action_titles(self) -> list[str]:
        return [b.text() for b in self._buttons]

    def trigger(self, title: str) -> None:
        """Press the action button called `title` (menus and tests use it)."""
        for button in self._buttons:
            if button.text() == title:
                button.click()
                return
        raise KeyError(title)
