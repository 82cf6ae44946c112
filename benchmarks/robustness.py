"""Robustness report (issues 12 and 18): thousands of generated bad inputs and kills through Layerscope.

Not a test: it runs >= 10,000 cases (by default) made by tests/support (truncated, corrupt, empty, huge,
bomb, special-file and oddly-moded images; misleading folder layouts; tampered checkpoints), mostly
in-process in isolated worker processes that are timed and killed from outside, plus real CLI
subprocesses and SIGINT / SIGTERM / kill -9 during `train` followed by a resume. Then (issue 18) >= 2,000
shared-folder cases (tests/support/shared_cases.py): hostile run folders (links, hard links, FIFOs, /dev/zero,
sparse, deep and huge-number JSON, HTML, 20,000 rank files, a zip bomb, a leftover pause) through every reader
and writer of a run folder, two processes on one folder at once, and whatever shared-dataset and settings
classes are registered there; each with a decoy tree outside the folder hashed before and after.
Each outcome is ok / traceback / hang / wrong_file / good_result_lost / outside_touched; a table by input
class follows, then one example reproducer per failing class, and as the LAST line a JSON object:
    {"tracebacks": N, "hangs": N, "wrong_files": N, "good_results_lost": N, "outside_touched": N, "cases": N, ...}

    .venv/bin/python benchmarks/robustness.py [--cases 10000] [--shared 2400] [--quick] [--workers 2]
                                              [--only ACTION:KIND] [--shared-only]
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, where benchmarks/inspect.py would shadow the standard
# library's inspect: put the repository root there instead (tests.support lives there).
_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import json
import random
import tempfile
import time
from collections import Counter, defaultdict

from tests.support import bad_checkpoints as bc
from tests.support import bad_inputs as bi
from tests.support.cases import VERDICTS, Case, Outcome
from tests.support.hostile_runs import make_template
from tests.support.isolation import run_isolated
from tests.support.layouts import LAYOUTS
from tests.support.shared_cases import SHARED_KINDS, TRAIN_ACTIONS
from tests.support.signals import KILLS, run_cli_case, run_kill_case, CLI_CASES

TIMEOUTS = {"load": 15, "predict": 30, "dataset": 40, "layout": 40, "checkpoint": 30, "resume": 90, "train": 90}
SHARED_TIMEOUT_S, SHARED_TRAIN_TIMEOUT_S, TWO_PROCESSES_TIMEOUT_S = 120, 300, 600
SLOW_TO_MAKE_S = {"many_ranks": 300}  # writing 20,000 rank files is most of such a case


def timeout_of(case: Case) -> float:
    if case.action in TIMEOUTS:
        return TIMEOUTS[case.action]
    if case.action == "shared":  # a shared dataset's case (some train from a settings file)
        return SHARED_TRAIN_TIMEOUT_S
    if case.action == "run_two":
        return TWO_PROCESSES_TIMEOUT_S
    if case.kind in SLOW_TO_MAKE_S:
        return SLOW_TO_MAKE_S[case.kind] + SHARED_TRAIN_TIMEOUT_S
    return SHARED_TRAIN_TIMEOUT_S if case.action.removeprefix("run_") in TRAIN_ACTIONS else SHARED_TIMEOUT_S


def plan_shared_cases(total: int, seed: int) -> list[Case]:
    """Every registered shared-folder class under each of its actions once (a training action, a few minutes'
    worth, exactly once), then the cheap actions again with new seeds until `total` cases (fewer than the
    classes x actions: a seeded sample of them)."""
    serial = iter(range(seed * 1_000_000 + 50_000_000, seed * 1_000_000 + 60_000_000))
    cases = [Case(action, kind, next(serial)) for action, kinds in SHARED_KINDS.items() for kind in kinds]
    rng = random.Random(seed)
    if total < len(cases):
        return sorted(rng.sample(cases, total), key=lambda c: c.seed)
    cheap = [(a, k) for a, kinds in SHARED_KINDS.items() if a.removeprefix("run_") not in (*TRAIN_ACTIONS, "two")
             for k in kinds]
    while len(cases) < total and cheap:
        action, kind = rng.choice(cheap)
        cases.append(Case(action, kind, next(serial)))
    return cases


def plan_cases(total: int, quick: bool, seed: int) -> list[Case]:
    """A seeded mix: special files a few times each (they are slow to fail on unfixed code), then shares
    of predict / dataset / train / layout / checkpoint / resume, the rest loader-level."""
    rng = random.Random(seed)
    safe = sorted(set(bi.IMAGE_CLASSES) - bi.DANGEROUS)
    cases: list[Case] = []
    serial = iter(range(seed * 1_000_000, seed * 1_000_000 + 10_000_000))

    def add(action, kind, n):
        cases.extend(Case(action, kind, next(serial)) for _ in range(n))

    each = 1 if quick else 2
    for kind in sorted(bi.DANGEROUS):
        add("load", kind, each)
        add("predict", kind, each)
        add("dataset", kind, 1)
    add("train", "+".join(sorted(bi.DANGEROUS - {"fifo", "link_dev_zero"})), 1)
    for name in LAYOUTS:
        add("layout", name, each)
    for kind, (_, resumable) in bc.PAYLOAD_TAMPERS.items():
        add("checkpoint", kind, each)
        if resumable or not quick:
            add("resume", kind, 1)
    rest = max(0, total - len(cases))
    shares = {"checkpoint": 0.03, "predict": 0.08, "dataset": 0.03, "train": 0.004}
    for kind in bc.BYTE_TAMPERS:
        add("checkpoint", kind, int(rest * shares["checkpoint"] / 2))
    for _ in range(int(rest * shares["predict"])):
        add("predict", "+".join(rng.sample(safe, rng.choice([1, 1, 2, 3]))), 1)
    for _ in range(int(rest * shares["dataset"])):
        add("dataset", "+".join(rng.sample(safe, rng.choice([1, 2, 4]))), 1)
    for _ in range(max(2, int(rest * shares["train"]))):
        add("train", "+".join(rng.sample(safe, 3)), 1)
    while len(cases) < total:
        add("load", rng.choice(safe), 1)
    return cases


def print_table(outcomes: list[Outcome]) -> None:
    by_label: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        label = o.case.label if "+" not in o.case.kind else f"{o.case.action}:(mixed)"
        by_label[label][o.verdict] += 1
    cols = list(VERDICTS) + sorted({o.verdict for o in outcomes} - set(VERDICTS))
    print(f"{'input class':<44}" + "".join(f"{c:>17}" for c in cols))
    for label in sorted(by_label):
        print(f"{label:<44}" + "".join(f"{by_label[label][c]:>17}" for c in cols))
    print()
    seen = set()
    failures = [o for o in outcomes if o.verdict != "ok"]
    if failures:
        print("one reproducer per failing class (python benchmarks/robustness.py --only ... --seed-of ...; cli and "
              "kill cases: the named case in tests/support/signals.py):")
    for o in failures:
        key = (o.case.label if "+" not in o.case.kind else o.case.action, o.verdict)
        if key in seen:
            continue
        seen.add(key)
        print(f"  [{o.verdict}] --only {o.case.action}:{o.case.kind} --seed-of {o.case.seed}: {o.detail}")


def summary(outcomes: list[Outcome], seconds: float) -> dict:
    counts = Counter(o.verdict for o in outcomes)
    shared = sum(1 for o in outcomes if o.case.action in SHARED_KINDS)
    return {"tracebacks": counts["traceback"], "hangs": counts["hang"], "wrong_files": counts["wrong_file"],
            "good_results_lost": counts["good_result_lost"], "outside_touched": counts["outside_touched"],
            "harness_errors": counts["harness_error"], "cases": len(outcomes), "shared_folder_cases": shared,
            "seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--shared", type=int, default=2_400, help="shared-folder cases (issue 18), besides --cases")
    parser.add_argument("--shared-only", action="store_true", help="only the shared-folder cases")
    parser.add_argument("--quick", action="store_true", help="about 400 + 300 cases, 2 kills")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=None, help="ACTION:KIND, e.g. predict:fifo (a reproducer)")
    parser.add_argument("--seed-of", type=int, default=None, help="with --only: the case seed to run")
    args = parser.parse_args()
    total = 400 if args.quick and args.cases == 10_000 else args.cases
    shared_total = 300 if args.quick and args.shared == 2_400 else args.shared
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="layerscope-robustness-") as tmp:
        tmp = Path(tmp)
        print("making a tiny checkpoint (1 epoch of mlp on shapes) and a run folder with every artefact...",
              file=sys.stderr, flush=True)
        ctx = {"checkpoint": bc.make_tiny_run(tmp / "tiny-run")}
        run_template = make_template(tmp / "run-template")
        ctx.update(run_template=run_template, probe=run_template.parent / "probe.png")
        if args.only:
            action, kind = args.only.split(":", 1)
            cases = [Case(action, kind, args.seed_of if args.seed_of is not None else args.seed)]
            kills, clis = [], []
        else:
            cases = [] if args.shared_only else plan_cases(
                total - (2 if args.quick else len(KILLS)) - len(CLI_CASES), args.quick, args.seed)
            cases += plan_shared_cases(shared_total, args.seed)
            kills = [] if args.shared_only else list(KILLS)[:2] if args.quick else list(KILLS)
            clis = [] if args.shared_only else list(CLI_CASES)
        done = [0]

        def tick(outcome):
            done[0] += 1
            if done[0] % 500 == 0:
                print(f"  {done[0]}/{len(cases)} cases, {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)

        outcomes = run_isolated(cases, tmp / "scratch", ctx, workers=args.workers,
                                timeout=timeout_of, on_outcome=tick)
        outcomes += [run_cli_case(name, tmp / "cli", ctx) for name in clis]
        outcomes += [run_kill_case(name, tmp / "kills") for name in kills]
    print_table(outcomes)
    print(json.dumps(summary(outcomes, time.monotonic() - start)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
