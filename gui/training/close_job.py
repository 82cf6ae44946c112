"""Quitting (Ctrl+Q, the window's close button) while this window's run is going on: stop it and save, keep it
running in the background, or do not quit.

Every run the window starts is a process of its own, in its own process group, so leaving it running is safe:
it goes on writing its run folder, and the app (Runs tab, `layerscope --follow RUN`) follows it again later.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from core.runs import layout

STOP, LEAVE, CANCEL = "stop", "leave", "cancel"


def ask_about_running_job(parent: QWidget, run_dir: Path | None) -> str:
    """STOP, LEAVE or CANCEL, as the user chose (quitting with Ctrl+Q or the window's close button)."""
    where = f"is writing {run_dir}" if run_dir is not None else "is starting"
    box = QMessageBox(QMessageBox.Icon.Question, "Quit while a run is training?",
                      f"The run this window started {where}.", parent=parent)
    box.setInformativeText(f"Stop and save: it stops after its batch and saves {layout.LAST}, to resume later.\n"
                           "Keep running in the background: it goes on in its own process; follow it again later "
                           "from the Runs tab or with layerscope --follow.")
    stop = box.addButton("Stop and save", QMessageBox.ButtonRole.DestructiveRole)
    leave = box.addButton("Keep running in the background", QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    return {id(stop): STOP, id(leave): LEAVE}.get(id(box.clickedButton()), CANCEL)


def close_with_job(controller, choice: str) -> bool:
    """Carry out the choice; True when the window may close."""
    if choice == CANCEL:
        return False
    if choice == LEAVE:
        controller.leave()
        return True
    controller.shutdown()  # STOP: signal the run and wait for it to save and exit
    return True
