"""Run cases in worker processes the caller can time and kill: a hang (a FIFO opened for reading) or a
runaway allocation (a symlink to /dev/zero) costs one case, never the whole run.

Each worker is a spawned process with an address-space limit (so a 12 GB allocation fails at once instead
of swapping the machine); the parent sends it one case at a time and waits at most `timeout` seconds.
"""
from __future__ import annotations

import multiprocessing as mp
import resource
import threading
from pathlib import Path
from typing import Callable, Iterable

from tests.support.cases import Case, Outcome, run_case

HEADROOM_BYTES = 4 * 2**30  # address space a worker may add on top of what its imports take


def _limit_memory() -> None:
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM_BYTES, resource.RLIM_INFINITY))


def _worker(conn, scratch: str, ctx: dict) -> None:
    import core.cli.main  # noqa: F401 - import torch and core before the memory limit is measured
    import core.data.health  # noqa: F401
    import core.checkpoints.predict  # noqa: F401
    import torch

    torch.set_num_threads(1)
    _limit_memory()
    conn.send("ready")
    while True:
        case = conn.recv()
        if case is None:
            return
        conn.send(run_case(case, Path(scratch), ctx))


class Worker:
    def __init__(self, scratch: Path, ctx: dict):
        self.scratch, self.ctx = scratch, ctx
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        spawn = mp.get_context("spawn")
        self.conn, child = spawn.Pipe()
        self.proc = spawn.Process(target=_worker, args=(child, str(self.scratch), self.ctx), daemon=True)
        self.proc.start()
        child.close()
        if not self.conn.poll(180) or self.conn.recv() != "ready":
            raise RuntimeError("a robustness worker did not start")

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join()
        self.proc = None

    def run(self, case: Case, timeout: float) -> Outcome:
        if self.proc is None:
            self._start()
        try:
            self.conn.send(case)
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.proc.join(5)
            code = self.proc.exitcode
            self._kill()
            return Outcome(case, "traceback", f"the process died (exit {code})")
        self._kill()
        return Outcome(case, "hang", f"no answer within {timeout:.0f} s")

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(10)
            except OSError:
                pass
            self._kill()


def run_isolated(cases: Iterable[Case], scratch: Path, ctx: dict, *, workers: int = 2,
                 timeout: Callable[[Case], float] = lambda c: 20.0,
                 on_outcome: Callable[[Outcome], None] = lambda o: None) -> list[Outcome]:
    """Run `cases` on `workers` isolated processes; outcomes come back in case order."""
    cases = list(cases)
    outcomes: list[Outcome | None] = [None] * len(cases)
    lock = threading.Lock()
    next_index = [0]

    def drive(n: int) -> None:
        worker = Worker(Path(scratch) / f"w{n}", ctx)
        try:
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(cases):
                    return
                outcome = worker.run(cases[i], timeout(cases[i]))
                outcomes[i] = outcome
                with lock:
                    on_outcome(outcome)
        finally:
            worker.close()

    threads = [threading.Thread(target=drive, args=(n,), daemon=True) for n in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def run_under_memory_limit(code: str, *, imports: tuple[str, ...] = (), headroom: int = 1 << 30,
                           timeout: float = 120.0, cwd: str | Path | None = None):
    """Run `code` in a fresh Python whose address space may grow only `headroom` bytes past what `imports`
    take (a read of /dev/zero then fails at once instead of eating the machine). -> CompletedProcess with
    text stdout/stderr; subprocess.TimeoutExpired when it runs past `timeout` (a hang)."""
    import subprocess
    import sys
    import textwrap

    prelude = "".join(f"import {name}\n" for name in imports) + textwrap.dedent(f"""
        import resource
        with open('/proc/self/status') as fh:
            vm = next(int(l.split()[1]) * 1024 for l in fh if l.startswith('VmSize'))
        resource.setrlimit(resource.RLIMIT_AS, (vm + {int(headroom)}, resource.RLIM_INFINITY))
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, cwd=str(cwd) if cwd else str(Path(__file__).resolve().parents[2]))
