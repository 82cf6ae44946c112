"""How the main window takes in the Evaluate tab; kept here so the window stays a composition. Its connections
to other tabs (an image to Inspect, a fine-tune run to Train, the current run) are in gui/window/wiring.py.

    self.evaluate_tab = install_evaluate_tab(self)     # in MainWindow.__init__, after the other tabs
    self.evaluate_tab.shutdown()                       # in MainWindow.closeEvent
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from gui.evaluate.export_dialog import ExportDialog
from gui.evaluate.tab import EvaluateTab


def install_evaluate_tab(window) -> tuple[EvaluateTab, QAction]:
    """The Evaluate tab and File > Export Model… (returned for the window to keep), the tab's requests to the
    window (the log, message boxes) and the run settings' folder dataset for its Label issues page."""
    tab = EvaluateTab(window.hub, window)
    window.tabs.addTab(tab, "Evaluate")
    tab.message.connect(window.log.append)
    tab.set_dataset(_folder_dataset(window))
    window.run_settings.changed.connect(lambda key, value: key == "dataset" and tab.set_dataset(_folder_dataset(window)))
    action = QAction("Export &Model…", window)
    action.setToolTip("Export the current model as ONNX, a torch.export program (.pt2) or TorchScript, verified")
    action.triggered.connect(lambda: choose_export(window, tab))
    window.file_groups.add("save", action)  # with Save Checkpoint As…, above Quit
    tab.exported.connect(lambda report: _exported(window, report))
    tab.exportFailed.connect(lambda text: (window.log.append("error", f"Export failed: {text}"),
                                           window.show_message(QMessageBox.Icon.Warning, "Export failed", text)))
    return tab, action


def show_evaluation(window, folder: str) -> None:
    """`layerscope --evaluation DIR`: the Evaluate tab showing a saved evaluation (read off the GUI thread)."""
    window.tabs.setCurrentWidget(window.evaluate_tab)
    window.evaluate_tab.show_evaluation(folder)


def _folder_dataset(window) -> str:
    name = str(window.run_settings.get("dataset") or "")
    return name if name and Path(name).expanduser().is_dir() else ""


def choose_export(window, tab: EvaluateTab) -> None:
    ckpt = window.hub.current()
    if ckpt is None:
        window.show_message(QMessageBox.Icon.Information, "Export model", "There is no model to export: train one "
                            "or open a checkpoint first.")
        return
    start = window.app_settings.value("paths/checkpoint_dir", str(Path.home()))
    dialog = window.export_dialog = ExportDialog(ckpt.model_spec.name, start, window)
    dialog.setModal(True)

    def export() -> None:
        fmt, out = dialog.format(), dialog.out_path()
        window.log.append("info", f"Exporting the current model as {fmt} to {out} (verified after writing)…")
        tab.export_model(ckpt, fmt, out)
    dialog.accepted.connect(export)
    dialog.open()


def _exported(window, report) -> None:
    text = report.format_text()
    window.log.append("info", text)
    window.show_message(QMessageBox.Icon.Information, "Model exported", text)
