"""Hostile run folders: a real run folder, copied, then crafted as a colleague sharing it might (issue 18).

`make_template(folder)` trains one tiny run with every artefact a run can leave (records, checkpoints, config,
layer health, probes, the dossier's top images, an evaluation, TensorBoard events, a rank file, a name and a
note, a control file). `plant(kind, run, decoy, seed)` copies nothing itself: it crafts the copy `run` for one
class in RUN_KINDS, aiming links at `decoy` (a tests.support.decoys.Decoy outside the folder), and returns a
Plant saying which file it crafted and what may legitimately happen to it.

Classes (the prefix says how; the rest which file):
  link_*      the file or folder is a symbolic link to a decoy file or folder outside the run
  hard_*      the file is a hard link to a decoy file (same filesystem): appending would change the decoy
  fifo_*      a named pipe (any open for reading or writing blocks for ever)
  zero_*      a link to /dev/zero (a read never ends)
  sparse_*    an 8 GB sparse file (no disk used; a whole read would take 8 GB)
  deep_*      JSON nested 100,000 deep (RecursionError)
  number_*    numbers that broke views: "version": null, an integer beyond float range, 1e300, huge times
  text_*      not UTF-8, not an object, HTML in a rank file
  many_ranks  20,000 rank files;  zip_bomb_topk  a 4 MB zip member declaring gigabytes;  leftover_pause
  temp_links  links planted under names an atomic write or --overwrite might pick (old temp names, the next
              minutes' previous-<time>/ folders)
"""
from __future__ import annotations

import functools
import io
import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from core.runs import layout
from core.runs.layout import RunLayout

SPARSE_BYTES = 8 * 2**30
DEEP = 100_000


@dataclass
class Plant:
    kind: str
    path: Path  # the crafted file or folder
    # The training actions may fail with a message naming it (a refusal); reads must never hang or raise.
    blocks_training: bool = False


def make_template(folder: Path) -> Path:
    """A finished 1-epoch run with every artefact (about 30 s of CPU, most of it importing torch)."""
    from PIL import Image
    import numpy as np

    from core.cli.main import main
    from core.runs.actions import rename_run, set_note
    from core.runs.control import write_control
    from core.runs.rank_status import write_rank_status

    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / "probe.png"
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(probe)
    run = folder / "run"
    code = main(["train", "--dataset", "shapes", "--model", "mlp", "--hidden", "8", "--epochs", "1",
                 "--image-size", "16", "--shapes-count", "64", "--batch-size", "16", "--out", str(run), "--dossier",
                 "--layer-health-every", "2", "--probe", str(probe), "--tensorboard", "--quiet", "--device", "cpu"])
    if code != 0:
        raise RuntimeError(f"the template run failed (exit {code})")
    write_rank_status(run, 0, 1, "done", step=4, epoch=1)
    rename_run(run, "a shared run")
    set_note(run, "from a colleague")
    write_control(run, pause=False)
    (run / layout.LAUNCHER_LOG).write_text("layerscope train: a log line\n")
    return run


def copy_run(template: Path, to: Path) -> Path:
    shutil.copytree(template, to, symlinks=True)
    return to


# ---- where each name lives -------------------------------------------------------------------------------
def _files(run: Path) -> dict[str, Path]:
    r = RunLayout(run)
    return {"config": r.config, "metrics": r.metrics, "meta": r.meta, "control": r.control, "lock": r.lock,
            "last": r.last_checkpoint, "best": r.best_checkpoint, "live": r.path / layout.LIVE,
            "rank": r.rank_status(0), "launcher_log": r.launcher_log, "layer_health": r.layer_health,
            "probes_index": r.probes / layout.PROBES_INDEX, "probes_timeline": r.probes / layout.PROBES_TIMELINE,
            "topk": r.topk, "eval_summary": r.eval_dir() / "summary.json", "eval_per_image": r.eval_dir() / "per_image.csv",
            "eval_png": r.eval_dir() / "confusion.png"}


def _folders(run: Path) -> dict[str, Path]:
    r = RunLayout(run)
    return {"ranks": r.ranks, "eval": r.eval_dir(), "tensorboard": r.tensorboard, "dossier": r.dossier,
            "probes": r.probes, "eval_images": r.eval_dir() / "images"}


# The files a run (or the app acting on it) writes: a link there must be refused, never written through.
WRITTEN = ("config", "metrics", "meta", "control", "lock", "last", "best", "rank", "launcher_log", "layer_health",
           "probes_index", "probes_timeline", "topk", "eval_summary", "eval_per_image", "eval_png")
# The small files the app reads: a FIFO, a device, a huge file there must cost that file only.
READ = ("config", "metrics", "meta", "control", "rank", "layer_health", "probes_index", "probes_timeline", "topk",
        "eval_summary", "eval_per_image", "launcher_log")
JSON_FILES = ("config", "meta", "control", "rank", "probes_index", "eval_summary")
JSON_LINES = ("metrics", "layer_health", "probes_timeline")


def _replace(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)


def _link_file(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        os.symlink(decoy.target, path)
        return Plant(f"link_{name}", path, blocks_training=name in ("lock", "metrics", "config", "last"))
    return make


def _link_folder(name):
    def make(run, decoy, seed):
        path = _folders(run)[name]
        _replace(path)
        target = decoy.root / f"folder-{name}"
        target.mkdir(exist_ok=True)
        decoy.remember()
        os.symlink(target, path)
        # --tensorboard was asked for: its folder refused ends the run at its start, with the message
        return Plant(f"link_{name}", path, blocks_training=name == "tensorboard")
    return make


def _hard_link(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        os.link(decoy.target, path)
        # a hard-linked .lock is refused; a file appended to is first copied (its other name never changes)
        return Plant(f"hard_{name}", path, blocks_training=name == "lock")
    return make


def _fifo(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        os.mkfifo(path)
        return Plant(f"fifo_{name}", path, blocks_training=name in ("lock", "metrics", "config", "last"))
    return make


def _dev_zero(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        os.symlink("/dev/zero", path)
        return Plant(f"zero_{name}", path, blocks_training=name in ("metrics", "config", "last"))
    return make


def _sparse(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        with open(path, "wb") as fh:
            fh.truncate(SPARSE_BYTES)
        return Plant(f"sparse_{name}", path, blocks_training=name in ("metrics", "config", "last"))
    return make


def _deep(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        nest = ("[" * DEEP) + ("]" * DEEP) if seed % 2 else ('{"a":' * DEEP) + "1" + ("}" * DEEP)
        path.write_text(nest + ("\n" if name in JSON_LINES else ""))
        return Plant(f"deep_{name}", path, blocks_training=name == "config")
    return make


def _metrics_line(text: str, kind: str):
    """A crafted record appended to a real metrics.jsonl (the run's good records stay)."""
    def make(run, decoy, seed):
        path = RunLayout(run).metrics
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
        return Plant(kind, path)
    return make


def _json_edit(name: str, kind: str, change: Callable[[dict], object]):
    def make(run, decoy, seed):
        path = _files(run)[name]
        value = json.loads(path.read_text()) if path.is_file() else {}
        new = change(value)
        path.write_text(new if isinstance(new, str) else json.dumps(new))
        return Plant(kind, path, blocks_training=name == "config")
    return make


def _huge_int_text(field: str) -> Callable[[dict], str]:
    def change(value: dict) -> str:
        body = json.dumps({k: v for k, v in value.items() if k != field})
        return body[:-1] + (", " if len(body) > 2 else "") + f'"{field}": 1{"0" * 400}' + "}"
    return change


def _zip_bomb(run, decoy, seed):
    """A topk.npz whose header member declares 4 GiB: np.load would allocate it."""
    path = RunLayout(run).topk
    _replace(path)
    path.write_bytes(_zip_bomb_bytes())
    return Plant("zip_bomb_topk", path)


@functools.lru_cache(maxsize=1)
def _zip_bomb_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        header = b"\x93NUMPY\x01\x00" + b"{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296,), }"
        header = header + b" " * (127 - len(header)) + b"\n"
        with archive.open("header.npy", "w", force_zip64=True) as member:
            member.write(header)
            zeros = bytes(1 << 20)
            for _ in range(256):  # 256 MiB of zeros inflates from a few hundred KB
                member.write(zeros)
    return buffer.getvalue()


def _html_rank(run, decoy, seed):
    path = RunLayout(run).rank_status(0)
    payload = '<img src="file:///etc/passwd"><a href="https://example.com">click</a><b>bold</b>'
    path.write_text(json.dumps({"rank": 0, "world_size": 1, "state": payload, "step": 3, "epoch": 1,
                                "pid": 1, "host": payload, "time": time.time(), "message": payload}))
    return Plant("text_html_rank", path)


def _many_ranks(run, decoy, seed):
    ranks = RunLayout(run).ranks
    ranks.mkdir(exist_ok=True)
    body = json.dumps({"rank": 0, "world_size": 20_000, "state": "running", "step": 1, "epoch": 1, "pid": 1,
                       "host": "h", "time": time.time()})
    for i in range(20_000):
        (ranks / f"{layout.RANK_PREFIX}{i}{layout.RANK_SUFFIX}").write_text(body.replace('"rank": 0', f'"rank": {i}'))
    return Plant("many_ranks", ranks)


def _leftover_pause(run, decoy, seed):
    path = RunLayout(run).control
    _replace(path)
    path.write_text(json.dumps({"pause": True, "stop": False, "time": time.time() - 3600,
                                "by": "a window that followed the run"}))
    old = time.time() - 3600
    os.utime(path, (old, old))
    return Plant("leftover_pause", path)


def _temp_links(run, decoy, seed):
    """Links where a careless writer would put its temp file or --overwrite its folder."""
    for name in (layout.CONFIG, layout.META, layout.CONTROL, layout.LAST, layout.BEST, layout.METRICS):
        for guess in (f".{name}.tmp", f"{name}.tmp", f".{name}.part", f".{name}.00000000.tmp"):
            os.symlink(decoy.target, run / guess)
    os.symlink(decoy.target, RunLayout(run).topk.with_name(f".{layout.TOPK}.tmp"))
    now = time.time()
    for second in range(0, 240):  # the next four minutes' previous-<time>/ names
        os.symlink(decoy.root, RunLayout(run).previous(time.strftime("%Y%m%d-%H%M%S", time.localtime(now + second))))
    return Plant("temp_links", run)


def _not_utf8(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        path.write_bytes(b"\xff\xfe{\x00\"\x00a\x00\"\x00:\x001\x00}\x00" + bytes(range(128, 256)))
        return Plant(f"text_not_utf8_{name}", path, blocks_training=name == "config")
    return make


def _a_list(name):
    def make(run, decoy, seed):
        path = _files(run)[name]
        _replace(path)
        path.write_text(json.dumps([1, 2, {"rank": "x"}]))
        return Plant(f"text_a_list_{name}", path, blocks_training=name == "config")
    return make


RUN_KINDS: dict[str, Callable] = {}
for _name in WRITTEN:
    RUN_KINDS[f"link_{_name}"] = _link_file(_name)
for _name in ("ranks", "eval", "tensorboard", "dossier", "probes", "eval_images"):
    RUN_KINDS[f"link_{_name}"] = _link_folder(_name)
for _name in ("lock", "metrics", "layer_health", "probes_timeline", "launcher_log"):
    RUN_KINDS[f"hard_{_name}"] = _hard_link(_name)
for _name in READ + ("lock",):
    RUN_KINDS[f"fifo_{_name}"] = _fifo(_name)
for _name in READ:
    RUN_KINDS[f"zero_{_name}"] = _dev_zero(_name)
for _name in ("config", "metrics", "layer_health", "probes_timeline", "topk", "rank", "meta", "control"):
    RUN_KINDS[f"sparse_{_name}"] = _sparse(_name)
for _name in JSON_FILES + JSON_LINES:
    RUN_KINDS[f"deep_{_name}"] = _deep(_name)
for _name in ("config", "meta", "control", "rank", "probes_index"):
    RUN_KINDS[f"text_not_utf8_{_name}"] = _not_utf8(_name)
    RUN_KINDS[f"text_a_list_{_name}"] = _a_list(_name)
RUN_KINDS.update({
    "number_version_null": _metrics_line(
        '{"version": null, "kind": "start", "time": 1, "epochs": 3, "start_epoch": 0, "batches_per_epoch": 4, '
        '"total_steps": 12, "heartbeat_s": 2}', "number_version_null"),
    "number_int_beyond_float": _metrics_line(
        '{"version": 1, "kind": "epoch", "time": 2, "epoch": 1' + "0" * 400 + ', "step": 4, "val_loss": 1, '
        '"val_acc": 0.5}', "number_int_beyond_float"),
    "number_huge_step": _metrics_line(
        '{"version": 1, "kind": "step", "time": 3, "step": 1' + "0" * 30 + ', "loss": 1}', "number_huge_step"),
    "number_near_1e300": _metrics_line(
        '{"version": 1, "kind": "epoch", "time": 4, "epoch": 2, "step": 8, "val_loss": 1e300, "val_acc": 1e300, '
        '"train_loss": -1e300, "lr": 1e305}', "number_near_1e300"),
    "number_huge_time": _metrics_line(
        '{"version": 1, "kind": "heartbeat", "time": 1e300, "state": "running"}', "number_huge_time"),
    "number_config_huge_int": _json_edit("config", "number_config_huge_int", _huge_int_text("version")),
    "number_control_huge_time": _json_edit("control", "number_control_huge_time",
                                           lambda v: {**v, "pause": True, "time": 1e300}),
    "number_rank_huge_step": _json_edit("rank", "number_rank_huge_step", _huge_int_text("step")),
    "text_html_rank": _html_rank,
    "many_ranks": _many_ranks,
    "zip_bomb_topk": _zip_bomb,
    "leftover_pause": _leftover_pause,
    "temp_links": _temp_links,
})


def plant(kind: str, run: Path, decoy, seed: int = 0) -> Plant:
    """Craft `run` (a copy of the template) as class `kind`; the decoy's state is taken after, so only what
    the action under test does counts."""
    made = RUN_KINDS[kind](Path(run), decoy, seed)
    decoy.remember()
    return made
