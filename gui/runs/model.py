"""The runs table: one row per RunSummary, updated in place (rows keep their selection while runs are
written), sorted by real values (numbers, times), filtered by text over every column plus the note.

The source model sorts itself with Python's sort (C speed, one key call a row). QSortFilterProxyModel's own
sort asks data() from Python twice per comparison: 250 ms of frozen window for 1,000 runs, seconds for
10,000. The proxy only filters, and forwards sort() here."""
from __future__ import annotations

import time

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from core.runs.index import MISSING, UNREADABLE, RunSummary
from core.runs.layout import LAST
from core.runs.reducer import FAILED, INTERRUPTED, NOT_RESPONDING, PAUSED, RUNNING, STOPPED

COLUMNS = ("Name", "Status", "Dataset", "Model", "Epochs", "Best val acc", "Started", "Duration", "Note")
STATUS_COLOURS = {RUNNING: QColor(30, 130, 60), PAUSED: QColor(170, 120, 0), FAILED: QColor(190, 30, 30),
                  NOT_RESPONDING: QColor(190, 30, 30), INTERRUPTED: QColor(200, 90, 0), MISSING: QColor(120, 120, 120),
                  UNREADABLE: QColor(190, 30, 30)}
# What a status means and what to do, in the row's tooltip.
STATUS_TIPS = {
    NOT_RESPONDING: "Not responding: no heartbeat for a while (busy, suspended, or gone)",
    INTERRUPTED: f"Interrupted: its process ended without a final record (killed, crashed, or its machine went "
                 f"down). Resume continues it from its {LAST}",
    STOPPED: f"Stopped: Resume continues it from its {LAST}",
    FAILED: f"Failed: after fixing the cause, Resume continues it from its {LAST}",
}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class RunsTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[RunSummary] = []
        self._row_of: dict[str, int] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None

    # ---- data in -------------------------------------------------------------------------------------
    def set_runs(self, summaries: list[RunSummary]) -> None:
        """Replace the rows with `summaries`: removed runs go, changed rows update in place, new ones append."""
        new = {s.path: s for s in summaries}
        gone = sorted((i for i, r in enumerate(self._rows) if r.path not in new), reverse=True)
        for i in gone:  # contiguous runs of rows could be removed at once; one at a time is simple and rare
            self.beginRemoveRows(QModelIndex(), i, i)
            del self._rows[i]
            self.endRemoveRows()
        self._row_of = {r.path: i for i, r in enumerate(self._rows)}
        for i, row in enumerate(self._rows):
            fresh = new[row.path]
            if fresh != row:
                self._rows[i] = fresh
                self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
        added = [s for s in summaries if s.path not in self._row_of]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()
            self._row_of = {r.path: i for i, r in enumerate(self._rows)}
            if self._sort is not None:
                self.sort(*self._sort)  # new runs take their place in the order

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by a column's real value; selected rows stay selected (persistent indexes move)."""
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        keys = [(self._rows[i.row()].path, i.column()) for i in persistent]
        self._rows.sort(key=lambda run: self._sort_value(run, column),
                        reverse=order == Qt.SortOrder.DescendingOrder)
        self._row_of = {r.path: i for i, r in enumerate(self._rows)}
        self.changePersistentIndexList(persistent, [self.index(self._row_of[p], c) for p, c in keys])
        self.layoutChanged.emit()

    def update_run(self, summary: RunSummary) -> None:
        i = self._row_of.get(summary.path)
        if i is not None and self._rows[i] != summary:
            self._rows[i] = summary
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))

    def summary(self, row: int) -> RunSummary:
        return self._rows[row]

    def summary_for(self, path: str) -> RunSummary | None:
        i = self._row_of.get(path)
        return self._rows[i] if i is not None else None

    def row_of(self, path: str) -> int | None:
        return self._row_of.get(path)

    # ---- Qt's model interface ------------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        run, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(run, col)
        if role == SORT_ROLE:
            return self._sort_value(run, col)
        if role == PATH_ROLE:
            return run.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(t for t in (run.path, STATUS_TIPS.get(run.status, ""), run.error and f"Problem: {run.error}",
                                          run.note) if t)
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            return STATUS_COLOURS.get(run.status)
        if role == Qt.ItemDataRole.BackgroundRole and run.error:
            return QColor(255, 240, 225)  # the row has a problem: its tooltip and Status say what
        return None

    @staticmethod
    def _text(run: RunSummary, col: int) -> str:
        if col == 0:
            return run.name
        if col == 1:
            eta = f" · {_duration(run.eta_s)} left" if run.eta_s is not None else ""
            return run.status + eta + (" ⚠" if run.error else "")
        if col == 2:
            return run.dataset
        if col == 3:
            return run.model
        if col == 4:
            return run.epochs_text
        if col == 5:
            return f"{run.best_val_acc:.4f}" if run.best_val_acc is not None else ""
        if col == 6:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)) if run.started else ""
        if col == 7:
            return _duration(run.duration_s)
        return run.note.splitlines()[0] if run.note else (run.error[:80] if run.error else "")

    @staticmethod
    def _sort_value(run: RunSummary, col: int):
        values = (run.name.lower(), run.status, run.dataset, run.model, run.epochs_done,
                  run.best_val_acc if run.best_val_acc is not None else -1.0, run.started or 0.0,
                  run.duration_s or 0.0, run.note)
        return values[col]


class RunsFilterProxy(QSortFilterProxyModel):
    """Sorts by each column's real value; the filter text matches any column, the note or the path."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._needle = ""

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if column >= 0:
            self.sourceModel().sort(column, order)  # the proxy keeps the source's order
    def set_filter_text(self, text: str) -> None:
        self.beginFilterChange()  # Qt 6.10+: invalidateFilter() is deprecated
        self._needle = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if not self._needle:
            return True
        model = self.sourceModel()
        run = model.summary(source_row)
        hay = " ".join((run.name, run.status, run.dataset, run.model, run.note, run.path, run.error)).lower()
        return all(word in hay for word in self._needle.split())
