"""Hostile shared datasets (issue 18), made from a seed, for benchmarks/robustness.py and the tests: crafted
corrections files and move logs, links and FIFOs where the app reads or writes, crafted evaluation folders,
settings files, CIFAR batches, and images added to a folder with planted links.

Every case builds, under its scratch folder, a small image folder (`data/`) beside a decoy tree (`home/`, see
tests/support/decoys.py), does one thing a user does with a shared dataset (scan it, Apply or Undo Apply its
corrections, relabel, open an evaluation, train from a settings file, read CIFAR batches, add an image), and
judges the outcome (tests/support/cases.py's verdicts, plus `outside_touched`):
  outside_touched    a file outside the dataset was created, moved, changed or truncated
  traceback          an exception escaped or a traceback was printed
  wrong_file         the hostile file was used, or refused without a message naming it
  good_result_lost   a good entry next to the hostile one lost its effect
`hang` comes from the isolation runner, which times each case from outside.

    KINDS: kind -> what it exercises.   run_shared_case(case, scratch, ctx) -> Outcome   (action "shared")
"""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tests.support.decoys import Decoy

CLASSES = ("circle", "square", "star")
CORRECTIONS = ".layerscope-corrections.json"
MOVE_LOG = ".layerscope-moves.jsonl"
EXCLUDED = ".layerscope-excluded"


# ---- the world: a tiny dataset beside a decoy tree -------------------------------------------------------
class World:
    def __init__(self, scratch: Path, seed: int):
        self.rng = random.Random(seed)
        self.scratch = scratch
        self.data = scratch / "data"
        self.out = scratch / "out"  # outputs the case asks for (a run folder): not outside the dataset's business
        for c, name in enumerate(CLASSES):
            (self.data / name).mkdir(parents=True)
            for i in range(2):
                value = (c * 80 + i * 20 + seed) % 256
                Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(self.data / name / f"{name}_{i}.png")
        self.decoy = Decoy(scratch / "home", watch=scratch, exclude=(self.data, self.out))
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(self.decoy.root / "private.png")
        self.decoy.remember()

    def image(self, cls: str = "circle", i: int = 0) -> Path:
        return self.data / cls / f"{cls}_{i}.png"

    def rel(self, path: Path) -> str:
        return os.path.relpath(path, self.data)

    def outside_paths(self) -> list[str]:
        """Ways a crafted entry names a file outside the dataset."""
        key = self.decoy.key
        return [str(key), self.rel(key), "circle/../../home/.ssh/id_rsa", "/etc/passwd", "~/.bashrc",
                "circle/" + "../" * 12 + "etc/passwd", str(self.decoy.autostart / "x.desktop")]

    def hostile_labels(self) -> list:
        return ["../../home/.config/autostart", "/tmp", "..", ".", "", " ", "a/b", "a\\b", "x\0y", "\n",
                ".layerscope-excluded", 7, None, ["circle"], "é" * 300]

    def files(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.data)): p.read_bytes() for p in self.data.rglob("*.png") if p.is_file()}


def write_corrections(world: World, entries) -> Path:
    path = world.data / CORRECTIONS
    path.write_text(json.dumps({"format": "layerscope-corrections", "version": 1, "entries": entries}))
    return path


# ---- hostile files (a FIFO, a link, a huge or deep file) at a path -----------------------------------------
def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    os.symlink("/dev/zero", path)


def _sparse(path: Path) -> None:
    with open(path, "wb") as fh:
        fh.truncate(3 * 2**30)


def _deep(path: Path) -> None:
    depth = 50_000
    path.write_text('{"format": "layerscope-corrections", "entries": ' + "[" * depth + "]" * depth + "}")


def _huge_number(path: Path) -> None:
    path.write_text('{"format": "layerscope-corrections", "entries": {"circle/circle_0.png": {"action": "exclude", '
                    '"time": 1' + "0" * 400 + "}}}")


def _nan(path: Path) -> None:
    path.write_text('{"format": "layerscope-corrections", "entries": {"circle/circle_0.png": {"action": "exclude", '
                    '"time": NaN}}}')


def _binary(path: Path) -> None:
    path.write_bytes(bytes(random.Random(len(str(path))).randrange(256) for _ in range(4096)))


def _link_out(path: Path, world: World) -> None:
    os.symlink(world.decoy.target, path)


SPECIAL = {"fifo": _fifo, "dev_zero": _dev_zero, "sparse": _sparse, "deep": _deep, "huge_number": _huge_number,
           "nan": _nan, "binary": _binary}


# ---- cases --------------------------------------------------------------------------------------------------
def _verdict(case, world: World, cap_or_exc, *, names: Path | None = None, text: str = ""):
    from tests.support.cases import Outcome, crash_detail

    if world.decoy.changes():
        return Outcome(case, "outside_touched", "; ".join(world.decoy.changes()[:3]))
    if cap_or_exc is not None and not isinstance(cap_or_exc, BaseException):
        why = crash_detail(cap_or_exc)
        if why:
            return Outcome(case, "traceback", why)
        text = cap_or_exc.out.getvalue() + cap_or_exc.err.getvalue() + text
    elif isinstance(cap_or_exc, BaseException):
        return Outcome(case, "traceback", f"{type(cap_or_exc).__name__}: {str(cap_or_exc)[:160]}")
    if names is not None and str(names) not in text:
        return Outcome(case, "wrong_file", f"the message does not name {names.name}: {text[-200:]!r}")
    return Outcome(case, "ok")


def corrections_special(case, world: World, special: str):
    """The corrections file is a FIFO / /dev/zero / sparse / deep / ...: every folder command reads it."""
    from tests.support.cases import call_cli

    path = world.data / CORRECTIONS
    SPECIAL[special](path)
    cap = call_cli(["dataset", str(world.data), "--json"])
    outcome = _verdict(case, world, cap, names=path)
    if outcome.verdict != "ok":
        return outcome
    cap = call_cli(["corrections", str(world.data), "apply"])
    return _verdict(case, world, cap, names=path)


def corrections_entries(case, world: World, which: str):
    """Keys and labels that leave the dataset, beside one good entry that must still be applied."""
    from tests.support.cases import Outcome, call_cli

    rng = world.rng
    good = "square/square_1.png"
    entries = {good: {"action": "relabel", "label": "star"}}
    if which == "key":
        for key in rng.sample(world.outside_paths(), 3):
            entries[key] = rng.choice([{"action": "exclude"}, {"action": "relabel", "label": "star"}])
    elif which == "label":
        for i, label in enumerate(rng.sample(world.hostile_labels(), 3)):
            entries[f"circle/circle_{i % 2}.png" if i < 2 else "star/star_0.png"] = {"action": "relabel",
                                                                                     "label": label}
    elif which == "link_key":
        os.symlink(world.decoy.root / ".ssh", world.data / "circle" / "keys")
        entries["circle/keys/id_rsa"] = {"action": rng.choice(["exclude", "relabel"]), "label": "star"}
    elif which == "duplicate":
        entries["./square//square_1.png"] = {"action": "exclude", "time": 0.0}
        entries[good]["time"] = 1.0
    path = write_corrections(world, entries)
    before = world.files()
    cap = call_cli(["corrections", str(world.data), "apply"])
    outcome = _verdict(case, world, cap, names=path if which != "duplicate" else None)
    if outcome.verdict != "ok":
        return outcome
    if not (world.data / "star" / "square_1.png").exists():
        return Outcome(case, "good_result_lost", "the good relabel beside the hostile entries was not applied")
    moved_out = set(before) - set(world.files()) - {good}
    if moved_out:
        return Outcome(case, "wrong_file", f"files moved by hostile entries: {sorted(moved_out)[:3]}")
    return outcome


def corrections_links(case, world: World, where: str):
    """A link planted where Apply or a relabel writes: the temp, the file, the excluded or a class folder."""
    from tests.support.cases import call_cli

    image = world.image("circle", world.rng.randrange(2))
    names = None
    if where == "temp":
        os.symlink(world.decoy.target, world.data / f".{CORRECTIONS}.tmp")
    elif where == "file":
        names = world.data / CORRECTIONS
        _link_out(names, world)
    elif where == "excluded":
        os.symlink(world.decoy.autostart, world.data / EXCLUDED)
        names = world.data / EXCLUDED
    elif where == "class":
        os.symlink(world.decoy.autostart, world.data / "zebra")
        names = world.data / "zebra"
    elif where == "log":
        names = world.data / MOVE_LOG
        _link_out(names, world)
    action = ["relabel", str(image), "zebra"] if where == "class" else (
        ["exclude", str(image)] if where == "excluded" else ["relabel", str(image), "star"])
    cap = call_cli(["corrections", str(world.data), *action])
    outcome = _verdict(case, world, cap, names=names if where == "file" else None)
    if outcome.verdict != "ok" or where == "file":
        return outcome
    cap = call_cli(["corrections", str(world.data), "apply"])
    return _verdict(case, world, cap, names=names)


def move_log(case, world: World, which: str):
    """A crafted or edited move log: Undo Apply moves nothing it did not record, and names the line."""
    from tests.support.cases import Outcome, call_cli

    log = world.data / MOVE_LOG
    rng = world.rng
    if which in SPECIAL:
        SPECIAL[which](log)
    else:
        moves = [{"from": rng.choice(world.outside_paths()), "to": world.rel(world.image()), "action": "relabel"},
                 {"from": world.rel(world.image("star")), "to": rng.choice(world.outside_paths()),
                  "action": "exclude"}]
        mac = {"no_mac": None, "random_mac": "%064x" % rng.getrandbits(256), "empty_mac": ""}.get(which, "0" * 64)
        line = {"time": time.time(), "moves": moves}
        if mac is not None:
            line["mac"] = mac
        log.write_text(json.dumps(line) + "\n")
    before = world.files()
    cap = call_cli(["corrections", str(world.data), "undo-apply"])
    outcome = _verdict(case, world, cap, names=log)
    if outcome.verdict == "ok" and world.files() != before:
        return Outcome(case, "wrong_file", "Undo Apply moved files of the dataset from a log it did not write")
    if outcome.verdict == "ok" and cap.rc != 2:
        return Outcome(case, "wrong_file", f"exit {cap.rc}, not the usage exit code 2")
    return outcome


def edited_log(case, world: World, which: str):
    """A real Apply, then its log line edited: the edited line is refused, the file stays where it was moved."""
    from core.data.corrections import load_corrections
    from core.data.correction_moves import apply_moves
    from tests.support.cases import Outcome, call_cli

    fixes = load_corrections(world.data)
    fixes.relabel(world.image("circle", 0), "star", list(CLASSES))
    fixes.save()
    apply_moves(world.data)
    log = world.data / MOVE_LOG
    line = json.loads(log.read_text())
    if which == "to":
        line["moves"][0]["to"] = world.rng.choice(world.outside_paths())
    elif which == "from":
        line["moves"][0]["from"] = world.rng.choice(world.outside_paths())
    else:
        line["moves"].append({"from": world.rel(world.decoy.key), "to": "circle/x.png", "action": "relabel"})
    log.write_text(json.dumps(line) + "\n")
    cap = call_cli(["corrections", str(world.data), "undo-apply"])
    outcome = _verdict(case, world, cap, names=log)
    if outcome.verdict == "ok" and not (world.data / "star" / "circle_0.png").exists():
        return Outcome(case, "wrong_file", "an edited log line was acted on")
    return outcome


def relabel_label(case, world: World, _):
    """The CLI's relabel with a label that is not a class name."""
    from tests.support.cases import Outcome, call_cli

    label = world.rng.choice([x for x in world.hostile_labels() if isinstance(x, str) and "\0" not in x])
    cap = call_cli(["corrections", str(world.data), "relabel", str(world.image()), label])
    outcome = _verdict(case, world, cap)
    if outcome.verdict == "ok" and cap.rc != 2:
        return Outcome(case, "wrong_file", f"relabel as {label!r} was accepted (exit {cap.rc})")
    return outcome


def evaluation(case, world: World, which: str):
    """A crafted evaluation folder: its files read safely, the images it names opened only inside it or its dataset."""
    from core.evaluate.images import resolve_image
    from core.evaluate.result import EvalResult, load_evaluation, save_evaluation
    from core.evaluate.source import EvaluationError
    from tests.support.cases import Outcome

    folder = world.out / "eval"
    outside = world.rng.choice([str(world.decoy.root / "private.png"), "/dev/zero", "../home/private.png",
                                str(world.data / ".." / "home" / "private.png")])
    files = [str(world.image()), outside, str(world.image("star"))]
    source = str(world.decoy.root if which == "source_root" else world.data) + " (val)"
    probs = np.full((3, 3), 0.1)
    probs[np.arange(3), [0, 1, 2]] = 0.8
    save_evaluation(EvalResult(list(CLASSES), files, np.array([0, 1, 2]), probs, source), folder)
    target = {"summary_fifo": "summary.json", "csv_fifo": "per_image.csv", "csv_sparse": "per_image.csv",
              "summary_deep": "summary.json", "csv_field": "per_image.csv", "csv_nan": "per_image.csv"}.get(which)
    if target:
        path = folder / target
        path.unlink()
        if which.endswith("fifo"):
            _fifo(path)
        elif which == "csv_sparse":
            _sparse(path)
        elif which == "summary_deep":
            path.write_text('{"classes": ' + "[" * 20_000 + "]" * 20_000 + "}")
        elif which == "csv_field":
            path.write_text("file,true,top_k\n" + "a.png,circle," + "circle:0." + "9" * 300_000 + "\n")
        else:
            path.write_text("file,true,top_k\na.png,circle,circle:nan\n")
    try:
        result = load_evaluation(folder)
    except EvaluationError as exc:
        return _verdict(case, world, None, names=folder / target if target else folder, text=str(exc))
    except BaseException as exc:  # noqa: BLE001
        return _verdict(case, world, exc)
    if target:
        return Outcome(case, "wrong_file", f"a broken {target} was read as an evaluation")
    shown = [resolve_image(f, result.images) for f in files]
    if shown[1] is not None:
        return Outcome(case, "wrong_file", f"the evaluation opens {outside}, outside its folders")
    if which != "source_root" and shown[0] is None:
        return Outcome(case, "good_result_lost", "the dataset's own image is not opened")
    return _verdict(case, world, None)


SETTINGS_BAD = [("train", "heartbeat_s", 1e-9), ("train", "num_workers", 500), ("train", "batch_size", "16"),
                ("train", "lr", -1), ("train", "epochs", 10**9), ("train", "report_interval_s", -1),
                ("train", "amp", "yes"), ("data", "image_size", 10**6), ("data", "train_count", 10**10),
                ("data", "val_count", -5), ("data", "val_fraction", 2.0), ("data", "cache_mb", -1),
                ("data", "augmentation", {"colour_jitter": 50}), ("model_options", "hidden", [10**8]),
                ("model_options", "blocks", 99), ("model_options", "dropout", "x")]


def settings(case, world: World, which: str):
    """train --settings with out-of-range values or a hostile file: refused naming the file, nothing written."""
    from tests.support.cases import Outcome, call_cli

    world.out.mkdir(parents=True, exist_ok=True)
    path = world.out / "S.json"
    values = {"data": {"name": str(world.data), "image_size": 16}, "model_name": "mlp",
              "model_options": {"hidden": [8]}, "train": {"epochs": 1, "batch_size": 4, "device": "cpu"}}
    if which == "value":
        part, key, value = world.rng.choice(SETTINGS_BAD)
        values[part][key] = value
        path.write_text(json.dumps(values))
    elif which in SPECIAL:
        SPECIAL[which](path)
    else:  # wrong shapes
        path.write_text(json.dumps(world.rng.choice([[1], {"train": [1]}, {"data": "x"}, {"model_name": 3}])))
    run = world.out / "run"
    cap = call_cli(["train", "--settings", str(path), "--out", str(run), "--quiet"])
    outcome = _verdict(case, world, cap, names=path)
    if outcome.verdict == "ok" and (cap.rc != 2 or run.exists()):
        return Outcome(case, "wrong_file", f"exit {cap.rc}; run folder created: {run.exists()}")
    return outcome


class _RunsCode:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def cifar(case, world: World, which: str):
    """A CIFAR batch put in the data folder by hand runs no code and is refused naming the file."""
    from core.data.folder import DatasetError
    from core.data.standard import load_standard
    from tests.support.cases import Outcome

    root = world.out / "datasets"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = np.zeros((2, 3072), np.uint8)
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": [0, 1]}, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    bad = folder / world.rng.choice(["data_batch_1", "data_batch_3", "test_batch", "batches.meta"])
    marker = world.decoy.root / "ran-code"
    bad.unlink()
    if which == "code":
        bad.write_bytes(pickle.dumps({"data": _RunsCode(str(marker)), "labels": [0]}, protocol=2))
    elif which == "object_array":
        bad.write_bytes(pickle.dumps({"data": np.array([1, "x"], dtype=object), "labels": [0]}, protocol=2))
    elif which == "eval_string":
        bad.write_bytes(b"cbuiltins\neval\n(V__import__('os').system('touch " + str(marker).encode() + b"')\ntR.")
    elif which == "gzip_bomb":
        bad = bad.with_name(bad.name + ".gz")
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb") as fh:
            fh.write(b"\0" * (300 << 20))
        bad.write_bytes(buffer.getvalue())
        (folder / bad.name.removesuffix(".gz")).unlink(missing_ok=True)
    else:
        SPECIAL[which](bad)
    try:
        load_standard("cifar10", root)
    except DatasetError as exc:
        if marker.exists():
            return Outcome(case, "outside_touched", "the crafted batch ran code")
        return _verdict(case, world, None, names=bad, text=str(exc))
    except BaseException as exc:  # noqa: BLE001
        return _verdict(case, world, exc)
    return Outcome(case, "wrong_file", f"a crafted {bad.name} was loaded")


def add_image_case(case, world: World, which: str):
    """Add to dataset with a linked class folder, a planted link under the new name, or a FIFO as the source."""
    from core.data.add_image import add_image
    from core.data.folder import DatasetError
    from tests.support.cases import Outcome

    source = world.out / "new.png"
    source.parent.mkdir(parents=True, exist_ok=True)
    cls, names = "circle", None
    if which == "class_link":
        os.symlink(world.decoy.autostart, world.data / "zebra")
        cls, names = "zebra", world.data / "zebra"
    if which == "name_link":
        os.symlink(world.decoy.target, world.data / "circle" / "new.png")
    if which in SPECIAL:
        SPECIAL[which](source)
        names = source
    else:
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(source)
    try:
        added = add_image(world.data, cls, path=source)
    except DatasetError as exc:
        return _verdict(case, world, None, names=names, text=str(exc)) if names else Outcome(
            case, "good_result_lost", f"a good image was refused: {exc}")
    except BaseException as exc:  # noqa: BLE001
        return _verdict(case, world, exc)
    if names is not None:
        return Outcome(case, "wrong_file", f"added as {added} through {names.name}")
    return _verdict(case, world, None)


KINDS = {
    **{f"corrections_{s}": (corrections_special, s) for s in SPECIAL},
    "corrections_link_out": (corrections_links, "file"),
    **{f"entries_{w}": (corrections_entries, w) for w in ("key", "label", "link_key", "duplicate")},
    **{f"link_{w}": (corrections_links, w) for w in ("temp", "excluded", "class", "log")},
    **{f"move_log_{w}": (move_log, w) for w in ("no_mac", "random_mac", "empty_mac", "zero_mac", *SPECIAL)},
    **{f"edited_log_{w}": (edited_log, w) for w in ("to", "from", "added")},
    "relabel_label": (relabel_label, ""),
    **{f"evaluation_{w}": (evaluation, w) for w in ("outside", "source_root", "summary_fifo", "csv_fifo",
                                                    "csv_sparse", "summary_deep", "csv_field", "csv_nan")},
    **{f"settings_{w}": (settings, w) for w in ("value", "shape", "fifo", "dev_zero", "sparse", "deep",
                                                "huge_number", "nan", "binary")},
    **{f"cifar_{w}": (cifar, w) for w in ("code", "object_array", "eval_string", "fifo", "dev_zero", "binary")},
    **{f"add_image_{w}": (add_image_case, w) for w in ("class_link", "name_link", "fifo", "dev_zero", "good")},
}
SLOW_KINDS = {"cifar_gzip_bomb": (cifar, "gzip_bomb")}  # 300 MB of zeros written and inflated: a few seconds


def run_shared_case(case, scratch: Path, ctx: dict):
    """One shared-dataset case (action "shared", kind from KINDS or SLOW_KINDS)."""
    function, variant = {**KINDS, **SLOW_KINDS}[case.kind]
    world = World(scratch, case.seed)
    return function(case, world, variant)
