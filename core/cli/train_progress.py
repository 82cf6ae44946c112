"""What `layerscope train` prints while it runs: a tqdm bar over all steps, with a line per epoch above it."""
from __future__ import annotations

import sys


class ConsoleProgress:
    """`callback` is the engine callback that drives it (made on first use: importing callbacks imports torch)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.callback = _progress_callback(self)

    def start(self, info) -> None:
        """info: the run's core.training.callbacks.FitStart."""
        self.write(f"training on {info.device}: {info.train_size} train / {info.val_size} val images, "
                   f"{len(info.classes)} classes, epochs {info.start_epoch + 1}..{info.epochs}")
        if not self.quiet:
            from tqdm import tqdm

            done = info.start_epoch * info.batches_per_epoch
            # disable=None: no bar when stderr is not a terminal (CI logs, pipes).
            self.bar = tqdm(total=info.total_steps, initial=done, unit="step", dynamic_ncols=True,
                            file=sys.stderr, disable=None, mininterval=0.25)

    def batch(self, report) -> None:
        if self.bar is not None:
            self.bar.update(report.step - self.bar.n)
            loss = report.losses[-1][1] if report.losses else float("nan")
            self.bar.set_postfix_str(f"epoch {report.epoch}/{report.epochs} loss {loss:.4f} "
                                     f"{report.images_per_sec:,.0f} img/s")

    def epoch(self, m) -> None:
        self.write(f"epoch {m.epoch:>3}: train loss {m.train_loss:.4f}  acc {m.train_acc:.3f} | "
                   f"val loss {m.val_loss:.4f}  acc {m.val_acc:.3f} | lr {m.lr:.2e} | "
                   f"{m.images_per_sec:,.0f} img/s | {m.duration_s:.1f}s")

    def write(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _progress_callback(progress: ConsoleProgress):
    from core.training.callbacks import Callback

    class _Callback(Callback):
        def on_fit_start(self, run, start):
            progress.start(start)

        def on_batch_end(self, run, report):
            progress.batch(report)

        def on_epoch_end(self, run, m):
            progress.epoch(m)

        def on_fit_end(self, run, summary):
            progress.close()

        def on_stopped(self, run, summary):
            progress.close()

        def on_error(self, run, error):
            progress.close()

    return _Callback()
