"""The "Inspect" tab: drop images, see the prediction and every layer.

The panel wires the views (panel_widgets.py: drop hint, model's view + top-k bars, the table of a
multi-image drop, and the Layers / Filters / Saliency tabs) and schedules InspectionJobs on three BackgroundTasks (rows, detail,
saliency) that share one thread. Each task's generation makes sure a result for an image that has since
been replaced, or for settings that have since changed, is dropped and never shown.

The model is always a copy: each job builds its model from the hub's current checkpoint (CPU weights taken
at an epoch end or a batch boundary), so inspecting while a run trains never touches the live model.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from core.io.images import IMAGE_EXTENSIONS, is_image_path
from gui.concurrent import BackgroundTask
from gui.inspector.add_to_dataset import add_current_image
from gui.inspector.clipboard import sources_from_mime
from gui.inspector.drop_history import DropHistory
from gui.inspector.export import write_predictions_csv
from gui.inspector.inspection_jobs import MODEL_UNUSABLE, InspectionJobs
from gui.inspector.panel_widgets import DROP_HINT, InspectorWidgets
from gui.inspector.probe import PinnedProbe
from gui.inspector.results import DetailResult, RowResult, SaliencyResult
from gui.inspector.saliency_view import PREDICTED
from gui.plotting.image_panes import show_bar
from gui.inspector.sources import ImageSource, is_url

TOP_K = 5


class InspectorPanel(InspectorWidgets):
    message = Signal(str, str)  # (level, text) for the window's log
    trainRequested = Signal()  # "Train a model" in the no-model offer
    openCheckpointRequested = Signal()  # "Open checkpoint…" in the no-model offer
    detailShown = Signal(object)  # the DetailResult now on screen
    rowsDone = Signal()  # every image of the current drop has its row

    def __init__(self, hub, parent: QWidget | None = None):
        super().__init__(parent)  # the widgets (panel_widgets.py); what they do is wired below
        self.hub = hub
        self.jobs = InspectionJobs()
        # One thread for all three tasks: inference on one image is short, and the jobs' model cache is then
        # never used by two threads at once. The pool is made first, so Qt deletes it (waiting for a running
        # job) before the tasks whose signals that job emits on.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._rows_task = BackgroundTask(self, pool=self._pool, imports=())
        self._detail_task = BackgroundTask(self, pool=self._pool, imports=())
        self._saliency_task = BackgroundTask(self, pool=self._pool, imports=())
        # Building a bank is one pass over the training images: on the same thread, so it never races the
        # inspection jobs for the model cache; cancelled when the checkpoint changes.
        self._bank_task = BackgroundTask(self, pool=self._pool, imports=())
        self._bank_task.finished.connect(self._on_bank_built)
        self._bank_task.failed.connect(self._on_bank_failed)
        for kind, task, slot in (("rows", self._rows_task, self._on_row), ("detail", self._detail_task, self._on_detail),
                                 ("saliency", self._saliency_task, self._on_saliency)):
            task.finished.connect(slot)
            task.failed.connect(lambda message, kind=kind, task=task: self._on_failed(kind, message,
                                                                                      task.last_error_details))
        self.engine_ready = True  # the window sets this False until torch has loaded

        self._sources: list[ImageSource] = []  # the current drop
        self._pending: list[ImageSource] = []  # dropped before a model existed
        self.history = DropHistory()  # earlier drops: Back / Forward (Alt+Left / Alt+Right)
        self.back_action.triggered.connect(lambda: self._go(self.history.back()))
        self.forward_action.triggered.connect(lambda: self._go(self.history.forward()))
        self._listing = BackgroundTask(self, imports=())  # a dropped folder's images, listed off the GUI thread
        self._listing.finished.connect(self._on_folder_listed)
        self._listing.failed.connect(lambda text: self._say("warning", f"Cannot read the folder: {text}"))
        self._rows_expected = 0
        self._detail_row: int | None = None  # the row whose detail is (being) shown
        self._detail_requested_for_drop = False
        self.detail: DetailResult | None = None
        self.saliency: SaliencyResult | None = None
        self._saliency_key = None  # (detail generation, method, target, layer) of the shown map
        self._busy = False

        self.open_button.clicked.connect(self.open_image_dialog)
        self.pin_button.toggled.connect(self.set_pinned)
        self.dataset_provider = lambda: ""  # the window sets it: the current dataset's name or folder
        self.add_button.clicked.connect(lambda: add_current_image(self))
        self.table.rowChosen.connect(self.show_row)
        self.export_button.clicked.connect(self.export_csv_dialog)
        self.layers.scalingChanged.connect(lambda _mode: self._request_detail())
        self.saliency_view.requested.connect(lambda *_: self._request_saliency())
        self.views.currentChanged.connect(lambda _i: self._request_saliency())
        self.hub.checkpointChanged.connect(self._on_checkpoint_changed)
        self.probe = PinnedProbe(self.hub, lambda: self._busy, self)
        self.familiarity_view.neighbourChosen.connect(lambda path: self.open_paths([path]))
        self.familiarity_view.computeRequested.connect(self.compute_familiarity)

    # ---- input ---------------------------------------------------------------------------------------
    def pinned_probe_paths(self) -> list[str]:
        """The pinned probe's image file, if one is pinned (a run gets its probe timeline), else []."""
        source = self.probe.source
        return [source.path] if source is not None and source.path else []

    def open_paths(self, items: list[str]) -> None:
        """Inspect files and http(s) URLs (strings); one item shows its detail, many fill the table."""
        sources = [ImageSource.from_url(i) if is_url(i) else ImageSource.from_path(i) for i in items]
        self.open_sources(sources)

    def open_with_saliency_pair(self, path: str, other_class: str) -> None:
        """Inspect one image with saliency for the predicted class and `other_class` side by side."""
        self.saliency_view.compare_with(other_class)
        self.views.setCurrentWidget(self.saliency_view)
        self.open_paths([path])

    def open_folders(self, folders: list[str]) -> None:
        """Classify the images in folders without class sub-folders (each folder's own images, by name)."""
        def job(ctx):
            found = []
            for folder in folders:
                ctx.check_cancelled()
                found += sorted((str(p) for p in Path(folder).iterdir() if p.is_file() and is_image_path(p)),
                                key=lambda p: Path(p).name.lower())
            return folders, found
        self._listing.submit(job)

    def _on_folder_listed(self, outcome) -> None:
        folders, images = outcome
        if images:
            self.message.emit("info", f"Classifying the {_count(len(images))} in {', '.join(folders)}")
            self.open_paths(images)
        else:
            self._say("warning", f"No images in {', '.join(folders)} (looked for "
                                 f"{', '.join(sorted(IMAGE_EXTENSIONS)[:6])}…, not inside sub-folders)")

    def open_sources(self, sources: list[ImageSource]) -> None:
        """A new drop (or paste, or Open Image): it joins the history after the drop shown now."""
        if not sources:
            return
        self.history.push(sources)
        self._update_history_actions()
        self._open(sources)

    def _go(self, sources: list[ImageSource] | None) -> None:
        """Back or Forward: inspect that earlier drop again (with the current model)."""
        self._update_history_actions()
        if sources:
            self._open(sources)

    def _update_history_actions(self) -> None:
        for action, can, offset, word in ((self.back_action, self.history.can_go_back(), -1, "Back to"),
                                          (self.forward_action, self.history.can_go_forward(), 1, "Forward to")):
            action.setEnabled(can)
            keys = action.shortcut().toString(action.shortcut().SequenceFormat.NativeText)
            action.setToolTip(f"{word} {self.history.describe(offset)} ({keys})" if can else
                              f"{word.split()[0]}: no {'earlier' if offset < 0 else 'later'} drop ({keys})")

    def _open(self, sources: list[ImageSource]) -> None:
        self.set_pinned(False)
        if not self.engine_ready:
            self._pending = list(sources)
            self.banner.show_message("info", f"PyTorch is still loading; {_count(len(sources))} will be "
                                             "inspected as soon as it is ready.")
            return
        if self.hub.current() is None:
            self._pending = list(sources)
            self._offer_model()
            return
        self._pending = []
        self._start_drop(sources)

    def open_image_dialog(self) -> None:
        patterns = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS))
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", str(Path.home()),
                                                f"Images ({patterns});;All files (*)")
        if paths:
            self.open_paths(paths)

    def paste(self, mime: QMimeData | None = None) -> bool:
        """Inspect what the clipboard (or `mime`) holds: image data, file URLs, or a path / URL as text.
        Returns False, with a message, when there is nothing usable."""
        mime = mime if mime is not None else QGuiApplication.clipboard().mimeData()
        sources = sources_from_mime(mime) if mime is not None else []
        if not sources:
            self._say("warning", "The clipboard holds no image, image file or image URL to inspect.")
            return False
        self.open_sources(sources)
        return True

    def open_image_data(self, mime: QMimeData) -> bool:
        """Image data dropped without a URL (pixels from an image editor); False when it holds no image."""
        sources = sources_from_mime(mime, "dropped image") if mime.hasImage() else []
        self.open_sources(sources)
        return bool(sources)

    # ---- the no-model offer --------------------------------------------------------------------------
    def _offer_model(self) -> None:
        if self.hub.is_training() and self.hub.request_live_weights():
            self.banner.show_message("info", f"A run is starting; {_count(len(self._pending))} will be inspected "
                                             "with a copy of its weights in a moment.")
            return
        text = (f"There is no model yet to classify {_count(len(self._pending))}. Train a model, or open a "
                "checkpoint; the dropped images are inspected as soon as a model is loaded.")
        self.banner.show_message("warning", text, [("Train a model", self.trainRequested.emit),
                                                   ("Open checkpoint…", self.openCheckpointRequested.emit)])
        self.message.emit("warning", "Dropped images but there is no model yet: train one or open a checkpoint")

    def set_engine_ready(self, ready: bool = True) -> None:
        self.engine_ready = ready
        if ready and self._pending:
            # The window opens a checkpoint given on the command line right after this; look once it has.
            QTimer.singleShot(0, self._retry_pending)

    def _retry_pending(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._open(pending)

    # ---- scheduling ----------------------------------------------------------------------------------
    def _start_drop(self, sources: list[ImageSource]) -> None:
        self._detail_task.cancel()  # whatever is in flight for the previous image must not be shown
        self._saliency_task.cancel()
        self._sources = list(sources)
        self._rows_expected = len(sources)
        self._detail_requested_for_drop = False
        self._detail_row = None
        self.banner.clear()
        self.show_work()
        self.hint.setText(DROP_HINT)
        self.table.reset_rows([s.label for s in sources])
        self.table_box.setVisible(len(sources) > 1)
        self.pin_button.setEnabled(False)
        self._set_busy(f"Classifying {_count(len(sources))}…" if len(sources) > 1 else "Inspecting…")
        checkpoint = self.hub.current()
        for row, source in enumerate(sources):  # one job an image, so the detail can go in between
            job = (lambda ctx, row=row, source=source:
                   self.jobs.classify_row(ctx.generation, row, source, checkpoint, TOP_K))
            # The first image starts a new generation (the previous drop's rows are stale); the others join it.
            (self._rows_task.submit if row == 0 else self._rows_task.add)(job)

    @Slot(int)
    def show_row(self, row: int) -> None:
        if not 0 <= row < len(self._sources):
            return
        result = self.table.result(row)
        if result is not None and result.error is not None:
            self._show_error_detail(result)
            return
        self._detail_row = row
        self._request_detail()

    def _request_detail(self) -> None:
        """(Re-)inspect the selected row (or the pinned probe) with the hub's current checkpoint."""
        source = self.probe.source or (self._sources[self._detail_row] if self._detail_row is not None else None)
        checkpoint = self.hub.current()
        if source is None or checkpoint is None:
            return
        self._saliency_task.cancel()  # a map still in flight belongs to the view being replaced
        self._saliency_key = None
        scaling, model_source = self.layers.scaling_mode(), self.hub.source()
        row = self._detail_row if self._detail_row is not None else -1
        self._set_busy("Inspecting…")
        # Priority 2: the selected image's detail goes before the remaining rows of a big drop.
        self._detail_task.submit(lambda ctx: self.jobs.inspect(ctx.generation, row, source, checkpoint, TOP_K,
                                                               scaling, model_source), priority=2)

    def _request_saliency(self) -> None:
        if self.views.currentWidget() is not self.saliency_view or self.detail is None or self.detail.error:
            return
        source = self._detail_source()
        checkpoint = self.hub.current()
        if source is None or checkpoint is None:
            return
        method, target, layer = self.saliency_view.current_request()
        if target == PREDICTED:
            target = self.detail.inspection.top_class
        compare = self.saliency_view.compare_target()
        key = (self._detail_task.generation, method, target, layer, compare)
        if key == self._saliency_key:
            return
        self._saliency_key = key
        self.saliency_view.set_pending("Computing…")
        self._saliency_task.submit(lambda ctx: self.jobs.saliency(ctx.generation, source, checkpoint, method,
                                                                  target, layer, compare), priority=1)

    def detail_label(self) -> str | None:
        """The name of the image shown in detail (tests; the caption says it to the user)."""
        return self.detail.label if self.detail is not None else None

    def current_source(self) -> ImageSource | None:
        return self._detail_source() if self.detail is not None else None

    def _detail_source(self) -> ImageSource | None:
        if self.probe.source is not None:
            return self.probe.source
        if self._detail_row is not None and self._detail_row < len(self._sources):
            return self._sources[self._detail_row]
        return None

    # ---- results (each task delivers only its current generation's) ---------------------------------
    @property
    def stale_results(self) -> int:
        """Results dropped because their image or settings were replaced."""
        return self._rows_task.stale_count + self._detail_task.stale_count + self._saliency_task.stale_count

    def _on_row(self, result: RowResult) -> None:
        self.table.set_result(result)
        if result.error is not None:
            self.message.emit("warning", f"Cannot inspect {result.where}: {result.error}")
        elif not self._detail_requested_for_drop:
            # The first readable image of the drop is shown in detail at once.
            self._detail_requested_for_drop = True
            self.table.blockSignals(True)
            self.table.select(result.row)
            self.table.blockSignals(False)
            self._detail_row = result.row
            self._request_detail()
        done = self.table.results()
        if len(done) == self._rows_expected:
            self._on_rows_done(done)

    def _on_rows_done(self, rows: list[RowResult]) -> None:
        bad = [r for r in rows if r.error is not None]
        model_problem = next((r.error for r in bad if r.error.startswith(MODEL_UNUSABLE)), None)
        if model_problem is not None:
            self.banner.show_message("error", f"The current model cannot classify images: {model_problem}. "
                                              "Open another checkpoint or train a model.")
        elif len(rows) == 1 and bad:
            self._show_error_detail(bad[0])
        elif bad:
            names = ", ".join(r.label for r in bad[:3]) + ("…" if len(bad) > 3 else "")
            self.banner.show_message("warning", f"{len(bad)} of {len(rows)} files could not be read ({names}); "
                                                "the reasons are in the table.")
        if len(rows) > 1:
            self.message.emit("info", f"Classified {len(rows) - len(bad)} of {len(rows)} dropped images")
        if not self._detail_requested_for_drop:
            self._set_busy(None)
        self.rowsDone.emit()

    def _show_error_detail(self, result: RowResult) -> None:
        """A row that could not be read: its reason, and no leftovers of the image shown before."""
        self._detail_task.cancel()
        self._saliency_task.cancel()
        self.detail = None
        self.input_pane.show_rgb(None)
        self.layers.set_inspection(None)
        self.saliency_view.set_input(None)
        self.saliency_view.set_heatmap(None, "")
        self.pin_button.setEnabled(False)
        self.add_button.setEnabled(False)
        self.banner.show_message("error", f"Cannot inspect {result.label}: {result.error}")
        self.caption.setText(f"<b>{result.label}</b>: could not be read")
        self.topk.set_entries([])
        self.topk.set_placeholder("No prediction: the file could not be read")
        self.familiarity_view.show_familiarity(None)
        self._set_busy(None)

    def _on_detail(self, result: DetailResult) -> None:
        self._set_busy(None)
        if result.error is not None:
            self.banner.show_message("error", f"Cannot inspect {result.error}")
            self.message.emit("warning", f"Cannot inspect {result.error}")
            return
        self.detail = result
        inspection = result.inspection
        self.hint.setText(f"{DROP_HINT}  ·  showing {result.label}")
        self.input_pane.show_rgb(inspection.input_image)
        self.topk.set_entries(inspection.prediction)
        self.familiarity_view.show_familiarity(result.familiarity)
        top_label, top_prob = inspection.prediction[0]
        source = f" · model: {result.model_source}" if result.model_source else ""
        probe = " · pinned probe" if self.probe.source is not None else ""
        self.caption.setText(f"<b>{result.label}</b>: {top_label} ({top_prob:.1%}){source}{probe}")
        self.layers.set_inspection(inspection, result.classes)
        self.filters.show_rgb(result.filters)
        show_bar(self.filters_bar, result.filters is not None)
        self.filters_note.setText("First-layer filters, one tile each, enlarged: what the network looks for in raw "
                                  "pixels (colour: its weight on red, green and blue; grey: a weight of 0)"
                                  if result.filters is not None else
                                  "This model's first layer cannot be drawn as image filters")
        self.saliency_view.set_input(inspection.input_image)
        self.saliency_view.set_heatmap(None, "Open this tab to compute the map")  # the old map is for another view
        self.saliency_view.set_model_info(result.classes, top_label, result.layer_names, result.cam_layer)
        self.pin_button.setEnabled(True)
        self.add_button.setEnabled(True)
        self.detailShown.emit(result)
        self._request_saliency()

    # ---- familiarity ---------------------------------------------------------------------------------
    def compute_familiarity(self) -> None:
        """Build the feature bank beside the current checkpoint, then show the image's familiarity."""
        checkpoint = self.hub.current()
        if checkpoint is None or not checkpoint.source:
            return
        self.familiarity_view.set_computing()
        self.message.emit("info", f"Computing the familiarity bank of {checkpoint.source}")
        self._bank_task.submit(lambda ctx: self.jobs.build_bank(checkpoint, ctx))

    def _on_bank_built(self, path: str) -> None:
        self.message.emit("info", f"Familiarity bank written: {path}")
        self._request_detail()

    def _on_bank_failed(self, message: str) -> None:
        self.banner.show_message("error", f"Cannot compute familiarity: {message}")
        self.message.emit("warning", f"Cannot compute familiarity: {message}")
        self._request_detail()

    def _on_saliency(self, result: SaliencyResult) -> None:
        self.saliency = result
        if result.error is not None:
            self.saliency_view.set_heatmap(None, result.error)
            return
        self.saliency_view.show_result(result, self.detail.classes if self.detail else [])

    def _on_failed(self, kind: str, message: str, details: str) -> None:
        self._set_busy(None)
        text = f"Inspection failed: {message}"
        if kind == "saliency":
            self.saliency_view.set_heatmap(None, text)
        else:
            self.banner.show_message("error", text)
        self.message.emit("error", text)
        if details:
            self.message.emit("debug", details.rstrip())

    # ---- model changes and the pinned probe ----------------------------------------------------------
    @Slot(object)
    def _on_checkpoint_changed(self, checkpoint) -> None:
        if checkpoint is None:
            return
        if self._pending:
            pending, self._pending = self._pending, []
            self._start_drop(pending)
            return
        if self.probe.source is not None:
            self._request_detail()  # a new epoch (or live weights): the probe refreshes by itself
        elif not self.hub.is_training() and self._sources:
            self._start_drop(self._sources)  # another model was opened: show what it says

    @Slot(bool)
    def set_pinned(self, pinned: bool) -> None:
        source = self._detail_source() if pinned else None
        if pinned and source is None:
            pinned = False
        self.probe.pin(source)
        if self.pin_button.isChecked() != pinned:
            self.pin_button.blockSignals(True)
            self.pin_button.setChecked(pinned)
            self.pin_button.blockSignals(False)
        self.pin_button.setText("Pinned" if pinned else "Pin as probe")
        if pinned:
            self.message.emit("info", f"Pinned {source.label} as the probe image: it refreshes while training")

    def is_pinned(self) -> bool:
        return self.probe.source is not None

    # ---- export --------------------------------------------------------------------------------------
    def export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", str(Path.home() / "predictions.csv"),
                                              "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> bool:
        rows = self.table.results()
        if not rows:
            self._say("warning", "Nothing to export yet: drop some images first.")
            return False
        try:
            write_predictions_csv(rows, path)
        except OSError as exc:
            self._say("error", f"Could not write {path}: {exc.strerror or exc}")
            return False
        self.message.emit("info", f"Exported the predictions of {len(rows)} images to {path}")
        return True

    # ---- helpers -------------------------------------------------------------------------------------
    def _say(self, level: str, text: str) -> None:
        self.banner.show_message(level, text)
        self.message.emit(level, text)

    def _set_busy(self, text: str | None) -> None:
        self._busy = text is not None
        self.status.setText(text or "")

    def shutdown(self, msecs: int = 60_000) -> bool:
        """Stop the probe timer and wait for the inspection thread (closing the window; tests)."""
        self.probe.stop()
        self._listing.shutdown()
        self._rows_task.cancel()  # the rest of a big drop never starts
        return self._pool.waitForDone(msecs)


def _count(n: int) -> str:
    return "1 image" if n == 1 else f"{n} images"
