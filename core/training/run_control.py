"""ControlWatch: the callback that applies RUN/control.json (core.runs.control) to the trainer of the run's main
process: pause, resume and stop asked from outside the run's processes.

A pause is obeyed as a lease when it carries one: the follower that wrote it rewrites the file every few
seconds, and when the file has gone unchanged for the lease's length (on this process's own clock, so the
clocks of other machines do not matter) the run goes on by itself and says so.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from core.runs.control import (POLL_INTERVAL_S, control_path, process_started_at, read_control, remove_control,
                               write_control)
from core.training.callbacks import Callback, FitStart, FitSummary, RunView

NO_CONTROL = {"pause": None, "stop": False, "snapshot": None, "time": None, "by": "", "lease_s": None}


class ControlWatch(Callback):
    """Applies RUN/control.json to the trainer of this process (the main one). A new snapshot number calls
    `on_snapshot()` (core.training.live_snapshot.LiveSnapshot.request). A pause the run obeys is said through
    `on_warning` (the CLI prints it, even when quiet): who asked and when, and how to go on. A pause or stop
    written before `started_at` (process_started_at(): when the run's processes began) is an earlier run's and
    is cleared at the start, never obeyed. A pause whose lease lapses is let go, and said."""

    def __init__(self, run_dir: str | os.PathLike, interval_s: float = POLL_INTERVAL_S,
                 on_snapshot: Callable[[], None] | None = None, *, started_at: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.run_dir = Path(run_dir)
        self.interval_s = interval_s
        self.on_snapshot = on_snapshot
        self.on_warning: Callable[[str], None] | None = None
        self.started_at = process_started_at() if started_at is None else started_at
        self._clock = clock
        self._next_look = 0.0
        self._seen: tuple | None = None  # (inode, mtime_ns, size) of the file last read
        self._changed_at = clock()  # when (on self._clock) the file last changed: a renewal of a lease
        self._lease: tuple[float, str] | None = None  # (lease_s, by) of the pause obeyed now
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
                self._apply(run, read_control(self.run_dir) or NO_CONTROL)
        self._check_lease(run, now)

    def _apply(self, run: RunView, control: dict) -> None:
        if control["snapshot"] is not None and control["snapshot"] != self._snapshot_seen:
            self._snapshot_seen = control["snapshot"]
            if self.on_snapshot is not None:
                self.on_snapshot()
        if control["stop"]:
            run.stop()
        elif control["pause"] is True:
            self._pause(run, control)
        elif control["pause"] is False and run.pause_wanted:
            self._lease = None
            run.resume(f"resumed by {control['by']}" if control["by"] else "")

    def _pause(self, run: RunView, control: dict) -> None:
        self._lease = (control["lease_s"], control["by"]) if control["lease_s"] else None
        if run.pause_wanted:
            return  # a renewal of the pause obeyed now
        run.pause(f"paused by {control['by']}" if control["by"] else "")
        self._say(_paused_by(control, self.run_dir))

    def _check_lease(self, run: RunView, now: float) -> None:
        if self._lease is None or not run.pause_wanted:
            return
        lease_s, by = self._lease
        if now - self._changed_at <= lease_s:
            return
        self._lease = None
        why = f"the pause{' by ' + by if by else ''} lapsed: not renewed for {lease_s:.0f} s"
        run.resume(why)
        self._say(f"going on: {why}")

    def _say(self, text: str) -> None:
        if self.on_warning is not None:
            self.on_warning(text)

    def on_fit_start(self, run: RunView, start: FitStart) -> None:
        control = read_control(self.run_dir)
        stale_pause = bool(control) and control["pause"] is True and self._older_than_run(control)
        if control and (control["stop"] or stale_pause):
            # Meant for an earlier process of this run (it ended before reading it): cleared, never obeyed.
            if stale_pause:
                self._say(f"ignored a pause in {control_path(self.run_dir)} written before this run started "
                          f"({_when(control)}{', by ' + control['by'] if control['by'] else ''})")
            try:
                write_control(self.run_dir, pause=None if stale_pause else control["pause"],
                              snapshot=control["snapshot"], by=control["by"] or None)
            except OSError:
                pass
        self.poll(run, force=True)  # a run started (or resumed) with the file saying pause starts paused

    def _older_than_run(self, control: dict) -> bool:
        when = control.get("time")
        if when is None:  # hand-written, no time: the file's own modification time says when
            try:
                when = control_path(self.run_dir).stat().st_mtime
            except OSError:
                return True
        return when < self.started_at - CLOCK_SLACK_S

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


CLOCK_SLACK_S = 1.0  # process_started_at() from /proc is known to about a second


def _when(control: dict) -> str:
    try:
        return time.strftime("at %Y-%m-%d %H:%M:%S", time.localtime(control["time"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):  # none, or no time a clock can show
        return "at an unknown time"


def _paused_by(control: dict, run_dir: Path) -> str:
    who = f" by {control['by']}" if control.get("by") else ""
    lapse = (f", or by itself if the pause is not renewed for {control['lease_s']:.0f} s"
             if control.get("lease_s") else "")
    return (f"paused{who} {_when(control)} through {control_path(run_dir)}; it goes on when un-paused from the app "
            f"that paused it, or when that file says {{\"pause\": false}}{lapse}")
