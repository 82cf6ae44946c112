"""Real CLI subprocesses: special files through the actual entry point, and signals sent to `train`.

Each returns an Outcome like tests.support.cases does; a subprocess that outlives its timeout is a hang.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support import bad_inputs as bi
from tests.support.cases import Case, Outcome, strict_json_records

ROOT = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 8 * 2**30  # address space for a CLI subprocess: torch takes ~3.5 GB of it


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, resource.RLIM_INFINITY))


def cli(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default::RuntimeWarning"}
    return subprocess.Popen([sys.executable, "-m", "core.cli", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_limited, **kwargs)


def finish(proc: subprocess.Popen, timeout: float) -> tuple[int | None, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err


# ---- CLI cases -----------------------------------------------------------------------------------------
def _predict_special(folder: Path, ctx: dict):
    goods = [bi.make_bad("good", i, folder) for i in range(2)]
    bads = [bi.make_bad(k, 7, folder) for k in ("fifo", "link_dev_zero", "huge_wide_png", "sparse_8gb")]
    args = ["predict", "--checkpoint", str(ctx["checkpoint"]), "--json", str(goods[0].path),
            *[str(b.path) for b in bads], str(goods[1].path)]
    return args, goods


def _inspect_fifo(folder: Path, ctx: dict):
    return ["inspect", "--checkpoint", str(ctx["checkpoint"]), "--out", str(folder / "out"),
            str(bi.make_bad("fifo", 1, folder).path)], []


def _dataset_special(folder: Path, ctx: dict):
    for c, cls in enumerate(("a", "b")):
        for i in range(3):
            bi.make_bad("good", c * 10 + i, folder / cls)
    for i, kind in enumerate(("fifo", "sparse_8gb", "link_dev_zero", "symlink_loop", "dangling_link", "folder_named_jpg")):
        bi.make_bad(kind, i, folder / ("a", "b")[i % 2])
    return ["dataset", str(folder)], []


def _dataset_empty(folder: Path, ctx: dict):
    folder.mkdir(parents=True, exist_ok=True)
    return ["dataset", str(folder)], []


CLI_CASES = {"predict_special_files": _predict_special, "inspect_fifo": _inspect_fifo,
             "dataset_special_files": _dataset_special, "dataset_empty_folder": _dataset_empty}


def run_cli_case(name: str, scratch: Path, ctx: dict, timeout: float = 60) -> Outcome:
    case = Case("cli", name, 0)
    folder = Path(scratch) / name
    folder.mkdir(parents=True, exist_ok=True)
    args, goods = CLI_CASES[name](folder, ctx)
    rc, out, err = finish(cli(args), timeout)
    if rc is None:
        return Outcome(case, "hang", f"`layerscope {' '.join(args[:1])}` still running after {timeout:.0f} s")
    if "Traceback" in err or "Warning:" in err:
        return Outcome(case, "traceback", err.strip().splitlines()[-1][:200])
    if goods:
        records = strict_json_records(out) or []
        done = {r.get("path") for r in records if isinstance(r, dict) and "predictions" in r}
        lost = [g.path.name for g in goods if str(g.path) not in done]
        if lost:
            return Outcome(case, "good_result_lost", f"no prediction for {lost} (rc {rc})")
    return Outcome(case, "ok")


# ---- kills during train --------------------------------------------------------------------------------
TRAIN = ["train", "--model", "mlp", "--hidden", "16", "--shapes-count", "1200", "--image-size", "16",
         "--batch-size", "8", "--epochs", "2", "--device", "cpu", "--quiet", "--schedule", "none"]

# name -> (signals to send, wait for the first step record first?, the exit status expected)
KILLS = {
    "sigint": ([signal.SIGINT], True, 130),
    "sigterm": ([signal.SIGTERM], True, 143),
    "sigkill": ([signal.SIGKILL], True, -9),
    "sigint_twice": ([signal.SIGINT, signal.SIGINT], True, 130),
    "sigint_at_start": ([signal.SIGINT], False, 130),
    "sigterm_at_start": ([signal.SIGTERM], False, 143),
}


def _wait_for_step(metrics: Path, proc: subprocess.Popen, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if metrics.is_file() and '"kind": "step"' in metrics.read_text().replace('"kind":"step"', '"kind": "step"'):
            return True
        time.sleep(0.05)
    return False


def _left_wrong(run: Path, clean_exit: bool) -> str | None:
    if clean_exit:
        temps = [p.name for p in run.glob(".*.tmp")]
        if temps:
            return f"temp files left behind: {temps}"
    metrics = run / "metrics.jsonl"
    if metrics.is_file():
        for n, line in enumerate(metrics.read_text().splitlines(), 1):
            try:
                json.loads(line)
            except ValueError:
                return f"metrics.jsonl line {n} is not JSON: {line[:80]!r}"
    if (run / "last.pt").is_file():
        from core.checkpoints.checkpoint import CheckpointError, load_checkpoint
        try:
            load_checkpoint(run / "last.pt")
        except CheckpointError as exc:
            return f"last.pt unreadable: {exc}"
    return None


def run_kill_case(name: str, scratch: Path, timeout: float = 240) -> Outcome:
    case = Case("kill", name, 0)
    sigs, after_step, expected = KILLS[name]
    run = Path(scratch) / name
    proc = cli([*TRAIN, "--out", str(run)])
    if after_step:
        if not _wait_for_step(run / "metrics.jsonl", proc, 120):
            finish(proc, 5)
            return Outcome(case, "harness_error", "training never wrote a step record")
    else:
        time.sleep(0.3)
    for s in sigs:
        if proc.poll() is None:
            proc.send_signal(s)
        time.sleep(0.05)
    rc, out, err = finish(proc, timeout)
    if rc is None:
        return Outcome(case, "hang", f"train still running {timeout:.0f} s after {name}")
    if "Traceback" in err:
        return Outcome(case, "traceback", err.strip().splitlines()[-1][:200])
    if rc != expected and not (not after_step and rc in (0, 2, expected)):
        return Outcome(case, "wrong_file", f"exit status {rc}, expected {expected}")
    if (problem := _left_wrong(run, rc != -9)) is not None:
        return Outcome(case, "wrong_file", problem)
    if (run / "last.pt").is_file():
        rc2, out2, err2 = finish(cli(["train", "--resume", str(run / "last.pt"), "--epochs", "2", "--quiet",
                                      "--device", "cpu"]), timeout)
        if rc2 is None:
            return Outcome(case, "hang", "the resume after the kill did not finish")
        if "Traceback" in err2:
            return Outcome(case, "traceback", "resume: " + err2.strip().splitlines()[-1][:200])
        if rc2 != 0:
            return Outcome(case, "good_result_lost", f"resume after {name} failed (rc {rc2}): {err2.strip()[:160]}")
    return Outcome(case, "ok")
