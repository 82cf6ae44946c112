"""How the main window takes in the Evaluate tab; kept here so the window stays a composition.

    self.evaluate_tab = install_evaluate_tab(self)     # in MainWindow.__init__, after the other tabs
    self.evaluate_tab.shutdown()                       # in MainWindow.closeEvent
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from gui.evaluate.tab import EvaluateTab

EXPORT_FORMATS = {"onnx": ".onnx", "pt2": ".pt2", "torchscript": ".pt"}  # core.evaluate.export.FORMATS (torch-free copy)


def install_evaluate_tab(window) -> tuple[EvaluateTab, QAction]:
    """The Evaluate tab and File > Export Model… (returned for the window to keep), the tab's requests wired to
    the window."""
    tab = EvaluateTab(window.hub, window)
    window.tabs.addTab(tab, "Evaluate")
    tab.evaluate_page.run_dir_provider = lambda: window.controller.run_dir
    tab.message.connect(window.log.append)
    tab.inspectRequested.connect(lambda file, true, predicted: inspect_image(window, file, true, predicted))
    tab.finetuneRequested.connect(lambda settings, checkpoint: start_finetune(window, settings, checkpoint))
    tab.issues.set_dataset(_folder_dataset(window))
    window.run_settings.changed.connect(lambda key, value: key == "dataset" and tab.issues.set_dataset(_folder_dataset(window)))
    action = QAction("Export &Model…", window)
    action.setToolTip("Export the current model as ONNX, a torch.export program (.pt2) or TorchScript, verified")
    action.triggered.connect(lambda: choose_export(window, tab))
    menu = window.menus["file"]
    separators = [a for a in menu.actions() if a.isSeparator()]
    menu.insertAction(separators[-1] if separators else None, action)  # above Quit
    tab.exported.connect(lambda report: _exported(window, report))
    tab.exportFailed.connect(lambda text: (window.log.append("error", f"Export failed: {text}"),
                                           window.show_message(QMessageBox.Icon.Warning, "Export failed", text)))
    return tab, action


def show_evaluation(window, folder: str) -> None:
    """`layerscope --evaluation DIR`: the Evaluate tab showing a saved evaluation (read off the GUI thread)."""
    window.tabs.setCurrentWidget(window.evaluate_tab)
    window.evaluate_tab.setCurrentWidget(window.evaluate_tab.evaluate_page)
    window.evaluate_tab.evaluate_page.open_evaluation(folder)


def _folder_dataset(window) -> str:
    name = str(window.run_settings.get("dataset") or "")
    return name if name and Path(name).expanduser().is_dir() else ""


def inspect_image(window, file: str, true: str, predicted: str) -> None:
    """A gallery image -> the Inspect tab, saliency for the predicted and the true class side by side."""
    if not Path(file).is_file():
        window.log.append("info", f"{file} is not an image file here (moved or deleted?); it cannot be inspected")
        return
    window.tabs.setCurrentWidget(window.inspector)
    window.inspector.open_with_saliency_pair(file, true)
    window.log.append("info", f"Inspecting {Path(file).name} (true: {true}, predicted: {predicted}): saliency "
                              f"for the predicted class (left) and '{true}' (right)")


def start_finetune(window, settings, checkpoint: str) -> None:
    """Fine-tune with corrections: a new run from `checkpoint`'s weights, fresh optimizer (core/training/finetune.py)."""
    if not window.engine_loaded() or window.controller.is_active():
        window.log.append("warning", "Cannot fine-tune now: wait for PyTorch to load and for the current run to end")
        return
    window.start_run(settings, finetune_from=checkpoint)  # the Train tab shows the run
    window.log.append("info", f"Fine-tuning from {checkpoint}: {settings.train.epochs} epochs at lr {settings.train.lr:g}")


def choose_export(window, tab: EvaluateTab) -> None:
    ckpt = window.hub.current()
    if ckpt is None:
        window.show_message(QMessageBox.Icon.Information, "Export model", "There is no model to export: train one "
                            "or open a checkpoint first.")
        return
    fmt, ok = QInputDialog.getItem(window, "Export model", "Format", list(EXPORT_FORMATS), 0, False)
    if not ok:
        return
    start = window.app_settings.value("paths/checkpoint_dir", str(Path.home()))
    out, _ = QFileDialog.getSaveFileName(window, "Export model as", str(Path(start) / f"model{EXPORT_FORMATS[fmt]}"))
    if out:
        window.log.append("info", f"Exporting the current model as {fmt} to {out} (verified after writing)…")
        tab.export_model(ckpt, fmt, out)


def _exported(window, report) -> None:
    text = report.format_text()
    window.log.append("info", text)
    window.show_message(QMessageBox.Icon.Information, "Model exported", text)
