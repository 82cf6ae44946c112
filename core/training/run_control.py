"""ControlWatch: the callback that applies RUN/control.json (core.runs.control) to the trainer of the run's main
process: pause, resume and stop asked from outside the run's processes.

A pause is obeyed as a lease when it carries one: the follower that wrote it rewrites the file every few
seconds, and when the file has gone unchanged for the lease's length (on this process's own clock, so the
clocks of other machines do not matter) the run goes on by itself and says so. Commands written before this
run was set up (its ControlWatch made) were meant for an earlier run in the folder and are not obeyed.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from core.runs.control import (POLL_INTERVAL_S, control_path, describe_pauser, read_control, remove_control,
                               write_control)
from core.training.callbacks import Callback, FitStart, FitSummary, RunView

NO_CONTROL = {"pause": None, "stop": False, "snapshot": None, "time": None, "lease_s": None, "by": None}


def _clock_time(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


class ControlWatch(Callback):
    """Applies RUN/control.json to the trainer of this process (the main one). A new snapshot number calls
    `on_snapshot()` (core.training.live_snapshot.LiveSnapshot.request). `on_warning(text)`, when set (the CLI
    prints it), hears who paused the run and when, and when a pause lapsed."""

    def __init__(self, run_dir: str | os.PathLike, interval_s: float = POLL_INTERVAL_S,
                 on_snapshot: Callable[[], None] | None = None, *, born: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.run_dir = Path(run_dir)
        self.interval_s = interval_s
        self.on_snapshot = on_snapshot
        self.on_warning: Callable[[str], None] | None = None
        # The run's birth (made with the trainer, before its first step): older commands are not for it.
        self.born = born if born is not None else time.time()
        self._clock = clock
        self._next_look = 0.0
        self._seen: tuple | None = None  # (inode, mtime_ns, size) of the file last read
        self._changed_at = clock()  # when (on self._clock) the file last changed: a renewal of a lease
        self._lease: tuple[float, dict | None] | None = None  # (lease_s, by) of the pause obeyed now
        self._snapshot_seen: int | None = None

    def poll(self, run: RunView, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now < self._next_look:
            return
        self._next_look = now + self.interval_s
        try:
            st = control_path(self.run_dir).stat()
        except OSError:
            st = None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size) if st is not None else None
        if stamp != self._seen:
            self._seen, self._changed_at = stamp, now
            if st is not None:
                control = read_control(self.run_dir) or NO_CONTROL
                self._apply(run, control, written=max(control["time"] or 0.0, st.st_mtime))
        self._check_lease(run, now)

    def _apply(self, run: RunView, control: dict, written: float) -> None:
        if control["snapshot"] is not None and control["snapshot"] != self._snapshot_seen:
            self._snapshot_seen = control["snapshot"]
            if self.on_snapshot is not None:
                self.on_snapshot()
        if written < self.born:
            return  # for an earlier run in this folder (its stop or pause never reached it)
        if control["stop"]:
            run.stop()
        elif control["pause"] is True:
            self._pause(run, control, written)
        elif control["pause"] is False and run.pause_wanted:
            self._lease = None
            run.resume(f"resumed by {describe_pauser(control['by'])}" if control["by"] else "")

    def _pause(self, run: RunView, control: dict, written: float) -> None:
        self._lease = (control["lease_s"], control["by"]) if control["lease_s"] else None
        if run.pause_wanted:
            return  # a renewal of the pause obeyed now
        who = describe_pauser(control["by"])
        run.pause(f"paused by {who}")
        lapse = (f"; it goes on by itself if the pause is not renewed for {control['lease_s']:.0f} s"
                 if control["lease_s"] else "")
        self._say(f"paused by {who} at {_clock_time(written)}{lapse}")

    def _check_lease(self, run: RunView, now: float) -> None:
        if self._lease is None or not run.pause_wanted:
            return
        lease_s, by = self._lease
        if now - self._changed_at <= lease_s:
            return
        self._lease = None
        why = f"the pause by {describe_pauser(by)} lapsed: not renewed for {lease_s:.0f} s"
        run.resume(why)
        self._say(f"going on: {why}")

    def _say(self, text: str) -> None:
        if self.on_warning is not None:
            self.on_warning(text)

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        control = read_control(self.run_dir)
        if control and control["stop"] and (control["time"] or 0.0) < self.born:
            # A stop for an earlier process of this run (it ended before reading it): cleared, so a follower
            # reading the file does not take it for a stop of this one. An old pause goes with it.
            try:
                write_control(self.run_dir, pause=None, snapshot=control["snapshot"])
            except OSError:
                pass
        self.poll(run, force=True)  # a pause written since this process started holds from its first step

    def on_fit_end(self, run: RunView, summary: FitSummary) -> None:
        remove_control(self.run_dir)

    def on_stopped(self, run: RunView, summary: FitSummary) -> None:
        remove_control(self.run_dir)

    def on_error(self, run: RunView, error: BaseException) -> None:
        remove_control(self.run_dir)

    def on_train_step(self, run: RunView) -> None:
        self.poll(run)

    def on_pause_wait(self, run: RunView) -> None:
        self.poll(run)
