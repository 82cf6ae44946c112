"""A health check of an image folder before training on it: what is there, and what is wrong with it.

Every file in the class folders is read once (threads), through the same safe reader and header check as
training (core.io.images): only regular files within the byte budget are read, so the read is bounded; its
bytes are hashed (exact duplicates, also across train and val, which would inflate validation accuracy) and
decoded at a reduced JPEG scale (cheap, yet it still reads the whole stream, so truncated files are caught).
Entries named like images that are not files (FIFOs, link loops, dangling links, a folder named x.jpg) are
listed too. Problems are listed with their reasons and never stop the scan; `build_data` leaves the same
files out of training.

The same read gives each class's profile (formats, modes, sizes, aspect ratios, file sizes, and brightness,
contrast and colourfulness from the small decode) and the confounds (core.data.confounds): a class that one of
these alone tells apart from the others is a warning with its fix, found before any training.
"""
from __future__ import annotations

import hashlib
import io
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image

from core.data.cache import default_threads
from core.data.confounds import (ClassProfile, Confound, ImageTraits, class_profiles, colour_traits,
                                 confound_warnings, find_confounds)
from core.data.folder import (
    class_folders,
    find_split_folders,
    scan_folder_splits,
    walk_class_folder,
)
from core.io.images import ImageLoadError, load_image, read_image_bytes
from core.progress import NO_PROGRESS, Progress

SMALL_CLASS = 10  # fewer good training images than this: too few to learn or to measure
IMBALANCE_WARN = 3.0  # largest / smallest class above this: accuracy alone will mislead


@dataclass
class FileProblem:
    path: str
    kind: str  # an ImageLoadError kind: "empty", "corrupt", "too_large", "not_image", "not_regular", ...
    reason: str


@dataclass
class DuplicateGroup:
    sha1: str
    paths: list[str]
    splits: list[str]

    @property
    def cross_split(self) -> bool:
        """The same image in more than one split (e.g. train and val)."""
        return len(set(self.splits)) > 1


@dataclass
class HealthReport:
    root: str
    layout: str  # "train/ and val/ folders" or "one folder per class, 20 % held out for validation"
    classes: list[str]
    counts: dict[str, dict[str, int]]  # class -> split -> number of good images
    total_files: int = 0
    good_files: int = 0
    problems: list[FileProblem] = field(default_factory=list)
    # Never used, each "path (why)" or a bare path for a file without an image extension: tool folders, folders
    # beside train/ and val/, images outside a class folder.
    ignored: list[str] = field(default_factory=list)
    duplicates: list[DuplicateGroup] = field(default_factory=list)
    small_classes: list[str] = field(default_factory=list)
    imbalance_ratio: float | None = None  # largest / smallest class in train
    min_size: tuple[int, int] | None = None  # (width, height) of the smallest image by area
    max_size: tuple[int, int] | None = None
    modes: dict[str, int] = field(default_factory=dict)  # PIL mode -> files ("RGB", "L", "RGBA", ...)
    formats: dict[str, int] = field(default_factory=dict)  # "JPEG", "PNG", ...
    profiles: list[ClassProfile] = field(default_factory=list)  # per class: formats, modes, sizes, colour
    confounds: list[Confound] = field(default_factory=list)  # a class one property alone tells apart
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain JSON-able dict."""
        d = asdict(self)
        for group, out in zip(self.duplicates, d["duplicates"]):
            out["cross_split"] = group.cross_split
        for confound, out in zip(self.confounds, d["confounds"]):
            out["sentence"] = confound.sentence()
        return d

    def format_text(self) -> str:
        """A readable report for the terminal."""
        splits = sorted({s for per in self.counts.values() for s in per}, key=_split_order)
        lines = [f"Dataset: {self.root}", f"Layout: {self.layout}",
                 f"Files: {self.total_files} image files, {self.good_files} good, {len(self.problems)} with problems"
                 + (f", {len(self.ignored)} other entries not used" if self.ignored else ""), ""]
        width = max([len(c) for c in self.classes] + [5])
        lines.append("  ".join([f"{'class':<{width}}"] + [f"{s:>6}" for s in splits]))
        for name in self.classes:
            lines.append("  ".join([f"{name:<{width}}"] + [f"{self.counts[name].get(s, 0):>6}" for s in splits]))
        if self.min_size and self.max_size:
            lines.append("")
            lines.append(f"Image sizes: {self.min_size[0]}x{self.min_size[1]} to {self.max_size[0]}x{self.max_size[1]}")
            lines.append("Modes: " + ", ".join(f"{m} {n}" for m, n in sorted(self.modes.items())))
        if self.profiles:
            lines += ["", "Per class (median, with the range):"] + profile_table(self.profiles)
        if self.problems:
            lines += ["", "Problem files (left out of training):"]
            lines += [f"  {p.path}: {p.reason}" for p in self.problems]
        if self.duplicates:
            lines += ["", "Exact duplicates (same bytes):"]
            for g in self.duplicates:
                tag = " [in more than one split]" if g.cross_split else ""
                lines.append(f"  {', '.join(g.paths)}{tag}")
        if self.ignored:
            lines += ["", "Not used (non-image files, tool and extra folders): " + ", ".join(self.ignored[:20])
                      + (f" and {len(self.ignored) - 20} more" if len(self.ignored) > 20 else "")]
        if self.warnings:
            lines += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)


def _split_order(name: str) -> int:
    return {"train": 0, "val": 1, "test": 2}.get(name, 3)


PROFILE_COLUMNS = ("class", "images", "formats", "modes", "size (w x h)", "aspect", "file KB", "brightness",
                   "contrast", "colour")


def profile_cells(p: ClassProfile) -> list[str]:
    """One class's row of the per-class breakdown (medians, with the range where it varies)."""
    if not p.images:
        return [p.name, "0"] + ["-"] * (len(PROFILE_COLUMNS) - 2)
    return [p.name, str(p.images), _shares(p.formats, p.images), _shares(p.modes, p.images), _size_text(p),
            _range_text(p.aspect, ".2f"), _range_text(p.file_kb, ".0f"), _number(p.brightness),
            _number(p.contrast), _number(p.colourfulness)]


def profile_table(profiles: list[ClassProfile]) -> list[str]:
    """The per-class breakdown as aligned text lines."""
    rows = [list(PROFILE_COLUMNS)] + [profile_cells(p) for p in profiles]
    widths = [max(len(row[i]) for row in rows) for i in range(len(PROFILE_COLUMNS))]
    return ["  " + "  ".join(cell.ljust(w) if i in (0, 2, 3, 4, 5, 6) else cell.rjust(w)
                             for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]


def _shares(counts: dict[str, int], total: int) -> str:
    if not counts:
        return "-"
    if len(counts) == 1:
        return next(iter(counts))
    return " ".join(f"{k} {v / max(total, 1):.0%}" for k, v in list(counts.items())[:2])


def _size_text(p: ClassProfile) -> str:
    if p.width[0] == p.width[2] and p.height[0] == p.height[2]:
        return f"{p.width[1]}x{p.height[1]}"
    return f"{p.width[1]}x{p.height[1]} ({p.width[0]}-{p.width[2]} x {p.height[0]}-{p.height[2]})"


def _range_text(values: tuple, spec: str) -> str:
    lo, mid, hi = values
    return f"{mid:{spec}} ({lo:{spec}}-{hi:{spec}})" if lo != hi else f"{mid:{spec}}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


@dataclass
class _FileInfo:
    sha1: str | None = None
    size: tuple[int, int] | None = None
    mode: str | None = None
    format: str | None = None
    traits: ImageTraits | None = None
    problem: FileProblem | None = None


def _check_file(path: Path) -> _FileInfo:
    try:
        data = read_image_bytes(path)  # regular files within the byte budget only
    except ImageLoadError as exc:
        return _FileInfo(problem=FileProblem(str(path), exc.kind, exc.reason))
    info = _FileInfo(sha1=hashlib.sha1(data).hexdigest())
    try:
        with Image.open(io.BytesIO(data)) as img:  # header only: size, mode, format
            info.size, info.mode, info.format = img.size, img.mode, img.format
        # The pixel limit, then a full decode: the only way to catch a truncated or mangled stream; at 1/8
        # JPEG scale it is cheap, and its pixels give the colour statistics for free.
        small = load_image(data, name=str(path), draft_size=16)
        info.traits = ImageTraits(str(info.format), str(info.mode), *info.size, round(len(data) / 1024, 1),
                                  *colour_traits(small))
    except ImageLoadError as exc:
        info.problem = FileProblem(str(path), exc.kind, exc.reason)
    except Exception as exc:  # Image.open's own failures: not an image at all
        info.problem = FileProblem(str(path), "not_image",
                                   f"not an image file Layerscope can read ({type(exc).__name__})")
    return info


def _non_image_files(folders: list[Path]) -> list[str]:
    return [str(p) for folder in folders for p in walk_class_folder(folder).other_files]


def scan_health(root: str | Path, progress: Progress = NO_PROGRESS, *, val_fraction: float = 0.2, seed: int = 0,
                threads: int | None = None) -> HealthReport:
    """Scan an image folder -> HealthReport. Raises DatasetError if it is not a dataset folder at all,
    Cancelled once `progress` is cancelled; bad files never raise."""
    root = Path(root).expanduser()
    found = scan_folder_splits(root, val_fraction, seed)  # raises DatasetError for a non-dataset
    splits = find_split_folders(root)
    layout = _describe_layout(splits, val_fraction)
    labelled = [(p, lbl, "train") for p, lbl in found.train] + [(p, lbl, "val") for p, lbl in found.val] + \
               [(p, lbl, "test") for p, lbl in found.test]
    total = len(labelled)
    infos: list[_FileInfo] = []
    with ThreadPoolExecutor(max_workers=threads or default_threads()) as pool:
        chunk = 64
        for start in range(0, total, chunk):
            progress.check_cancelled()
            infos += list(pool.map(_check_file, [p for p, _, _ in labelled[start:start + chunk]]))
            progress.update(len(infos), total, "checking images")

    report = HealthReport(root=str(root), layout=layout, classes=list(found.classes),
                          counts={c: {s: 0 for s in ("train", "val", "test") if s != "test" or found.test}
                                  for c in found.classes},
                          total_files=total + len(found.skipped))
    report.problems += [FileProblem(s.path, s.kind, s.reason) for s in found.skipped]
    by_hash: dict[str, list[tuple[str, str]]] = {}
    areas = []
    modes, formats = Counter(), Counter()
    traits, trait_labels = [], []
    for (path, label, split), info in zip(labelled, infos):
        if info.sha1:
            by_hash.setdefault(info.sha1, []).append((str(path), split))
        if info.problem is not None:
            report.problems.append(info.problem)
            continue
        report.good_files += 1
        report.counts[found.classes[label]][split] += 1
        modes[info.mode] += 1
        formats[info.format] += 1
        areas.append((info.size[0] * info.size[1], info.size))
        traits.append(info.traits)
        trait_labels.append(label)
    report.modes, report.formats = dict(modes), dict(formats)
    report.profiles = class_profiles(traits, trait_labels, report.classes)
    progress.check_cancelled()
    report.confounds = find_confounds(traits, trait_labels, report.classes, seed=seed)
    if areas:
        report.min_size, report.max_size = min(areas)[1], max(areas)[1]
    report.duplicates = [DuplicateGroup(h, [p for p, _ in items], [s for _, s in items])
                         for h, items in by_hash.items() if len(items) > 1]
    class_dirs = [root / c for c in found.classes] if not splits else \
        [d for s in splits.values() for d in class_folders(s)]
    report.ignored = (_non_image_files(class_dirs) + [f"{p}/ (tool folder)" for p in found.ignored_folders]
                      + found.unused)
    report.warnings += found.notes  # layout problems first: they change what is trained on
    _add_warnings(report)
    return report


def _describe_layout(splits: dict[str, Path], val_fraction: float) -> str:
    held_out = f"{val_fraction * 100:g} % held out for validation"
    if not splits:
        return f"one folder per class, {held_out}"
    text = f"{splits['train'].name}/ and {splits['val'].name}/ folders" if "val" in splits \
        else f"{splits['train'].name}/ folder, {held_out}"
    return text + (f"; {splits['test'].name}/ kept aside as the test split" if "test" in splits else "")


def _add_warnings(report: HealthReport) -> None:
    train = {c: per.get("train", 0) for c, per in report.counts.items()}
    report.small_classes = [c for c, n in train.items() if n < SMALL_CLASS]
    if train and min(train.values()) > 0:
        report.imbalance_ratio = round(max(train.values()) / min(train.values()), 2)
    w = report.warnings
    w += confound_warnings(report.confounds)  # before the counts: they decide what a network learns
    if report.problems:
        w.append(f"{len(report.problems)} file(s) cannot be read and will be left out of training")
    for c in report.small_classes:
        w.append(f"class '{c}' has only {train[c]} training image(s); add more (at least {SMALL_CLASS})")
    if report.imbalance_ratio and report.imbalance_ratio > IMBALANCE_WARN:
        big, small = max(train, key=train.get), min(train, key=train.get)
        w.append(f"classes are imbalanced: '{big}' has {report.imbalance_ratio:g}x the images of '{small}'")
    cross = [g for g in report.duplicates if g.cross_split]
    if cross:
        w.append(f"{len(cross)} image(s) appear in more than one split (e.g. train and val): validation "
                 "accuracy will look better than it is; remove the copies")
    elif report.duplicates:
        w.append(f"{len(report.duplicates)} group(s) of exact duplicate images")
    if report.min_size and min(report.min_size) < 32:
        w.append(f"the smallest image is only {report.min_size[0]}x{report.min_size[1]} pixels")
