"""The Train tab's form: the settings it owns (Training: epochs, batch size, learning rate, optimizer, ...;
Insight; Advanced, collapsed: loader workers, mixed precision, compile, checkpoint interval, heartbeat,
momentum, ...: every train setting of core.catalog.TRAIN_OPTIONS), the dataset and model it only shows (the
Data and Model tabs own them), and the Train / Pause / Stop actions.

The user's fields (gui/training/settings_fields.py) are bound to the window's RunSettingsModel; while a run
folder is followed, that run's settings (its config.json) show read-only in their place, under a banner.
The form is disabled until the engine has loaded (`set_engine_ready`).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.runs.layout import CONFIG, LAST
from gui.run_settings_model import FORM_KEYS, RunSettingsModel, SettingsError, default_values, values_from_config
from gui.training.settings_fields import FIELD_NAMES, SettingsFields

__all__ = ["SettingsError", "TrainingPanel", "default_form_values"]


FIELDS_MINIMUM_PX = 200  # the least room the settings fields keep before they scroll


class FittingScrollArea(QScrollArea):
    """The settings fields, as tall as they are while there is room and scrolling when there is not, so an
    opened Advanced group never pushes the Train button and the progress out of the window. The window keeps
    room for `minimum_height()` (the fields with Advanced closed, as before the group existed)."""

    def __init__(self, content: QWidget, minimum_height, parent: QWidget | None = None):
        super().__init__(parent)
        self._minimum_height = minimum_height
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        content.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # the content grew or shrank: ask the panel's layout again
        return super().eventFilter(watched, event)

    def _width(self) -> int:
        return self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()

    def sizeHint(self) -> QSize:
        return QSize(self._width(), self.widget().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width(), self._minimum_height())

    def show_section(self, section: QWidget) -> None:
        """Scroll a section that has just opened into view (after the layout has placed it)."""
        QTimer.singleShot(0, lambda: self.ensureWidgetVisible(section, 0, 0))


def _action(parent, text: str, shortcut: str, tip: str, *more: str) -> QAction:
    action = QAction(text, parent)
    action.setShortcuts([QKeySequence(k) for k in (shortcut, *more)])
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    native = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({native})")
    return action


class TrainingPanel(QWidget):
    trainRequested = Signal()
    findLrRequested = Signal()  # "Find learning rate…": a range test on these settings
    pauseToggled = Signal()
    stopRequested = Signal()
    resumeRunRequested = Signal()  # "Resume Run": go on with the stopped or interrupted run shown
    ownerRequested = Signal(str)  # "data" or "model": show the tab that owns a value shown here
    stopFollowingRequested = Signal()  # the banner's "stop following" link

    def __init__(self, settings: RunSettingsModel | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings = settings if settings is not None else RunSettingsModel(parent=self)
        self._engine_ready = False
        self._state = "idle"

        self.train_action = _action(self, "&Train", "Ctrl+Return", "Start training with these settings",
                                    "Ctrl+Enter")  # the keypad's Enter too
        self.pause_action = _action(self, "&Pause", "Ctrl+P", "Pause or resume the run")
        self.stop_action = _action(self, "&Stop", "Ctrl+.", f"Stop the run and save {LAST}")
        self.find_lr_action = QAction("Find Learning Rate…", self)
        self.find_lr_action.setIconText("Find…")
        self.find_lr_action.setToolTip("Run a learning-rate range test on these settings and pick the learning rate "
                                       "on its loss curve")
        self.find_lr_action.triggered.connect(self.findLrRequested)
        self.resume_run_action = QAction(f"Resume run from {LAST}", self)
        self.train_action.triggered.connect(self.trainRequested)
        self.pause_action.triggered.connect(self.pauseToggled)
        self.stop_action.triggered.connect(self.stopRequested)
        self.resume_run_action.triggered.connect(self.resumeRunRequested)
        self._resume_offered = False

        # The user's own settings, bound to the window's shared model (the fields under their own names here).
        self.own_fields = SettingsFields(self.settings, find_lr_action=self.find_lr_action)
        self.own_fields.ownerRequested.connect(self.ownerRequested)
        for name in FIELD_NAMES:
            setattr(self, name, getattr(self.own_fields, name))
        # A followed run's settings are shown in a second, read-only set of fields bound to a private model,
        # never written into the shared one: the other tabs and the user's typing are untouched, and ending
        # the follow only switches back (nothing to snapshot or restore). Made on the first follow.
        self.followed_fields: SettingsFields | None = None
        self.followed_run = ""  # the followed run's folder name while following, else ""
        self.follow_banner = QLabel()
        self.follow_banner.setObjectName("followBanner")
        self.follow_banner.setWordWrap(True)
        self.follow_banner.setTextFormat(Qt.TextFormat.RichText)
        self.follow_banner.linkActivated.connect(lambda _href: self.stopFollowingRequested.emit())
        self.follow_banner.hide()
        self.followed_note = QLabel()  # instead of the fields while the run has no readable config.json
        self.followed_note.setWordWrap(True)
        self.followed_note.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.forms = QStackedWidget()
        self.forms.addWidget(self.own_fields)
        self.forms.addWidget(self.followed_note)

        self.train_button = self._button(self.train_action, "trainButton")
        self.pause_button = self._button(self.pause_action, "pauseButton")
        self.stop_button = self._button(self.stop_action, "stopButton")
        buttons = QHBoxLayout()
        for b in (self.train_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        # Shown only while the tab shows a run that can go on from its last.pt (stopped, interrupted, failed).
        self.resume_run_button = self._button(self.resume_run_action, "resumeRunButton")
        self.resume_run_button.hide()

        layout = QVBoxLayout(self)
        layout.addWidget(self.follow_banner)
        self.fields_scroll = FittingScrollArea(self.forms, self._fields_height_closed)
        self._show_advanced_when_opened(self.own_fields)
        layout.addWidget(self.fields_scroll)
        layout.addLayout(buttons)
        layout.addWidget(self.resume_run_button)
        self.progress_slot = QVBoxLayout()  # the main window puts the progress panel here
        layout.addLayout(self.progress_slot)
        layout.addStretch(1)
        self._train_tip = self.train_action.toolTip()
        self._update_enabled()

    @staticmethod
    def _button(action: QAction, name: str) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setObjectName(name)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        button.setMinimumHeight(30)
        return button

    def _show_advanced_when_opened(self, fields: SettingsFields) -> None:
        fields.advanced.header.toggled.connect(
            lambda open_: self.fields_scroll.show_section(fields.advanced) if open_ else None)

    def _fields_height_closed(self) -> int:
        """The height of the fields on show, less an opened Advanced group, but no more than
        FIELDS_MINIMUM_PX: on a short screen (a 768 or 900 px laptop) the fields scroll and the window fits,
        rather than the window asking for more room than the screen has and losing its bottom edge."""
        page = self.forms.currentWidget()
        height = page.sizeHint().height()
        if isinstance(page, SettingsFields) and page.advanced.is_open():
            height -= page.advanced.content.sizeHint().height() + page.advanced.layout().spacing()
        return min(height, FIELDS_MINIMUM_PX)

    # ---- engine and state ----------------------------------------------------------------------------
    def set_engine_ready(self, ready: bool = True) -> None:
        """Train and the fields enable once PyTorch has loaded."""
        self._engine_ready = ready
        self._update_enabled()

    def set_state(self, state: str) -> None:
        self._state = state
        self._update_enabled()

    def _update_enabled(self) -> None:
        idle = self._state == "idle"
        # While a followed run's settings show, Train would run other settings than the ones on screen.
        self.train_action.setEnabled(self._engine_ready and idle and not self.followed_run)
        self.train_action.setToolTip("Stop following first: Train runs your own settings" if self.followed_run
                                     else self._train_tip)
        self.pause_action.setEnabled(self._state in ("running", "paused"))  # a multi-process job too
        self.pause_action.setText("&Resume" if self._state == "paused" else "&Pause")
        self.stop_action.setEnabled(self._state in ("starting", "running", "paused"))  # starting: its process loads
        self.find_lr_action.setEnabled(self._engine_ready and not self.followed_run)
        self.resume_run_action.setEnabled(self._engine_ready and idle and self._resume_offered)
        self.resume_run_button.setVisible(idle and self._resume_offered)
        self.own_fields.set_editable(self._engine_ready and idle)

    def offer_resume(self, why: str) -> None:
        """Show "Resume run from last.pt" for the run shown, `why` its tooltip (what happened to it, what Resume
        does); "" withdraws it."""
        self._resume_offered = bool(why)
        self.resume_run_action.setToolTip(why)
        self._update_enabled()

    # ---- a followed run ------------------------------------------------------------------------------
    def show_followed_settings(self, run: str, config) -> None:
        """Show the settings of the followed run `run` (a folder name), read-only, instead of the user's:
        `config` is its config.json (a dict), None while it has none yet, or a text saying why it cannot be read."""
        from html import escape

        self.followed_run = run
        self.follow_banner.setText(f"Following <b>{escape(run)}</b> — settings of that run "
                                   "&nbsp;<a href='stop'>Stop following</a>")
        self.follow_banner.show()
        if isinstance(config, dict):
            fields = self._followed_fields()
            fields.settings.update(default_values())  # a key the run did not record shows the default
            skipped = []
            for key, value in values_from_config(config).items():
                try:
                    fields.settings.set(key, value)
                except (TypeError, ValueError):
                    skipped.append(key)
            fields.setToolTip(f"Not readable in its {CONFIG}: {', '.join(skipped)} (shown as the default)"
                              if skipped else "")
            self.forms.setCurrentWidget(fields)
        else:
            self.followed_note.setText(config if isinstance(config, str) else
                                       f"Its settings show once the run writes its {CONFIG}.")
            self.forms.setCurrentWidget(self.followed_note)
        self._update_enabled()

    def show_own_settings(self) -> None:
        """Following ended: the user's own settings (never touched meanwhile) are back, editable."""
        self.followed_run = ""
        self.follow_banner.hide()
        self.forms.setCurrentWidget(self.own_fields)
        self._update_enabled()

    def shown_fields(self) -> SettingsFields | None:
        """The fields on screen: the user's own, a followed run's, or None (a followed run without settings)."""
        current = self.forms.currentWidget()
        return current if isinstance(current, SettingsFields) else None

    def _followed_fields(self) -> SettingsFields:
        if self.followed_fields is None:
            self.followed_fields = SettingsFields(RunSettingsModel(parent=self))
            self.followed_fields.set_read_only()
            self._show_advanced_when_opened(self.followed_fields)
            self.forms.addWidget(self.followed_fields)
        return self.followed_fields

    # ---- values --------------------------------------------------------------------------------------
    def values(self) -> dict:
        """The run's remembered form values (the dataset and model too, which other tabs own)."""
        return self.settings.values(FORM_KEYS)

    def set_values(self, values: dict) -> None:
        """Apply the keys given to the run's settings; unusable values are skipped."""
        self.settings.update(values)

    def run_settings(self):
        """The run's settings as core's RunSettings. Raises SettingsError naming a bad field."""
        return self.settings.build()


def default_form_values() -> dict:
    """The form's defaults (core.catalog's)."""
    return {k: v for k, v in default_values().items() if k in FORM_KEYS}
