"""Familiarity during a training run, chosen from its TrainConfig (familiarity_callbacks, installed by
core.training.session for the process that owns the run folder):

- EmbedEvery (--embed-every N): the feature pass at the end of every N-th epoch and of the last one
  (RUN/familiarity/epoch-N.npz), so the map can replay the run;
- BanksAtEnd (--familiarity): the feature banks of best.pt and last.pt when the run ends, so a finished run
  scores new images (predict, the inspector) with no dataset at hand.

A failure here is reported (on_warning, and in `errors`), never raised into the training: the run itself is
what matters.
"""
from __future__ import annotations

from pathlib import Path

from core.training.callbacks import Callback, EpochMetrics, FitSummary, RunView


def _describe(exc: BaseException) -> str:
    from core.errors import describe_failure

    return describe_failure(exc) or f"{type(exc).__name__}: {exc}"


class _Reporting(Callback):
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.errors: list[str] = []
        self.on_warning = None  # optional callable(message)

    def _failed(self, what: str, exc: BaseException) -> None:
        message = f"{what} failed: {_describe(exc)}"
        self.errors.append(message)
        if self.on_warning is not None:
            self.on_warning(message)


class EmbedEvery(_Reporting):
    """The map's feature pass every `every` epochs (and at the last epoch), on the training thread."""

    def __init__(self, run_dir: str | Path, every: int):
        super().__init__(run_dir)
        self.every = max(1, int(every))
        self.written: list[Path] = []

    def on_epoch_end(self, run: RunView, metrics: EpochMetrics) -> None:
        epoch = run.epoch
        if epoch % self.every and epoch != run.config.epochs:
            return
        from core.familiarity.jobs import epoch_features

        try:
            self.written.append(epoch_features(run.model, run.data, self.run_dir, epoch,
                                               batch_size=max(64, run.config.batch_size * 2)))
        except Exception as exc:  # the run goes on without this epoch's map
            self._failed(f"the map's features of epoch {epoch}", exc)


class BanksAtEnd(_Reporting):
    """best.familiarity.npz and last.familiarity.npz when a run completes (a stopped run: layerscope familiarity)."""

    def __init__(self, run_dir: str | Path):
        super().__init__(run_dir)
        self.written: list[Path] = []

    def _build(self, run: RunView) -> None:
        from core.familiarity.jobs import run_banks

        try:
            self.written = run_banks(run.model, run.data, self.run_dir, batch_size=max(64, run.config.batch_size * 2))
        except Exception as exc:
            self._failed("the familiarity bank", exc)

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        self._build(run)


def familiarity_callbacks(config, run_dir: str | Path) -> list[Callback]:
    callbacks: list[Callback] = []
    if getattr(config, "embed_every", 0):
        callbacks.append(EmbedEvery(run_dir, config.embed_every))
    if getattr(config, "familiarity_at_end", False):
        callbacks.append(BanksAtEnd(run_dir))
    return callbacks
