"""What other threads ask of a running fit: stop, pause / resume, a mid-epoch checkpoint, a copy of the weights.

Asking never blocks; the loop reads the requests between batches (and while paused), so any thread may ask
(the window's, a signal handler, a heartbeat, a callback on the training thread)."""
from __future__ import annotations

import threading
from typing import Callable

NO_REQUESTS: tuple = ()


class Steering:
    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._checkpoint = threading.Event()
        self._lock = threading.Lock()
        self._weight_requests: list[Callable[[dict], None]] = []
        self.held = False  # set by the loop while it waits paused (with the other processes of a group)
        # Why the run was last paused / un-paused ("" when nobody said): who paused it, a pause that lapsed.
        self.pause_reason = ""
        self.resume_reason = ""

    # ---- asked from any thread -----------------------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused run must wake up to stop

    def pause(self, reason: str = "") -> None:
        self.pause_reason = reason
        self._running.clear()

    def resume(self, reason: str = "") -> None:
        self.resume_reason = reason
        self._running.set()

    def request_checkpoint(self) -> None:
        self._checkpoint.set()

    def request_weights(self, receiver: Callable[[dict], None]) -> None:
        with self._lock:
            self._weight_requests.append(receiver)

    # ---- read by the loop ----------------------------------------------------------------------------
    @property
    def stop_wanted(self) -> bool:
        return self._stop.is_set()

    @property
    def pause_wanted(self) -> bool:
        return not self._running.is_set()

    def flags(self) -> tuple[bool, bool, bool]:
        """(stop, pause, checkpoint) as asked now."""
        return self._stop.is_set(), not self._running.is_set(), self._checkpoint.is_set()

    def checkpoint_taken(self) -> None:
        self._checkpoint.clear()

    def fit_stopped(self) -> None:
        """A stop ends one fit: fit() again goes on (a checkpoint asked for before the stop was saved by it)."""
        self._stop.clear()
        self._checkpoint.clear()

    def take_weight_requests(self):
        if not self._weight_requests:  # the usual case, read without the lock: a request made now waits a step
            return NO_REQUESTS
        with self._lock:
            taken, self._weight_requests = self._weight_requests, []
        return taken

    def wait_resumed(self, timeout: float) -> None:
        self._running.wait(timeout)

    def wait_stopped(self, timeout: float) -> None:
        self._stop.wait(timeout)
