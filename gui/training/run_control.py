"""Writes a run's RUN/control.json (core.runs.control: pause, go on, stop, a live-weights snapshot) off the GUI
thread.

One task of its own, apart from the polls: a press is written at once even while a poll runs, and of quick
presses that have not started yet only the latest is written (BackgroundTask's generation scheme). Each write
holds the whole of what the window asks (the file is one state, not a queue of commands)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from gui.concurrent import BackgroundTask


class RunControl(QObject):
    message = Signal(str, str)  # (level, text): a control file that could not be written

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._task = BackgroundTask(self, imports=())
        self._task.failed.connect(lambda text: self.message.emit("error", f"Could not write the control file: {text}"))

    def send(self, run_dir: str | Path, *, pause: bool | None, stop: bool = False, snapshot: int | None = None,
             lease_s: float | None = None) -> None:
        def write(_ctx):
            from core.runs.control import who_asks, write_control

            # `by`: the run says who paused it (its log, the CLI's console)
            write_control(run_dir, pause=pause, stop=stop, snapshot=snapshot, lease_s=lease_s,
                          by=f"the Layerscope window, {who_asks()}")

        self._task.submit(write)

    def shutdown(self, finish_writes: bool = False) -> None:
        """finish_writes: wait for the writes asked for (the last word to a run: a pause released) first."""
        if finish_writes:
            self._task.wait(5_000)
        self._task.shutdown()  # a write in progress finishes
