"""What the exit status of a `layerscope` process means: defined once, for every command, the multi-process
launcher (core/processes/launch.py) and the signal handling (core/io/signals.py). The same kind of failure
gives the same status in every command.

Plain constants, no imports: the app reads a job's status with it too.
"""
from __future__ import annotations

OK = 0
# It ran but did not fully succeed: the run failed (out of memory, a full disk, a process of a multi-process
# run died), an output could not be written, or some inputs failed (one image of several: each failed one is
# named, the others' results were written).
FAILED = 1
# Nothing was done: bad arguments or settings (argparse's own status), or an input that cannot be used at all
# (a missing or damaged checkpoint, a folder that is not a dataset, an unreadable settings file, a missing
# optional package). The message says what to change.
USAGE = 2
# Training diverged (the loss became NaN or exploded): the weights are not usable; the message names a
# learning rate to try.
DIVERGED = 3
# Stopped by signal N: 128 + N, as shells and schedulers expect. A stopped training run saved last.pt and
# can be resumed.
SIGNAL_BASE = 128
SIGINT, SIGTERM = 2, 15  # the same numbers on every platform Python runs on
INTERRUPTED = SIGNAL_BASE + SIGINT  # 130: Ctrl+C
TERMINATED = SIGNAL_BASE + SIGTERM  # 143: SIGTERM (a scheduler, `kill`)
STOPPED = (INTERRUPTED, TERMINATED)  # a run stopped on request, not failed


def for_signal(signum: int) -> int:
    """The status of a process stopped by signal `signum`."""
    return SIGNAL_BASE + int(signum)
