"""The one code path from run records to the Train tab: plots, progress bars and log lines.

Records (core.runs.records) arrive in batches, read by the run handle from the run folder's metrics.jsonl, whether
this window started the run (in a process of its own) or only follows it; both go through
`RecordView.show(records)`, so a followed run looks exactly like a run started here.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Slot

from core.runs import layout


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "–"


def _num(value, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "–"


def describe(record: dict, *, failures: bool = True) -> tuple[str, str] | None:
    """(level, text) for the log, or None for records the log does not show (steps, heartbeats).
    failures=False leaves error/diverged to whoever reports them with more detail (the app's own run)."""
    kind = record.get("kind")
    if kind == "start":
        return "info", (f"Training on {record.get('device') or '?'}: {record.get('train_size', '?')} train / "
                        f"{record.get('val_size', '?')} val images, {record.get('batches_per_epoch')} batches per epoch, "
                        f"{record.get('epochs')} epochs")
    if kind == "resume":
        return "info", f"Resumed after epoch {record.get('epoch')}, step {record.get('step')}"
    if kind == "epoch":
        return "info", (f"Epoch {record.get('epoch')}: train loss {_num(record.get('train_loss'))}, train acc "
                        f"{_pct(record.get('train_acc'))}, val loss {_num(record.get('val_loss'))}, val acc "
                        f"{_pct(record.get('val_acc'))}, lr {_num(record.get('lr'), '.3g')}, "
                        f"{_num(record.get('images_per_sec'), '.0f')} img/s, {_num(record.get('duration_s'), '.1f')} s")
    if kind == "early_stop":
        return "info", (f"Early stop after epoch {record.get('epoch')}: {record.get('metric')} did not improve for "
                        f"{record.get('patience')} epochs (best at epoch {record.get('best_epoch')})")
    if kind == "end":
        return "info", f"Run finished after {record.get('epoch')} epochs, best val acc {_pct(record.get('best_val_acc'))}"
    if kind == "stopped":
        return "info", f"Run stopped at epoch {record.get('epoch')}, step {record.get('step')}; {layout.LAST} holds the position"
    if kind in ("error", "diverged") and failures:
        return "error", f"Run {'diverged' if kind == 'diverged' else 'failed'}: {record.get('message')}"
    return None


class RecordView(QObject):
    """Feeds record batches to the plots (`add_records`), the progress panel (`add_records`), the compute
    breakdown (`add_records`, optional) and the log (`append(level, text)`)."""

    def __init__(self, plots, progress, log, parent: QObject | None = None, compute=None):
        super().__init__(parent)
        self.plots, self.progress, self.log, self.compute = plots, progress, log, compute
        self.failures_in_log = True  # False for the app's own run: the controller reports its failure itself
        self.records_shown = 0

    def reset(self, *, own_run: bool) -> None:
        self.plots.clear()
        self.progress.reset()
        self.progress.set_status("")
        if self.compute is not None:
            self.compute.reset()
        self.failures_in_log = not own_run
        self.records_shown = 0

    @Slot(list)
    def show(self, records: list) -> None:
        if not records:
            return
        self.records_shown += len(records)
        self.plots.add_records(records)
        self.progress.add_records(records)
        if self.compute is not None:
            self.compute.add_records(records)
        for record in records:
            line = describe(record, failures=self.failures_in_log)
            if line is not None:
                self.log.append(*line)
