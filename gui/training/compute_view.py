"""Where the processing power goes, live: a small stacked bar per process (waiting for data / computing / waiting
for the other processes / the loop's own work) and the verdict in words, from the run's "compute" records
(docs/records.md). Records only, so a followed run (a CLI run, a torchrun job) shows it the same way.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Slot
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

# (share field, what the user reads, colour)
PARTS = (("data_share", "waiting for data", QColor("#e0a030")), ("compute_share", "computing", QColor("#3f7fd0")),
         ("sync_share", "waiting for other processes", QColor("#c05050")), ("other_share", "other", QColor("#b8b8b8")))
KIND_COLOURS = {"data-bound": "#a66a00", "sync-bound": "#b03030", "gpu-idle": "#b03030", "overhead": "#a66a00",
                "compute-bound": "#2e7d32", "balanced": "#2e7d32", "idle": "#6d6d6d"}


def shares(record: dict) -> list[float]:
    """The four shares of a compute record, in PARTS order (a missing one is 0)."""
    out = []
    for key, _, _ in PARTS:
        value = record.get(key)
        out.append(float(value) if isinstance(value, (int, float)) and value > 0 else 0.0)
    return out


def resources_text(record: dict) -> str:
    """One line of what the machine did: the process's CPU and memory, its loader workers, the GPU's."""
    parts = []
    if isinstance(record.get("cpu_percent"), (int, float)):
        parts.append(f"CPU {record['cpu_percent']:.0f} %")
    if isinstance(record.get("rss_mb"), (int, float)):
        parts.append(f"{record['rss_mb']:.0f} MB")
    if record.get("workers"):
        parts.append(f"{record['workers']} loader workers {record.get('workers_cpu_percent') or 0:.0f} % CPU")
    if isinstance(record.get("gpu_util_percent"), (int, float)):
        parts.append(f"GPU {record['gpu_util_percent']:.0f} %")
    if isinstance(record.get("gpu_memory_used_mb"), (int, float)):
        parts.append(f"GPU memory {record['gpu_memory_used_mb'] / 1024:.1f} GB")
    return " · ".join(parts)


class StackedBar(QWidget):
    """One horizontal bar split into the shares of PARTS."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.values = [0.0] * len(PARTS)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(200, 14)

    def set_shares(self, values: list[float]) -> None:
        self.values = list(values)
        self.setToolTip("\n".join(f"{label}: {round(100 * v)} %" for (_, label, _), v in zip(PARTS, values)))
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.fillRect(rect, QColor("#eeeeee"))
        total = sum(self.values)
        x = rect.left()
        for (_, _, colour), value in zip(PARTS, self.values):
            width = rect.width() * value / max(total, 1.0)
            painter.fillRect(QRectF(x, rect.top(), width, rect.height()), colour)
            x += width
        painter.setPen(QColor("#9a9a9a"))
        painter.drawRect(rect)


class ProcessRow(QWidget):
    """One process: its label (a multi-process run's rank), the bar, the verdict and the resources line."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.bar = StackedBar()
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.resources = QLabel()
        self.resources.setObjectName("computeResources")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 2)
        layout.setSpacing(2)
        for widget in (self.bar, self.verdict, self.resources):
            layout.addWidget(widget)

    def show_record(self, record: dict, title: str) -> None:
        from html import escape

        self.bar.set_shares(shares(record))
        colour = KIND_COLOURS.get(record.get("verdict_kind"), "#000000")
        text = escape(str(record.get("verdict") or record.get("verdict_kind") or ""))
        self.verdict.setText(f"{escape(title)}<span style='color:{colour}'>{text}</span>")
        self.resources.setText(resources_text(record))


class ComputePanel(QWidget):
    """The latest compute record of each process, one row each; hidden until a run writes one."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("<b>Where the time goes</b>")
        self.legend = QLabel("  ".join(f"<span style='color:{c.name()}'>■</span> {label}" for _, label, c in PARTS))
        self.legend.setWordWrap(True)
        self.rows: dict[int, ProcessRow] = {}
        self.latest: dict[int, dict] = {}  # rank -> its last compute record
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 6, 0, 0)
        self._layout.setSpacing(3)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.legend)
        self.setVisible(False)

    def reset(self) -> None:
        for row in self.rows.values():
            row.deleteLater()
        self.rows, self.latest = {}, {}
        self.setVisible(False)

    @Slot(list)
    def add_records(self, records: list) -> None:
        fresh = {}
        for record in records:
            if record.get("kind") == "compute":
                rank = record.get("rank") if isinstance(record.get("rank"), int) else 0
                fresh[rank] = record
        if not fresh:
            return
        self.latest.update(fresh)
        many = len(self.latest) > 1 or any((r.get("world_size") or 1) > 1 for r in self.latest.values())
        for rank in sorted(self.latest):
            row = self.rows.get(rank)
            if row is None:
                row = self.rows[rank] = ProcessRow()
                self._layout.addWidget(row)
            if rank in fresh:
                row.show_record(fresh[rank], f"rank {rank}: " if many else "")
        self.setVisible(True)

    def verdicts(self) -> dict[int, str]:
        """Each process's verdict as plain text (what a test or a screen reader reads)."""
        return {rank: str(record.get("verdict") or "") for rank, record in self.latest.items()}
