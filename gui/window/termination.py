"""SIGTERM and SIGINT to the app (a logout, `kill PID`, Ctrl+C in the terminal that started it): quit cleanly.

The window closes as for a logout, without asking: the run this window started stops after its batch and saves
last.pt and its final record (a run the user chose to keep running in the background is not this window's any
more, and goes on); the app then exits with 128 + the signal, as the CLI does.

Python runs a signal handler only when the interpreter gets control, and Qt's event loop is C++: the handler is
woken through `signal.set_wakeup_fd`, whose byte a QSocketNotifier hears, so it runs within one turn of the
event loop. The handler only notes the signal and schedules the close. A second signal while the window closes
changes nothing (closing waits for the run's save, a bounded time).
"""
from __future__ import annotations

import signal
import socket

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Slot

from core.exit_codes import for_signal
from core.io.signals import HANDLED_SIGNALS


class QuitOnSignals(QObject):
    """Installed on the main thread for the app's lifetime (`install`, then `restore` after the event loop)."""

    def __init__(self, window, parent: QObject | None = None):
        super().__init__(parent)
        self.window = window
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)

    @property
    def exit_code(self) -> int | None:
        return for_signal(self.signum) if self.signum is not None else None

    def install(self) -> "QuitOnSignals":
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for sig in HANDLED_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        signal.set_wakeup_fd(self._previous_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()

    def _handle(self, signum, _frame) -> None:
        if self.signum is not None:
            return  # already closing
        self.signum = signum
        QTimer.singleShot(0, self._quit)

    @Slot()
    def _drain(self) -> None:
        """The wakeup byte: reading it is enough (the Python handler runs as this slot is entered)."""
        try:
            while self._reader.recv(64):
                pass
        except OSError:  # BlockingIOError: drained
            pass

    @Slot()
    def _quit(self) -> None:
        name = signal.Signals(self.signum).name
        self.window.log.append("info", f"{name}: closing; this window's run stops after its batch and saves")
        self.window.terminate()
