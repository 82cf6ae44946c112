"""`layerscope train --nproc N`: start N local training processes through PyTorch's own launcher
(torch.distributed.launcher, what torchrun runs), each running `python -m core.cli train ...` as a DDP rank.

- Rendezvous on 127.0.0.1 at a free port; a port that is taken (asked for, or grabbed between the pick and
  the bind) is replaced by another.
- A process that fails makes the launcher stop the others (max_restarts=0); the launcher then appends an
  error record to RUN/metrics.jsonl naming the rank(s) and why, so the run reads as failed.
- Ctrl+C / SIGTERM on the launcher is forwarded once to every process: each stops after its batch and rank 0
  saves last.pt.
"""
from __future__ import annotations

import os
import socket
import sys
import uuid
from pathlib import Path

from core import exit_codes
from core.runs import records
from core.runs.control import STARTED_ENV, process_started_at
from core.runs.history import last_record
from core.runs.layout import RunLayout
from core.runs.rank_status import ERROR, read_rank_statuses

PORT_ATTEMPTS = 4
SHUTDOWN_TIMEOUT_S = 30  # how long a stopping process may take (to save last.pt) before it is killed


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int | None = None, host: str = "127.0.0.1") -> int:
    """`preferred` when it is free, else one the system says is free now."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _failure_text(rank: int, failure, statuses: dict[int, dict]) -> str:
    said = statuses.get(rank, {}).get("message") if statuses.get(rank, {}).get("state") == ERROR else None
    if failure.exitcode < 0:
        how = f"was killed by {failure.signal_name()}"
    else:
        how = f"exited with status {failure.exitcode}"
    return f"rank {rank} {how}" + (f": {said}" if said else "")


def _last_run_id(run_dir: Path) -> str | None:
    """The run id of the newest record that has one, read from the file's end (it can be GB long)."""
    record = last_record(run_dir, lambda r: bool(r.get("run")))
    return record["run"] if record is not None else None


def record_failure(run_dir: Path, failures: dict, world_size: int) -> str:
    """Append one error record saying which ranks failed and why; returns its message."""
    from core.io.atomic import append_lines

    statuses = {s["rank"]: s for s in read_rank_statuses(run_dir)}
    # The cause comes first: a process that died without a word (killed from outside, a hard crash), else the
    # one that reported its error earliest; the others mostly failed because a peer was gone.
    def cause_first(item):
        rank, failure = item
        status = statuses.get(rank, {})
        said_at = status.get("time") if status.get("state") == ERROR else None
        if not isinstance(said_at, (int, float)):
            return (0, 0.0, rank)
        return (1, said_at, rank)

    ordered = sorted(failures.items(), key=cause_first)
    message = "; ".join(_failure_text(rank, failure, statuses) for rank, failure in ordered)
    message = f"a training process failed: {message} (of {world_size} processes)"
    first_rank = ordered[0][0] if ordered else None
    record = records.make("error", message=message, rank=first_rank, world_size=world_size)
    run_id = _last_run_id(run_dir)
    if run_id:
        record["run"] = run_id
    if run_dir.exists():
        append_lines(RunLayout(run_dir).metrics, [records.encode(record)], inside=run_dir)
    return message


def launch_local(nproc: int, train_argv: list[str], run_dir: Path, *, port: int | None = None) -> int:
    """Run `core.cli train <train_argv>` as `nproc` DDP processes; returns the exit status for the CLI."""
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    env_path = os.environ.get("PYTHONPATH", "")
    root = str(Path(__file__).resolve().parents[2])  # the repository root: the processes import this same code
    os.environ["PYTHONPATH"] = root + (os.pathsep + env_path if env_path else "")
    # The processes start later than this launcher: a pause written after it started is for this run.
    os.environ.setdefault(STARTED_ENV, repr(process_started_at()))
    last_error: Exception | None = None
    for _ in range(PORT_ATTEMPTS):
        chosen = pick_port(port)
        port = None  # a retry takes whatever is free
        config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"layerscope-{uuid.uuid4().hex[:8]}",
                              rdzv_backend="c10d", rdzv_endpoint=f"127.0.0.1:{chosen}", max_restarts=0,
                              monitor_interval=0.1, start_method="spawn", local_addr="127.0.0.1",
                              shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        try:
            elastic_launch(config, entrypoint=sys.executable)("-u", "-m", "core.cli", "train", *train_argv)
            return exit_codes.OK
        except ChildFailedError as exc:
            message = record_failure(run_dir, exc.failures, nproc)
            print(f"layerscope train: {message}", file=sys.stderr)
            return exit_codes.FAILED
        except SignalException as exc:
            return exit_codes.for_signal(exc.sigval)
        except Exception as exc:  # the rendezvous could not bind its port: try another
            if "address already in use" not in str(exc).lower() and "errno 98" not in str(exc).lower():
                raise
            last_error = exc
    raise RuntimeError(f"could not start the processes: no free rendezvous port after {PORT_ATTEMPTS} tries "
                       f"({last_error})")
