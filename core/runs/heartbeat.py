"""A daemon thread that appends a heartbeat record every few seconds while a run is alive, so that a follower
can tell a paused or evaluating run from a writer that died without a word (kill -9, power cut, lost mount).

It never touches the trainer's state beyond reading two flags, and writes only through the callable it is
given (the recorder's single locked append).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable

DEFAULT_INTERVAL_S = 2.0
ENV_INTERVAL = "LAYERSCOPE_HEARTBEAT_S"  # tests and slow mounts may change it without a code change


def interval_from_env(default: float = DEFAULT_INTERVAL_S) -> float:
    text = os.environ.get(ENV_INTERVAL, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        return default
    return value if value > 0 else default


class Heartbeat:
    def __init__(self, beat: Callable[[], None], interval_s: float = DEFAULT_INTERVAL_S):
        self.beat = beat
        self.interval_s = float(interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="layerscope-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.beat()
            except (OSError, ValueError):  # a full disk must not kill the run from here; the next hook reports it
                continue

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
