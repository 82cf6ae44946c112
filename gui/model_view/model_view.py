"""The Model tab: the builder form on the left; on the right the network as it is built (diagram, layer
table, totals) and the estimated training memory for the chosen batch size, with a warning when it would
not fit. The model is rebuilt off the GUI thread a moment after each edit.

It owns the run settings' model, model options and backbone learning-rate scale; the batch size and
device it reads from the settings (the Train tab owns them) and shows the batch size with a link there."""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFormLayout, QHeaderView, QLabel, QMessageBox, QScrollArea, QSplitter, QTableView,
                               QVBoxLayout, QWidget)

from gui.concurrent import BackgroundTask
from gui.model_view.builder import ModelBuilder
from gui.model_view.diagram import NetworkDiagram
from gui.model_view.layers import LayerTableModel
from gui.model_view.summary import ModelSummary, SummaryRequest, fmt_count, fmt_shape, summarise
from gui.run_settings_model import OwnerLink, RunSettingsModel, bind_combo

WARNING_STYLE = "QLabel { background: #fde2e1; color: #8a1c13; border: 1px solid #e0a39d; border-radius: 4px; padding: 4px; }"


class ModelView(QWidget):
    changed = Signal()  # the model settings changed (name, options, batch size)
    summary_ready = Signal(object)  # ModelSummary of the latest settings
    summary_failed = Signal(str)
    ownerRequested = Signal(str)  # "train": show the tab that owns the batch size

    def __init__(self, settings: RunSettingsModel | None = None, parent=None):
        super().__init__(parent)
        self.settings = settings if settings is not None else RunSettingsModel(parent=self)
        self._input = (2, 3, 64)  # classes, channels, image size: set from the dataset
        self._summary: ModelSummary | None = None
        self._engine_ready = True
        self._confirming: tuple | None = None  # (answer, parent) of a confirm_run waiting for its summary

        self.builder = ModelBuilder()
        self.builder.set_model(self.settings.get("model"), self.settings.get("model_options"))
        bind_combo(self.settings, "model", self.builder.model_combo)
        self.input_label = QLabel()
        self.input_label.setWordWrap(True)
        self.batch_link = OwnerLink(self.settings, "batch_size")
        self.batch_link.setToolTip("Training memory is estimated for this batch size (set in the Train tab)")
        self.batch_link.ownerRequested.connect(self.ownerRequested)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        form = QFormLayout()
        form.addRow("Input", self.input_label)
        form.addRow("Batch size", self.batch_link)
        left_layout.addLayout(form)
        left_layout.addWidget(self.builder, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        # Never narrower than the form (a clipped spin box is worse than a narrower table).
        scroll.setMinimumWidth(left.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 4)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)

        self.diagram = NetworkDiagram()
        self.totals_label = QLabel()
        self.totals_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.memory_label = QLabel()
        self.memory_label.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(WARNING_STYLE)
        self.error_label.hide()
        self.layer_model = LayerTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.layer_model)
        self.table.setSelectionBehavior(QTableView.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setStretchLastSection(True)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.diagram)
        right_layout.addWidget(self.totals_label)
        right_layout.addWidget(self.memory_label)
        right_layout.addWidget(self.error_label)
        right_layout.addWidget(self.table, 1)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([340, 800])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self._task = BackgroundTask(self, debounce_ms=150)
        self._task.finished.connect(self._on_summary)
        self._task.failed.connect(self._on_failed)
        self.builder.changed.connect(self._on_builder_changed)
        self.settings.changed.connect(self._on_setting)
        self._show_input()
        self._on_builder_changed()

    # --- what the training run uses -------------------------------------------------------------------
    def model_name(self) -> str:
        return self.builder.model_name()

    def model_options(self) -> dict:
        return self.builder.model_options()

    def train_overrides(self) -> dict:
        return self.builder.train_overrides()

    def set_model(self, name: str, options: dict | None = None) -> None:
        self.builder.set_model(name, options)

    def set_input(self, num_classes: int, channels: int = 3, image_size: int = 64) -> None:
        """The dataset decides the input and output layers' sizes."""
        new = (max(2, int(num_classes)), int(channels), int(image_size))
        if new != self._input:
            self._input = new
            self._show_input()
            self._on_settings_changed()

    def set_batch_size(self, n: int) -> None:
        self.settings.set("batch_size", n)

    def set_device(self, device: str) -> None:
        self.settings.set("device", device)

    def _on_builder_changed(self) -> None:
        """The builder owns the model's options: keep them in the run settings, then rebuild the summary."""
        self.settings.update({"model_options": self.builder.model_options(), **self.builder.train_overrides()})
        self._on_settings_changed()

    def _on_setting(self, key: str, value) -> None:
        if key == "model_options" and value != self.builder.model_options():
            self.builder.set_model(self.builder.model_name(), value)  # set from elsewhere (a remembered run)
        elif key in ("batch_size", "device"):
            self._on_settings_changed()

    def set_engine_ready(self, ready: bool = True) -> None:
        """False until PyTorch has loaded (the window's engine loader imports it): no model is built before."""
        self._engine_ready = ready
        if ready:
            self._on_settings_changed()
        else:
            self._task.cancel()
            self.diagram.set_message("Loading PyTorch…")

    def summary(self) -> ModelSummary | None:
        return self._summary

    def is_busy(self) -> bool:
        return self._task.busy

    def would_not_fit(self) -> bool:
        return self._summary is not None and self._summary.fits is False

    def confirm_run(self, answer: Callable[[bool], None], parent: QWidget | None = None) -> None:
        """Before a run: `answer(True)` to go ahead. When the estimate says the model will not fit, the user
        is asked first. A summary that is missing or older than the settings (an edit a moment ago) is made
        first, off the GUI thread (building a model and a dummy forward pass can take seconds)."""
        if self._summary is not None and self._summary.asked == self._request():
            self._answer(answer, parent)
            return
        self._confirming = (answer, parent)
        request = self._request()
        self._task.submit(lambda ctx: summarise(request, ctx))

    def _answer(self, answer: Callable[[bool], None], parent: QWidget | None) -> None:
        if not self.would_not_fit():
            answer(True)
            return
        reply = QMessageBox.warning(
            parent or self, "Model may not fit in memory",
            f"This model would probably not fit in memory: {self._summary.warning}.\n\n"
            "Training will probably fail with an out-of-memory error. Lower the batch size or the image "
            "size, or choose a smaller model.\n\nStart anyway?",
            QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        answer(reply == QMessageBox.Yes)

    def _answer_waiting(self, built: bool) -> None:
        """A summary (or its failure) arrived: a run waiting for it gets its answer."""
        if self._confirming is None:
            return
        (answer, parent), self._confirming = self._confirming, None
        if built:
            self._answer(answer, parent)
        else:
            answer(True)  # the run itself will report why this model cannot be built

    def shutdown(self) -> None:
        self._task.shutdown()

    # --- rebuilding ---------------------------------------------------------------------------------
    def _show_input(self, summary: ModelSummary | None = None) -> None:
        classes, channels, size = self._input
        note = ""
        if summary is not None and summary.input_note:
            channels, size = summary.request.in_channels, summary.request.image_size
            note = f"<br><span style='color:gray'>({summary.input_note})</span>"
        self.input_label.setText(f"{fmt_shape((channels, size, size))} image → {classes} classes{note}")
        self.input_label.setToolTip("Set by the dataset: its image size and channels, and its number of classes")

    def _request(self) -> SummaryRequest:
        classes, channels, size = self._input
        return SummaryRequest(self.builder.model_name(), self.builder.model_options(), classes, channels, size,
                              self.settings.get("batch_size"), self.settings.get("device"))

    def _on_settings_changed(self, *_args) -> None:
        request = self._request()
        if self._engine_ready:
            self.totals_label.setText(self.totals_label.text() or "Building…")
            self._task.submit(lambda ctx: summarise(request, ctx))
        self.changed.emit()

    def _on_summary(self, summary: ModelSummary) -> None:
        self._summary = summary
        self._show_input(summary)
        self.error_label.hide()
        self.layer_model.set_rows(summary.rows)
        self.diagram.set_blocks(summary.blocks)
        frozen = summary.total_params - summary.trainable_params
        frozen_text = f", {fmt_count(frozen)} frozen" if frozen else ""
        self.totals_label.setText(
            f"<b>{len(summary.rows)}</b> layers · <b>{summary.total_params:,}</b> parameters "
            f"({fmt_count(summary.trainable_params)} trainable{frozen_text}) · "
            f"<b>{summary.size_mb:.2f} MB</b> of weights (float32)")
        if summary.fits is False:
            self.memory_label.setStyleSheet(WARNING_STYLE)
            self.memory_label.setText(f"⚠ <b>Will probably not fit</b>: {summary.warning}.<br>{summary.memory_text}")
        else:
            self.memory_label.setStyleSheet("")
            self.memory_label.setText(summary.memory_text)
        self.summary_ready.emit(summary)
        self._answer_waiting(True)

    def _on_failed(self, message: str) -> None:
        self._summary = None
        self.layer_model.set_rows([])
        self.diagram.set_message("This model cannot be built with these options")
        self.totals_label.setText("")
        self.memory_label.setText("")
        self.error_label.setText(f"Cannot build {self.builder.model_name()}: {message}")
        self.error_label.show()
        self.summary_failed.emit(message)
        self._answer_waiting(False)
