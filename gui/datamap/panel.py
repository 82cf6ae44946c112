"""The Map tab: every training and validation image of a run as a point, placed by the model's penultimate
features (core.datamap: PCA, or t-SNE, projected on a BackgroundTask, never on the GUI thread). Coloured by
true label, prediction, right/wrong, label-issue score or familiarity; validation images are rings. The points
are one picture (points_view.py), so 100,000 of them pan smoothly; the point under the mouse comes from a k-d
tree. For a run that kept its features per epoch (--embed-every) a slider and Play replay the map over the
epochs, aligned so points do not jump. Clicking a point that is a file asks for it to be inspected
(imageChosen); a lasso selection can be relabelled, excluded, confirmed or pinned as probes; a dropped image is
marked where it falls (place_dropped, core.datamap.drop)."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout,
                               QWidget)

from core import catalog
from core.runs.layout import BEST
from gui.concurrent import BackgroundTask
from gui.datamap.lasso import LassoViewBox
from gui.datamap.points_view import PointsView

COLOUR_BY = {"label": "True label", "prediction": "Prediction", "right": "Right / wrong",
             "issues": "Label-issue score",  # greyed until there are scores for the run's images
             "familiarity": "Familiarity"}  # the last only for a run whose best.pt has a bank
NO_ISSUES_TIP = ("No label-issue scores for this run's images yet: find label issues in Evaluate > Label issues "
                 "for the dataset this run trained on, or run `layerscope label-issues --dataset DIR --out "
                 "RUN/eval/label_issues.csv`, then open the run's map again")
METHODS = {"pca": "PCA", "tsne": "t-SNE"}
PLAY_MS = 700
HOVER_PX = 96
THUMB_CACHE = 512  # decoded hover thumbnails kept (a few MB)
_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
            (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
_RIGHT, _WRONG = (44, 160, 44), (214, 39, 40)
VAL_SPLIT = 1  # core.familiarity.features.SPLIT_CODES["val"]


class MapPanel(QWidget):
    message = Signal(str)
    imageChosen = Signal(str)  # a point's image file, to inspect

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_maps = None  # core.datamap.run_map.RunMaps on screen
        self.shown_index = -1
        self._fit_next = True  # the next map drawn sets the view to its points (a run opened, not a replay step)
        self._task = BackgroundTask(self)
        self._task.finished.connect(self._on_maps)
        self._task.failed.connect(self._on_failed)
        self._task.progress.connect(lambda done, total, text: self.status.setText(f"{text}…"))
        # Hover thumbnails: decoded on their own task (never the GUI thread), the newest hover wins, cached.
        self._thumb_task = BackgroundTask(self, debounce_ms=30, imports=())
        self._thumb_task.finished.connect(self._on_thumbnail)
        self._thumbs: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self.hovered_path: str | None = None

        self.open_button = QPushButton("Open Run…")
        self.open_button.clicked.connect(self.choose_run)
        self.method = QComboBox()
        for key, title in METHODS.items():
            self.method.addItem(title, key)
        self.method.currentIndexChanged.connect(lambda _i: self.reload())
        self.colour = QComboBox()
        for key, title in COLOUR_BY.items():
            if key != "familiarity":  # offered when a run has it (_offer_familiarity)
                self.colour.addItem(title, key)
        self._loading = False  # a new run's maps are being taken in: the colour's changes draw nothing yet
        self.colour.currentIndexChanged.connect(lambda _i: None if self._loading else self.show_map(self.shown_index))
        self._evaluate_issues: dict[str, float] | None = None  # the Evaluate tab's last label-issue pass
        self._issue_cache: tuple[int, np.ndarray | None] | None = None  # (id of a map's ids, scores [N] or None)
        self._offer_issues()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self.show_map)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setEnabled(False)
        self.play_button.toggled.connect(self._play)
        self._timer = QTimer(self)
        self._timer.setInterval(PLAY_MS)
        self._timer.timeout.connect(self._step)
        self.epoch_label = QLabel("")
        self.hover_image = QLabel("")
        self.hover_image.setFixedSize(HOVER_PX, HOVER_PX)
        self.hover_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hover_text = QLabel("Hover a point to see its image")
        self.legend = QLabel("")
        self.status = QLabel("Open a run folder: a run trained with --embed-every replays over its epochs")

        self.view_box = LassoViewBox()
        self.view_box.lassoFinished.connect(self.select_in_polygon)
        self.plot = pg.PlotWidget(viewBox=self.view_box)
        self.plot.setBackground("w")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.view_box.setAspectLocked(True)  # distances on the map mean something: x and y in one scale
        self.points_view = PointsView(self.plot)  # every point, as one picture (100,000 pan smoothly)
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_scene_click)
        self.dropped = None  # core.datamap.drop.Placement of the last dropped image (its mark), or None
        self.drop_mark = pg.ScatterPlotItem(size=22, pxMode=True, symbol="star", brush=pg.mkBrush(255, 215, 0),
                                            pen=pg.mkPen((0, 0, 0), width=1.5))
        self.drop_text = pg.TextItem("", color=(0, 0, 0), fill=pg.mkBrush(255, 255, 255, 220), anchor=(0, 1.2))
        for item in (self.drop_mark, self.drop_text):
            item.setZValue(10)
            self.plot.addItem(item, ignoreBounds=True)
        self.drop_text.setVisible(False)
        self._drop_task = BackgroundTask(self, imports=("core.datamap.drop",))
        self._drop_task.finished.connect(self._on_placed)
        self._drop_task.failed.connect(lambda message: self._say(f"Dropped image not placed: {message}"))
        self.selected = np.zeros(0, dtype=np.int64)  # rows of the shown map inside the last lasso
        self._dataset = None  # the run's image folder: corrections are possible
        self._undo_count = 0  # the corrections file's edits that the last action made (Undo reverses them)
        self._edits = BackgroundTask(self, imports=("core.data.corrections",))
        self._edits.finished.connect(self._on_edited)
        self._edits.failed.connect(lambda message: self._say(f"Corrections: {message}"))

        self.lasso_button = QPushButton("Lasso")
        self.lasso_button.setCheckable(True)
        self.lasso_button.setToolTip("Drag around points to select them (off: drag pans the map)")
        self.lasso_button.toggled.connect(lambda on: setattr(self.view_box, "lasso", on))
        self.selection_label = QLabel("")
        self.relabel_as = QComboBox()
        self.relabel_button = QPushButton("Relabel")
        self.exclude_button = QPushButton("Exclude")
        self.confirm_button = QPushButton("Confirm")
        self.undo_button = QPushButton("Undo")
        self.pin_button = QPushButton("Pin as probes")
        self.pin_button.setToolTip(f"The next run started in this window follows these images (at most "
                                   f"{catalog.PROBE_IMAGES.maximum}) in its probe timeline (Dossier tab)")
        self.pin_button.clicked.connect(self.pin_selection)
        self.unpin_button = QPushButton("Unpin")
        self.unpin_button.clicked.connect(lambda: self.set_pinned([]))
        self.pinned: list[str] = []  # image files pinned as probes for the next run
        self.relabel_button.clicked.connect(lambda: self.correct("relabel"))
        self.exclude_button.clicked.connect(lambda: self.correct("exclude"))
        self.confirm_button.clicked.connect(lambda: self.correct("confirm"))
        self.undo_button.clicked.connect(self.undo)
        self._update_actions()

        controls = QHBoxLayout()
        for widget in (self.open_button, QLabel("Map:"), self.method, QLabel("Colour by:"), self.colour):
            controls.addWidget(widget)
        controls.addStretch(1)
        controls.addWidget(self.legend)
        replay = QHBoxLayout()
        replay.addWidget(self.play_button)
        replay.addWidget(self.slider, 1)
        replay.addWidget(self.epoch_label)
        hover = QVBoxLayout()
        hover.addWidget(self.hover_image)
        hover.addWidget(self.hover_text)
        hover.addStretch(1)
        self.hover_text.setWordWrap(True)
        self.hover_text.setFixedWidth(HOVER_PX + 60)
        middle = QHBoxLayout()
        middle.addWidget(self.plot, 1)
        middle.addLayout(hover)
        selection = QHBoxLayout()
        for widget in (self.lasso_button, self.selection_label, self.relabel_as, self.relabel_button,
                       self.exclude_button, self.confirm_button, self.undo_button, self.pin_button,
                       self.unpin_button):
            selection.addWidget(widget)
        selection.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(selection)
        layout.addLayout(middle, 1)
        layout.addLayout(replay)
        layout.addWidget(self.status)

    # ---- loading -------------------------------------------------------------------------------------
    def choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a run folder for its map")
        if folder:
            self.open_run(folder)

    def open_run(self, run_dir: str) -> None:
        self._run_dir = str(run_dir)
        self.reload()

    def reload(self) -> None:
        run_dir = getattr(self, "_run_dir", None)
        if run_dir is None:
            return
        from core.datamap.run_map import run_maps

        method = self.method.currentData()
        self._play(False)
        self.status.setText(f"Projecting {Path(run_dir).name} ({METHODS[method]})…")
        self._task.submit(lambda ctx: run_maps(run_dir, method, progress=ctx))

    def _on_maps(self, result) -> None:
        self.run_maps = result
        self.shown_index = len(result.maps) - 1  # the rows below are of this run's last map
        self._fit_next = True
        self.dropped = None  # a mark belongs to the map it was placed on
        self._dataset = result.dataset
        self._undo_count = 0
        self.relabel_as.clear()
        self.relabel_as.addItems(result.classes)
        self._loading = True  # drawn once, below, not at each change of the colour choices
        try:
            self._offer_familiarity(result.familiarity is not None)
            self._offer_issues()
        finally:
            self._loading = False
        self.selected = np.zeros(0, dtype=np.int64)
        self._update_actions()
        n = len(result.maps)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.setValue(n - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(n > 1)
        self.play_button.setEnabled(n > 1)
        skipped = f"; {len(result.skipped)} damaged epoch files skipped" if result.skipped else ""
        self.status.setText(f"{result.run_dir.name}: {len(result.maps[-1].features)} images, "
                            f"{n} map{'s' if n != 1 else ''}{skipped}")
        self.show_map(n - 1)

    def _on_failed(self, message: str) -> None:
        self.status.setText(f"No map: {message}")
        self.message.emit(f"Map: {message}")

    # ---- drawing -------------------------------------------------------------------------------------
    def show_map(self, index: int) -> None:
        if self.run_maps is None or not 0 <= index < len(self.run_maps.maps):
            return
        fit = self._fit_next
        self._fit_next = False
        self.shown_index = index
        epoch_map = self.run_maps.maps[index]
        features = epoch_map.features
        self.points_view.selected = self.selected
        self.points_view.set_points(epoch_map.points, self._colours(features), features.splits == VAL_SPLIT, fit)
        self.epoch_label.setText(f"epoch {epoch_map.epoch}" if epoch_map.epoch >= 0 else BEST)
        self.legend.setText(self._legend())
        self._draw_drop()

    def _legend(self) -> str:
        def swatch(colour, text):
            return f'<span style="color: rgb{tuple(colour)}">&#9679;</span> {text}'

        if self.colour.currentData() == "right":
            entries = [swatch(_RIGHT, "right"), swatch(_WRONG, "wrong")]
        elif self.colour.currentData() == "issues":
            entries = [swatch(_ramp(1.0), "label looks right"), swatch(_ramp(0.0), "likely mislabelled"),
                       swatch((170, 170, 170), "not scored")]
        elif self.colour.currentData() == "familiarity":
            entries = [swatch(_ramp(0.0), "unfamiliar"), swatch(_ramp(1.0), "familiar"),
                       f"(below {self.run_maps.threshold:.2f}: unfamiliar)"]
        else:
            entries = [swatch(_PALETTE[i % len(_PALETTE)], name) for i, name in enumerate(self.run_maps.classes)]
        return "&nbsp;&nbsp;".join(entries) + "&nbsp;&nbsp;(rings: validation images)"

    def _offer_familiarity(self, available: bool) -> None:
        index = self.colour.findData("familiarity")
        self.colour.blockSignals(True)
        if available and index < 0:
            self.colour.addItem(COLOUR_BY["familiarity"], "familiarity")
        elif not available and index >= 0:
            if self.colour.currentIndex() == index:
                self.colour.setCurrentIndex(0)
            self.colour.removeItem(index)
        self.colour.blockSignals(False)

    # ---- label-issue scores --------------------------------------------------------------------------
    def set_label_issues(self, scores: dict[str, float]) -> None:
        """Label-issue scores {file: score in [0, 1]} of a pass in the Evaluate tab: offered as a colour for a
        run whose images they cover."""
        from core.datamap.issue_scores import scores_by_file

        self._evaluate_issues = scores_by_file(scores.items())
        self._issue_cache = None
        self._offer_issues()
        if self.colour.currentData() == "issues":
            self.show_map(self.shown_index)

    def issue_scores(self, features) -> np.ndarray | None:
        """[N] label-issue score of each of a map's images (NaN: not scored), or None when there are none for
        this run: the run's own RUN/eval/label_issues.csv first, else the Evaluate tab's last pass."""
        from core.datamap.issue_scores import scores_for

        if self._issue_cache is not None and self._issue_cache[0] == id(features.ids):
            return self._issue_cache[1]
        found = None
        if self.run_maps is not None:
            found = scores_for(features.ids, self.run_maps.issues) or scores_for(features.ids, self._evaluate_issues)
        values = None if found is None else np.array([np.nan if v is None else v for v in found], np.float64)
        self._issue_cache = (id(features.ids), values)
        return values

    def _offer_issues(self) -> None:
        """The colour is always listed; greyed, with a tooltip saying how to get it, while there are no scores."""
        index = self.colour.findData("issues")
        available = self.run_maps is not None and self.issue_scores(self.run_maps.maps[self.shown_index].features) \
            is not None
        self.colour.model().item(index).setEnabled(available)
        self.colour.setItemData(index, None if available else NO_ISSUES_TIP, Qt.ItemDataRole.ToolTipRole)
        if not available and self.colour.currentIndex() == index:
            self.colour.setCurrentIndex(0)

    def _colours(self, features) -> np.ndarray:
        """[N, 3] uint8 colour of each point (arrays throughout: a map may hold 100,000 points)."""
        key = self.colour.currentData()
        if key == "issues":
            scores = self.issue_scores(features)
            if scores is not None:
                return _ramp_array(1.0 - scores)  # red: most likely mislabelled
        if key == "familiarity" and self.run_maps.familiarity is not None:
            scores = self.run_maps.familiarity
            return _ramp_array(np.array([np.nan if scores.get(name) is None else scores[name]
                                         for name in features.ids], dtype=np.float64))
        if key == "right":
            right = features.predictions == features.labels
            return np.where(right[:, None], np.array(_RIGHT, np.uint8), np.array(_WRONG, np.uint8)).astype(np.uint8)
        values = features.predictions if key == "prediction" else features.labels
        palette = np.array(_PALETTE, dtype=np.uint8)
        return palette[np.asarray(values, np.int64) % len(palette)]

    def shown_points(self) -> np.ndarray:
        return self.points_view.points

    # ---- replay and clicks ---------------------------------------------------------------------------
    def _play(self, on: bool) -> None:
        if on and self.slider.value() >= self.slider.maximum():
            self.slider.setValue(0)
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.blockSignals(False)
        self.play_button.setText("Pause" if on else "Play")
        (self._timer.start if on else self._timer.stop)()

    def _step(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self._play(False)
            return
        self.slider.setValue(self.slider.value() + 1)

    def _on_scene_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.view_box.lasso:
            return
        row = self.points_view.row_at(event.scenePos())
        if row is not None:
            self.choose_row(row)

    def choose_row(self, row: int) -> None:
        """A point clicked: its file is named, and inspected when it is a file."""
        features = self.run_maps.maps[self.shown_index].features
        path = features.ids[row]
        label = self.run_maps.classes[int(features.labels[row])] if self.run_maps.classes else ""
        self.status.setText(f"{path} ({label})")
        if Path(path).is_file():
            self.imageChosen.emit(path)

    # ---- hover thumbnails ----------------------------------------------------------------------------
    def _on_mouse_moved(self, scene_pos) -> None:
        if self.run_maps is None:
            return
        row = self.points_view.row_at(scene_pos)
        if row is not None:
            self.hover_row(row)

    def hover_row(self, row: int) -> None:
        features = self.run_maps.maps[self.shown_index].features
        self.show_hover(features.ids[row], self.run_maps.classes[int(features.labels[row])])

    def show_hover(self, path: str, label: str) -> None:
        """The image of a hovered point: from the cache at once, else decoded in the background."""
        if path == self.hovered_path:
            return
        self.hovered_path = path
        self.hover_text.setText(f"{Path(path).name}\n{label}")
        if path in self._thumbs:
            self._thumbs.move_to_end(path)
            self._show_thumbnail(self._thumbs[path])
            return
        self.hover_image.clear()
        self._thumb_task.submit(lambda ctx: (path, _decode_thumbnail(path)))

    def _on_thumbnail(self, result) -> None:
        path, rgb = result
        self._thumbs[path] = rgb
        while len(self._thumbs) > THUMB_CACHE:
            self._thumbs.popitem(last=False)
        if path == self.hovered_path:
            self._show_thumbnail(rgb)

    def _show_thumbnail(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self.hover_image.setText("(no file)")
            return
        h, w = rgb.shape[:2]
        image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.hover_image.setPixmap(QPixmap.fromImage(image.copy()))  # copy: the QImage must not outlive rgb


    # ---- a dropped image ----------------------------------------------------------------------------
    def place_dropped(self, path: str) -> None:
        """Mark where an image file falls on this run's map (computed in the background); it replaces the mark
        of the image dropped before."""
        if self.run_maps is None:
            return
        from core.datamap.drop import place_image

        run_dir, maps = self.run_maps.run_dir, list(self.run_maps.maps)
        self.status.setText(f"Placing {Path(path).name} on the map…")
        self._drop_task.submit(lambda ctx: (run_dir, place_image(run_dir, maps, path, progress=ctx)))

    def _on_placed(self, result) -> None:
        run_dir, placement = result
        if self.run_maps is None or run_dir != self.run_maps.run_dir:
            return  # another run was opened meanwhile
        self.dropped = placement
        epoch = self.run_maps.maps[placement.map_index].epoch
        where = f"epoch {epoch}" if epoch >= 0 else BEST
        self._say(f"{Path(placement.image).name} placed on the map of {where} ({placement.checkpoint}): "
                  f"{placement.prediction} {placement.probability:.0%}")
        if placement.map_index != self.shown_index:
            self._play(False)
            self.slider.setValue(placement.map_index)  # shows that map (and the mark)
        else:
            self._draw_drop()

    def _draw_drop(self) -> None:
        placement = self.dropped
        shown = placement is not None and placement.map_index == self.shown_index
        self.drop_text.setVisible(shown)  # hidden, it costs a pan step nothing
        if not shown:
            self.drop_mark.setData(pos=np.zeros((0, 2)))
            self.drop_text.setText("")
            return
        x, y = (float(v) for v in placement.point)
        self.drop_mark.setData(pos=[(x, y)])
        self.drop_text.setText(f"{Path(placement.image).name}: {placement.prediction} {placement.probability:.0%}")
        self.drop_text.setPos(x, y)

    # ---- selection and corrections -----------------------------------------------------------------
    def select_in_polygon(self, polygon) -> None:
        """Select the shown points inside a lasso's outline (data coordinates)."""
        from core.datamap.selection import inside_polygon

        if self.run_maps is None:
            return
        self.select_rows(inside_polygon(self.run_maps.maps[self.shown_index].points, polygon))

    def select_rows(self, rows) -> None:
        self.selected = np.asarray(rows, dtype=np.int64)
        self._draw_selection()
        self._update_actions()

    def selected_files(self) -> list[str]:
        if self.run_maps is None:
            return []
        ids = self.run_maps.maps[self.shown_index].features.ids
        return [ids[int(r)] for r in self.selected if Path(ids[int(r)]).is_file()]

    def _draw_selection(self) -> None:
        self.points_view.set_selected(self.selected if self.run_maps is not None else np.zeros(0, np.int64))

    def _update_actions(self) -> None:
        files = len(self.selected_files())
        usable = self._dataset is not None and files > 0
        for button in (self.relabel_button, self.exclude_button, self.confirm_button, self.relabel_as):
            button.setEnabled(usable)
        self.undo_button.setEnabled(self._dataset is not None and self._undo_count > 0)
        self.pin_button.setEnabled(files > 0)
        self.unpin_button.setEnabled(bool(self.pinned))
        self.unpin_button.setText(f"Unpin {len(self.pinned)}" if self.pinned else "Unpin")
        if not len(self.selected):
            self.selection_label.setText("No selection" if self._dataset is not None else
                                         "Corrections need a run trained on an image folder")
        else:
            self.selection_label.setText(f"{len(self.selected)} selected"
                                         + ("" if files == len(self.selected) else f" ({files} image files)"))

    def pin_selection(self) -> None:
        """The selection's image files become the probes the next run follows (the first ones, up to the limit)."""
        files = self.selected_files()
        limit = catalog.PROBE_IMAGES.maximum
        self.set_pinned(files[:limit])
        more = f" (the first {limit} of {len(files)}: a run follows at most {limit})" if len(files) > limit else ""
        self._say(f"Pinned {len(self.pinned)} images as probes{more}: the next run started here follows them "
                  "in its probe timeline")

    def set_pinned(self, files: list[str]) -> None:
        self.pinned = list(files)
        self._update_actions()

    def pinned_probe_paths(self) -> list[str]:
        """The image files pinned as probes on the map (a run started in the window follows them)."""
        return list(self.pinned)

    def correct(self, action: str) -> None:
        """Write the selection's images into the dataset's corrections file (relabel / exclude / confirm)."""
        from core.datamap.selection import correct_files

        files, root = self.selected_files(), self._dataset
        if not files or root is None:
            return
        label, classes = self.relabel_as.currentText(), list(self.run_maps.classes)
        self._edits.submit(lambda ctx: ("edit", correct_files(root, files, action, label, classes), action, label))

    def undo(self) -> None:
        from core.datamap.selection import undo_edits

        root, count = self._dataset, self._undo_count
        if root is None or not count:
            return
        self._edits.submit(lambda ctx: ("undo", undo_edits(root, count), "undo", ""))

    def _on_edited(self, result) -> None:
        kind, count, action, label = result
        self._undo_count = count if kind == "edit" else 0
        what = f"{action} as {label}" if action == "relabel" else action
        self._say(f"{what}: {count} images in the corrections file of {self._dataset}" if kind == "edit" else
                  f"undone: {count} corrections in {self._dataset}")
        self._update_actions()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.message.emit(text)

def _ramp(score: float | None) -> tuple[int, int, int]:
    """Red (unlike the training images) through yellow to green (like them); grey: not scored."""
    if score is None:
        return (170, 170, 170)
    s = min(1.0, max(0.0, float(score)))
    return (int(215 - 170 * s), int(48 + 127 * min(1.0, 2 * s)), int(39 + 21 * s))


def _ramp_array(scores: np.ndarray) -> np.ndarray:
    """_ramp of each score [N] (NaN: not scored) -> [N, 3] uint8."""
    s = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, 1.0)
    rgb = np.stack([215 - 170 * s, 48 + 127 * np.minimum(1.0, 2 * s), 39 + 21 * s], axis=1).astype(np.uint8)
    rgb[np.isnan(scores)] = (170, 170, 170)
    return rgb


def _decode_thumbnail(path: str) -> np.ndarray | None:
    """A hovered image as RGB of at most HOVER_PX (on the thumbnail task); None when it is not a readable file
    (an in-memory training image, a file gone since)."""
    from core.io.images import ImageLoadError, load_image

    if not Path(path).is_file():
        return None
    try:
        image = load_image(path)
    except ImageLoadError:
        return None
    image.thumbnail((HOVER_PX, HOVER_PX))
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))

