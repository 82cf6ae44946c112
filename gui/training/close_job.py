"""Closing the window while a multi-process job runs: stop it, leave it running, or do not close.

The job is its own process group, so leaving it running is safe: it goes on writing its run folder, and the
app (Runs tab, `layerscope --follow RUN`) follows it again later.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from core.runs import layout

STOP, LEAVE, CANCEL = "stop", "leave", "cancel"


def ask_about_running_job(parent: QWidget, run_dir: Path) -> str:
    """STOP, LEAVE or CANCEL, as the user chose."""
    box = QMessageBox(QMessageBox.Icon.Question, "A training job is running",
                      f"A multi-process run is writing {run_dir}.", parent=parent)
    box.setInformativeText(f"Stop it (every process stops after its batch; {layout.LAST} is saved), or leave it running "
                           "and follow it again later from the Runs tab or with layerscope --follow.")
    stop = box.addButton("Stop the job", QMessageBox.ButtonRole.DestructiveRole)
    leave = box.addButton("Leave it running", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.exec()
    return {id(stop): STOP, id(leave): LEAVE}.get(id(box.clickedButton()), CANCEL)


def close_with_job(controller, choice: str) -> bool:
    """Carry out the choice; True when the window may close."""
    if choice == CANCEL:
        return False
    if choice == LEAVE:
        controller.leave_job()
        return True
    controller.shutdown()  # STOP: signal every process and wait for the job to save and exit
    return True
