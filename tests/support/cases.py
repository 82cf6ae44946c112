"""Run one generated bad input through Layerscope in-process and judge the outcome.

A case is a small picklable tuple (action, kind, seed); `run_case` builds its files under a scratch folder,
calls the loader or the CLI's own `main` with stdout/stderr captured, and returns a verdict:
  ok                 refused with a message, or handled correctly
  traceback          an exception escaped, or a traceback / Python warning was printed
  wrong_file         a bad input accepted silently, a layout misread, a file or record left wrong
  good_result_lost   a good image in the same call lost its result (or the whole output is unusable)
  outside_touched    a file outside the shared folder was created, moved, changed or truncated (decoys.py)
(`hang` is given by the isolation runner, which times each case from outside.)
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import core.io.images  # noqa: F401 - first, so its warning filters are in place before any case runs
from tests.support import bad_checkpoints as bc
from tests.support import bad_inputs as bi
from tests.support.layouts import make_layout

VERDICTS = ("ok", "traceback", "hang", "wrong_file", "good_result_lost", "outside_touched")


@dataclass(frozen=True)
class Case:
    action: str  # load | predict | dataset | train | layout | checkpoint | resume
    kind: str
    seed: int

    @property
    def label(self) -> str:
        kinds = self.kind.split("+")
        return f"{self.action}:{self.kind}" if len(kinds) <= 3 else f"{self.action}:{kinds[0]}+{len(kinds) - 1} more"


@dataclass
class Outcome:
    case: Case
    verdict: str
    detail: str = ""


class _Captured:
    def __init__(self):
        self.out, self.err, self.exc, self.rc, self.warned = io.StringIO(), io.StringIO(), None, None, []


def call_cli(argv: list[str]) -> _Captured:
    """core.cli.main.main(argv) with output captured; an escaping exception is recorded, never raised."""
    from core.cli.main import main

    cap = _Captured()
    # record=True keeps the filters in force (the app's own "ignore"s included): what is recorded is what a
    # user would see printed.
    with warnings.catch_warnings(record=True) as warned:
        with contextlib.redirect_stdout(cap.out), contextlib.redirect_stderr(cap.err):
            try:
                cap.rc = main(argv)
            except SystemExit as exc:  # argparse: a usage message, a clean exit
                cap.rc = exc.code
            except BaseException as exc:  # noqa: BLE001 - this is what the harness looks for
                cap.exc = exc
    cap.warned = [f"RuntimeWarning: {w.message}" for w in warned if issubclass(w.category, RuntimeWarning)]
    return cap


def crash_detail(cap: _Captured) -> str | None:
    """Why this call counts as a traceback, or None."""
    if cap.exc is not None:
        return f"{type(cap.exc).__name__}: {str(cap.exc)[:160]}"
    for stream in (cap.out.getvalue(), cap.err.getvalue()):
        if "Traceback (most recent call last)" in stream:
            return "printed a traceback"
    if cap.warned:
        return f"printed a Python warning ({cap.warned[0][:120]})"
    return None


def strict_json_records(text: str) -> list[dict] | None:
    """predict --json output as a list of records: one JSON array (old) or JSON Lines (new). NaN/Infinity
    are not JSON: such output is None."""
    def no_constants(name):
        raise ValueError(name)

    try:
        data = json.loads(text, parse_constant=no_constants)
        return data if isinstance(data, list) else [data]
    except ValueError:
        pass
    try:
        return [json.loads(line, parse_constant=no_constants) for line in text.splitlines() if line.strip()]
    except ValueError:
        return None


# ---- actions -------------------------------------------------------------------------------------------
def _load(case: Case, scratch: Path, ctx: dict) -> Outcome:
    from core.io.images import ImageLoadError, load_image

    bad = bi.make_bad(case.kind, case.seed, scratch)
    with warnings.catch_warnings(record=True) as warned:
        try:
            img = load_image(bad.path)
        except ImageLoadError as exc:
            if bad.expect == "image":
                return Outcome(case, "good_result_lost", f"a valid image was refused: {exc.reason}")
            if str(bad.path) not in str(exc):
                return Outcome(case, "wrong_file", f"the message does not name the file: {exc}")
            return Outcome(case, "ok")
        except BaseException as exc:  # noqa: BLE001
            return Outcome(case, "traceback", f"{type(exc).__name__}: {str(exc)[:160]}")
    runtime = [w for w in warned if issubclass(w.category, RuntimeWarning)]
    if runtime:
        return Outcome(case, "traceback", f"printed a Python warning (RuntimeWarning: {runtime[0].message})")
    if bad.expect == "error":
        return Outcome(case, "wrong_file", f"accepted as a {img.size} image; it should be refused")
    if img.mode != "RGB" or (bad.size and img.size != bad.size):
        return Outcome(case, "wrong_file", f"loaded as {img.mode} {img.size}, expected RGB {bad.size}")
    return Outcome(case, "ok")


def _mixed_batch(case: Case, scratch: Path) -> tuple[list[bi.BadFile], list[bi.BadFile]]:
    """Two good images around one or more bad files of `case.kind` (kinds joined by '+')."""
    goods = [bi.make_bad("good", case.seed * 10 + i, scratch / "good") for i in range(2)]
    bads = [bi.make_bad(k, case.seed * 10 + i, scratch / "bad") for i, k in enumerate(case.kind.split("+"))]
    return goods, bads


def _predict(case: Case, scratch: Path, ctx: dict) -> Outcome:
    goods, bads = _mixed_batch(case, scratch)
    files = [goods[0], *bads, goods[1]]
    cap = call_cli(["predict", "--checkpoint", str(ctx["checkpoint"]), "--json", "--top-k", "2",
                    *[str(f.path) for f in files]])
    if (why := crash_detail(cap)) is not None:
        return Outcome(case, "traceback", why)
    records = strict_json_records(cap.out.getvalue())
    if records is None:
        return Outcome(case, "good_result_lost", "stdout is not JSON (or holds NaN)")
    by_path = {r.get("path"): r for r in records if isinstance(r, dict)}
    for g in goods:
        if "predictions" not in by_path.get(str(g.path), {}):
            return Outcome(case, "good_result_lost", f"no prediction for the good file {g.path.name}")
    for b in bads:
        rec = by_path.get(str(b.path))
        if rec is None:
            return Outcome(case, "wrong_file", f"no line at all for {b.path.name}")
        if b.expect == "error" and "error" not in rec:
            return Outcome(case, "wrong_file", f"{b.path.name} was classified; it should be refused")
        if b.expect == "image" and "predictions" not in rec:
            return Outcome(case, "good_result_lost", f"valid {b.path.name} refused: {rec.get('error')}")
    return Outcome(case, "ok")


def _class_folder(case: Case, scratch: Path, per_class: int):
    root = scratch / "data"
    goods = [bi.make_bad("good", case.seed * 100 + c * 10 + i, root / cls)
             for c, cls in enumerate(("circles", "squares")) for i in range(per_class)]
    bads = [bi.make_bad(k, case.seed * 10 + i, root / ("circles", "squares")[i % 2])
            for i, k in enumerate(case.kind.split("+"))]
    return root, goods, bads


def _dataset(case: Case, scratch: Path, ctx: dict) -> Outcome:
    root, goods, bads = _class_folder(case, scratch, 3)
    cap = call_cli(["dataset", str(root), "--json"])
    if (why := crash_detail(cap)) is not None:
        return Outcome(case, "traceback", why)
    text = cap.out.getvalue()
    try:
        report = json.loads(text)
    except ValueError:
        return Outcome(case, "good_result_lost", f"no JSON report (rc {cap.rc}): {cap.err.getvalue()[:120]}")
    if int(report.get("good_files", -1)) < len(goods):
        return Outcome(case, "good_result_lost", f"good_files {report.get('good_files')} < {len(goods)} good images")
    for b in bads:
        if b.expect == "error" and json.dumps(str(b.path))[1:-1] not in text:
            return Outcome(case, "wrong_file", f"{b.path.name} is not listed in the report (skipped silently or called good)")
    return Outcome(case, "ok")


def _train(case: Case, scratch: Path, ctx: dict) -> Outcome:
    root, goods, bads = _class_folder(case, scratch, 4)
    out = scratch / "run"
    cap = call_cli(["train", "--dataset", str(root), "--model", "mlp", "--hidden", "8", "--epochs", "1",
                    "--image-size", "16", "--batch-size", "4", "--device", "cpu", "--out", str(out), "--quiet"])
    if (why := crash_detail(cap)) is not None:
        return Outcome(case, "traceback", why)
    if cap.rc != 0 or not (out / "last.pt").is_file():
        return Outcome(case, "good_result_lost", f"rc {cap.rc} with {len(goods)} good images: {cap.err.getvalue()[:160]}")
    return Outcome(case, "ok")


def _layout(case: Case, scratch: Path, ctx: dict) -> Outcome:
    root, check = make_layout(case.kind, case.seed, scratch / "data")
    cap = call_cli(["dataset", str(root), "--json"])
    if (why := crash_detail(cap)) is not None:
        return Outcome(case, "traceback", why)
    problem = check(cap.rc, cap.out.getvalue(), cap.err.getvalue())
    return Outcome(case, "wrong_file", problem) if problem else Outcome(case, "ok")


def _checkpoint(case: Case, scratch: Path, ctx: dict) -> Outcome:
    path = scratch / f"{case.kind}.pt"
    if case.kind in bc.BYTE_TAMPERS:
        bc.tamper_bytes(ctx["checkpoint"], case.kind, case.seed, path)
    else:
        bc.tamper_payload(ctx["checkpoint"], case.kind, case.seed, path)
    good = bi.make_bad("good", case.seed, scratch)
    cap = call_cli(["predict", "--checkpoint", str(path), "--json", "--top-k", "9", str(good.path)])
    if (why := crash_detail(cap)) is not None:
        return Outcome(case, "traceback", why)
    resume_only = case.kind in bc.PAYLOAD_TAMPERS and bc.PAYLOAD_TAMPERS[case.kind][1]
    if case.kind in bc.BYTE_TAMPERS or resume_only:
        return Outcome(case, "ok")
    if case.kind in bc.RUNNABLE:
        records = strict_json_records(cap.out.getvalue())
        ok = records is not None or cap.rc == 2
        return Outcome(case, "ok") if ok else Outcome(case, "wrong_file", "predict --json printed NaN, not JSON")
    if cap.rc == 0:
        return Outcome(case, "wrong_file", "the tampered checkpoint was used silently")
    return Outcome(case, "ok")


def _resume(case: Case, scratch: Path, ctx: dict) -> Outcome:
    path = scratch / "run" / "last.pt"
    path.parent.mkdir(parents=True)
    bc.tamper_payload(ctx["checkpoint"], case.kind, case.seed, path)
    cap = call_cli(["train", "--resume", str(path), "--epochs", "2", "--quiet", "--device", "cpu"])
    if (why := crash_detail(cap)) is not None:
        return Outcome(case, "traceback", why)
    return Outcome(case, "ok")


def _shared(case: Case, scratch: Path, ctx: dict) -> Outcome:
    from tests.support.shared_datasets import run_shared_case

    return run_shared_case(case, scratch, ctx)


ACTIONS = {"load": _load, "predict": _predict, "dataset": _dataset, "train": _train, "layout": _layout,
           "checkpoint": _checkpoint, "resume": _resume, "shared": _shared}


def run_case(case: Case, scratch_root: Path, ctx: dict) -> Outcome:
    scratch = Path(scratch_root) / f"{case.action}-{case.seed}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        if case.action not in ACTIONS:  # a shared folder's case (issue 18)
            from tests.support.shared_cases import run_shared

            return run_shared(case, scratch, ctx)
        return ACTIONS[case.action](case, scratch, ctx)
    except BaseException as exc:  # noqa: BLE001 - a harness bug must not look like a product crash
        return Outcome(case, "harness_error", f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
