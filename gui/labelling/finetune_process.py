"""Fine-tune with the new labels: `layerscope train --finetune-from CKPT` in a child process (the same
warm start as the Evaluate tab's fine-tune), followed by QProcess; `finished(run_dir, ok, message)`."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal


class FinetuneProcess(QObject):
    finished = Signal(str, bool, str)  # run folder, ok, the last lines of its output when it failed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.process: QProcess | None = None
        self.run_dir = ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self, checkpoint: str, run_dir: Path, epochs: int = 2) -> None:
        self.run_dir = str(run_dir)
        process = self.process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.setWorkingDirectory(str(Path(__file__).resolve().parents[2]))
        process.finished.connect(self._done)
        process.start(sys.executable, ["-m", "core.cli", "train", "--finetune-from", str(checkpoint),
                                       "--epochs", str(epochs), "--out", self.run_dir, "--quiet"])

    def _done(self, code: int, _status) -> None:
        output = bytes(self.process.readAll()).decode("utf-8", "replace")
        tail = "\n".join(output.strip().splitlines()[-4:])
        self.finished.emit(self.run_dir, code == 0, "" if code == 0 else tail)

    def stop(self) -> None:
        if self.running:
            self.process.kill()
            self.process.waitForFinished(5000)
