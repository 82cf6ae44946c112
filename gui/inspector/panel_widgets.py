"""The Inspect tab's widgets and their layout, with no behaviour: the first screen (a drop zone that says what
to do), then the drop hint, Back / Forward through earlier drops, the model's view + top-k bars, the table of a
multi-image drop, and the Layers / Filters / Saliency tabs. InspectorPanel (panel.py) adds what they do."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSplitter, QStackedWidget, QTabWidget, QToolButton,
                               QVBoxLayout, QWidget)

from gui.inspector.banner import Banner
from gui.inspector.batch_table import BatchTable
from gui.plotting.image_panes import ImagePane, show_bar
from gui.inspector.layer_browser import LayerBrowser
from gui.inspector.saliency_view import SaliencyView
from gui.inspector.familiarity_view import FamiliarityView
from gui.plotting.topk_bars import TopKBars

DROP_HINT = "Drop images here, or File > Open Image (Ctrl+I), or paste (Ctrl+V)"
FIRST_SCREEN = ("<p style='font-size:16pt'>Drop images here to classify them</p>"
                "<p>Image files, a folder of images, an image from a web page, or paste one (Ctrl+V).<br>"
                "You see the model's prediction, what every layer computes and where it looked.</p>"
                "<p>It needs a model: press Train in the Train tab, or open a checkpoint (File > Open, Ctrl+O).</p>")


class InspectorWidgets(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.banner = Banner()
        self.hint = QLabel(DROP_HINT)
        self.hint.setObjectName("dropHint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setMinimumHeight(40)
        self.hint.setStyleSheet("#dropHint { border: 2px dashed #9aa5b1; border-radius: 6px; color: #52606d;"
                                " padding: 8px; }")

        self.input_pane = ImagePane(min_size=150)
        self.input_pane.setMaximumWidth(240)
        self.input_pane.setToolTip("What the model sees: the image resized and cropped like its validation data")
        self.topk = TopKBars()
        self.familiarity_view = FamiliarityView()
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open Image…")
        self.pin_button = QPushButton("Pin as probe")
        self.pin_button.setCheckable(True)
        self.pin_button.setToolTip("Keep this image: while a run trains, its prediction and activations refresh "
                                   "by themselves (every epoch, and every few seconds)")
        self.pin_button.setEnabled(False)
        self.add_button = QPushButton("Add to dataset…")
        self.add_button.setToolTip("Copy this image into a class folder of the current image-folder dataset "
                                   "(for an image the model got wrong); nothing is overwritten")
        self.add_button.setEnabled(False)
        self.status = QLabel("")
        self.back_action = QAction("◀ Back", self)
        self.back_action.setShortcut(QKeySequence("Alt+Left"))
        self.forward_action = QAction("Forward ▶", self)
        self.forward_action.setShortcut(QKeySequence("Alt+Right"))
        for action in (self.back_action, self.forward_action):
            action.setEnabled(False)
            self.addAction(action)  # the keys work while this tab shows
        buttons = QHBoxLayout()
        for action in (self.back_action, self.forward_action):
            button = QToolButton()
            button.setDefaultAction(action)
            buttons.addWidget(button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.pin_button)
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        buttons.addWidget(self.status)
        right = QVBoxLayout()
        right.addWidget(self.caption)
        right.addWidget(self.topk)
        right.addWidget(self.familiarity_view)
        right.addStretch(1)
        right.addLayout(buttons)
        summary = QHBoxLayout()
        summary.addWidget(self.input_pane)
        summary.addLayout(right, 1)

        self.table = BatchTable()
        self.export_button = QPushButton("Export CSV…")
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table, 1)
        table_layout.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignRight)
        self.table_box = table_box
        table_box.hide()

        top = QWidget()
        top_layout = QHBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        summary_box = QWidget()
        summary_box.setLayout(summary)
        top_layout.addWidget(summary_box, 3)
        top_layout.addWidget(table_box, 2)

        self.layers = LayerBrowser()
        self.filters = ImagePane(min_size=160)
        self.filters_bar = self.filters.add_colour_bar("gray", "weight (each filter to its largest)",
                                                       ticks={0.0: "−max", 0.5: "0", 1.0: "+max"})
        show_bar(self.filters_bar, False)  # until there are filters to read
        self.filters_note = QLabel("First-layer filters appear here once an image is inspected")
        filters_box = QWidget()
        filters_layout = QVBoxLayout(filters_box)
        filters_layout.addWidget(self.filters_note)
        filters_layout.addWidget(self.filters, 1)
        self.saliency_view = SaliencyView()
        self.views = QTabWidget()
        self.views.addTab(self.layers, "Layers")
        self.views.addTab(filters_box, "Filters")
        self.views.addTab(self.saliency_view, "Saliency")

        splitter = self.splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 480])  # room for the model's view and a few table rows
        self.first_screen = QLabel(FIRST_SCREEN)  # until the first image: what to do, not empty black panes
        self.first_screen.setObjectName("firstScreen")
        self.first_screen.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.first_screen.setWordWrap(True)
        self.first_screen.setStyleSheet("#firstScreen { border: 2px dashed #9aa5b1; border-radius: 10px; "
                                        "color: #52606d; padding: 24px; }")
        first_open = QPushButton("Open Image…")
        first_open.clicked.connect(self.open_button.click)
        first_page = QWidget()
        first_layout = QVBoxLayout(first_page)
        first_layout.addWidget(self.first_screen, 1)
        first_layout.addWidget(first_open, 0, Qt.AlignmentFlag.AlignHCenter)
        work_page = QWidget()
        work_layout = QVBoxLayout(work_page)
        work_layout.setContentsMargins(0, 0, 0, 0)
        work_layout.addWidget(self.hint)
        work_layout.addWidget(splitter, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(first_page)
        self.pages.addWidget(work_page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.pages, 1)

    def show_work(self) -> None:
        """Leave the first screen: an image is being inspected."""
        self.pages.setCurrentIndex(1)

    def on_first_screen(self) -> bool:
        return self.pages.currentIndex() == 0
