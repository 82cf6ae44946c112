"""Confounds, found before any training: a class that one file property alone tells apart from the others.

A network learns whatever separates the classes most easily. When every 'people' photo is a 96x160 PNG and
every cat or dog a JPEG of varied size, it can learn "PNG" instead of people, and its validation accuracy,
drawn from the same folders, will not say so. Per image we take what the health scan reads anyway: from the
header the format, mode, width, height and aspect ratio, the file size, and from the small decode it already
does (a JPEG at 1/8 scale) brightness, contrast and colourfulness. For each class against the rest and each
property alone, a one-feature classifier (a decision stump: one threshold) is cross-validated; its balanced
accuracy (chance is 0.5) at or above CONFOUND_ACCURACY names a problem, with the fix.

Written here in numpy rather than with scikit-learn's DecisionTreeClassifier(max_depth=1) + cross_val_score:
importing scikit-learn took 1.5-8 s and each cross-validation about 40 ms on the 2-core development machine,
which would have made the confound check most of a health scan; the stump is a sort and two cumulative sums
(the exact threshold that maximises balanced accuracy on the training folds), the whole check milliseconds.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

CONFOUND_ACCURACY = 0.9  # balanced accuracy of one property alone (chance 0.5): a clear margin above chance
MIN_IMAGES = 8  # a class (and the rest) needs this many images for a cross-validated verdict
MAX_PER_CLASS = 2000  # a seeded sample per class bounds the work on a huge folder
FOLDS = 5

# Property -> (words for the user, the fix). Numeric properties are stumped directly; categorical ones (format,
# mode) as one indicator per value ("is PNG").
PROPERTIES = {
    "format": ("file format", "re-encode every image to one format and quality"),
    "mode": ("colour mode", "convert every image to RGB (a class that is all grayscale needs colour photos, or "
                            "every class grayscale)"),
    "width": ("width", "resize and crop every image to one size and shape"),
    "height": ("height", "resize and crop every image to one size and shape"),
    "aspect": ("aspect ratio", "resize and crop every image to one size and shape"),
    "file_kb": ("file size", "re-encode every image to one format and quality"),
    "brightness": ("brightness", "unless brightness is what tells the classes apart (day and night), take every "
                                 "class's photos alike or train with colour jitter"),
    "contrast": ("contrast", "unless contrast is what tells the classes apart, take every class's photos alike or "
                             "train with colour jitter"),
    "colourfulness": ("colourfulness", "unless colour is what tells the classes apart, look for a grayscale or "
                                       "tinted source and take every class's photos alike"),
}
CATEGORICAL = ("format", "mode")
NUMERIC = tuple(p for p in PROPERTIES if p not in CATEGORICAL)


@dataclass
class ImageTraits:
    """What the health scan learns about one readable image without a full-size decode."""

    format: str
    mode: str
    width: int
    height: int
    file_kb: float
    brightness: float | None = None  # mean luma, 0..255, of a small decode
    contrast: float | None = None  # std of luma
    colourfulness: float | None = None  # mean channel spread (max - min), 0 for grayscale

    @property
    def aspect(self) -> float:
        return self.width / max(self.height, 1)

    def value(self, name: str):
        return self.aspect if name == "aspect" else getattr(self, name)


def file_traits(path, pixels=None) -> ImageTraits | None:
    """One file's traits from its header (no decode), the colour ones from `pixels` (an already decoded uint8
    [3, H, W] tensor or RGB image) when given; None when the file cannot be read."""
    import io

    from PIL import Image

    from core.io.images import ImageLoadError, read_image_bytes

    try:
        data = read_image_bytes(path)
        with Image.open(io.BytesIO(data)) as img:
            traits = ImageTraits(str(img.format), str(img.mode), *img.size, round(len(data) / 1024, 1))
    except (ImageLoadError, OSError, ValueError, Image.DecompressionBombError):
        return None
    if pixels is not None:
        if not isinstance(pixels, Image.Image):
            pixels = Image.fromarray(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()))
        traits.brightness, traits.contrast, traits.colourfulness = colour_traits(pixels)
    return traits


def confounds_of_files(files, labels: list[int], classes: list[str], pixels=None, seed: int = 0) -> list[Confound]:
    """find_confounds over files read by `file_traits` (unreadable ones left out); `pixels` one per file."""
    pixels = pixels if pixels is not None else [None] * len(files)
    read = [(file_traits(f, p), label) for f, p, label in zip(files, pixels, labels)]
    kept = [(t, label) for t, label in read if t is not None]
    return find_confounds([t for t, _ in kept], [label for _, label in kept], classes, seed)


def colour_traits(rgb) -> tuple[float, float, float]:
    """(brightness, contrast, colourfulness) of an RGB PIL image, measured on a copy of at most 64 px a side."""
    small = rgb.copy()
    small.thumbnail((64, 64))
    x = np.asarray(small, dtype=np.float32).reshape(-1, 3)
    luma = x @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    spread = x.max(axis=1) - x.min(axis=1)
    return float(luma.mean()), float(luma.std()), float(spread.mean())


@dataclass
class ClassProfile:
    """One class's images at a glance: the per-class breakdown of the health report."""

    name: str
    images: int
    formats: dict[str, int] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    width: tuple[int, int, int] = (0, 0, 0)  # min, median, max
    height: tuple[int, int, int] = (0, 0, 0)
    aspect: tuple[float, float, float] = (0.0, 0.0, 0.0)
    file_kb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    brightness: float | None = None  # medians
    contrast: float | None = None
    colourfulness: float | None = None


@dataclass
class Confound:
    """A class that one property alone tells apart from the others."""

    cls: str
    property: str  # a PROPERTIES key
    accuracy: float  # cross-validated balanced accuracy of the one-property classifier (chance 0.5)
    detail: str  # what differs, in numbers
    fix: str
    versus: str = "the others"  # the other classes, or the other class by name when there are two

    @property
    def words(self) -> str:
        return PROPERTIES[self.property][0]

    def sentence(self) -> str:
        return confound_warnings([self])[0]


def _spread(values: list[float], digits: int = 0) -> tuple:
    cast = int if digits == 0 else (lambda v: round(v, digits))
    return cast(min(values)), cast(statistics.median(values)), cast(max(values))


def class_profiles(traits: list[ImageTraits], labels: list[int], classes: list[str]) -> list[ClassProfile]:
    out = []
    for c, name in enumerate(classes):
        mine = [t for t, label in zip(traits, labels) if label == c]
        profile = ClassProfile(name, len(mine))
        if mine:
            profile.formats = _counts(t.format for t in mine)
            profile.modes = _counts(t.mode for t in mine)
            profile.width = _spread([t.width for t in mine])
            profile.height = _spread([t.height for t in mine])
            profile.aspect = _spread([t.aspect for t in mine], 2)
            profile.file_kb = _spread([t.file_kb for t in mine], 1)
            for name_ in ("brightness", "contrast", "colourfulness"):
                values = [getattr(t, name_) for t in mine if getattr(t, name_) is not None]
                setattr(profile, name_, round(statistics.median(values), 1) if values else None)
        out.append(profile)
    return out


def _counts(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _columns(traits: list[ImageTraits]) -> list[tuple[str, str | None, np.ndarray]]:
    """(property, category or None, one column per stump): numeric properties as they are, categorical ones as
    one indicator column per value."""
    columns = []
    for name in NUMERIC:
        values = [t.value(name) for t in traits]
        if all(v is not None for v in values):
            columns.append((name, None, np.asarray(values, dtype=np.float64)))
    for name in CATEGORICAL:
        values = [t.value(name) for t in traits]
        kinds = sorted(set(values))
        if len(kinds) > 1:
            columns += [(name, kind, np.asarray([v == kind for v in values], dtype=bool)) for kind in kinds]
    return columns


def _sample(labels: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        keep.append(members if len(members) <= MAX_PER_CLASS else rng.choice(members, MAX_PER_CLASS, replace=False))
    return np.sort(np.concatenate(keep))


def fit_stump(x: np.ndarray, y: np.ndarray) -> tuple[float, bool]:
    """(threshold, above): the rule "positive when x > threshold" (above) or "x <= threshold" with the best
    balanced accuracy on (x, y); y is boolean with both values present."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    positives, negatives = ys.sum(), (~ys).sum()
    splits = np.flatnonzero(xs[1:] != xs[:-1])  # split after these indices: between two distinct values
    if not len(splits):
        return float(xs[-1]), True  # one value: everything on one side, chance
    at_or_below_pos, at_or_below_neg = np.cumsum(ys)[splits], np.cumsum(~ys)[splits]
    above = ((positives - at_or_below_pos) / positives + at_or_below_neg / negatives) / 2
    best = int(np.argmax(np.maximum(above, 1 - above)))  # "x <= t" scores 1 - "x > t"
    threshold = float(xs[splits[best]] + xs[splits[best] + 1]) / 2
    return threshold, bool(above[best] >= 0.5)


def balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    return float((predicted[y].mean() + (~predicted[~y]).mean()) / 2)


def _stump_accuracy(column: np.ndarray, target: np.ndarray, seed: int) -> float:
    """Stratified k-fold cross-validated balanced accuracy of a stump on one column."""
    folds = min(FOLDS, int(target.sum()), int((~target).sum()))
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(target), dtype=np.int64)
    for members in (np.flatnonzero(target), np.flatnonzero(~target)):
        fold_of[rng.permutation(members)] = np.arange(len(members)) % folds
    scores = []
    for fold in range(folds):
        train, test = fold_of != fold, fold_of == fold
        threshold, above = fit_stump(column[train], target[train])
        predicted = column[test] > threshold if above else column[test] <= threshold
        scores.append(balanced_accuracy(target[test], predicted))
    return float(np.mean(scores))


def find_confounds(traits: list[ImageTraits], labels: list[int], classes: list[str],
                   seed: int = 0) -> list[Confound]:
    """Every (class, property) whose one-property classifier reaches CONFOUND_ACCURACY, strongest first; one
    finding per class and property (the best value of a categorical one)."""
    if len(traits) < 2 * MIN_IMAGES or len(classes) < 2:
        return []
    labels_a = np.asarray(labels)
    keep = _sample(labels_a, seed)
    kept = [traits[i] for i in keep]
    labels_a = labels_a[keep]
    columns = _columns(kept)
    found: dict[tuple[str, str], Confound] = {}
    tested = range(len(classes))
    versus = "the others"
    if len(classes) == 2:  # one class against the other is the same test both ways: name the odd one once
        odd = _more_uniform(kept, labels_a)
        tested, versus = [odd], f"'{classes[1 - odd]}'"
    for c in tested:
        name = classes[c]
        target = labels_a == c
        if target.sum() < MIN_IMAGES or (~target).sum() < MIN_IMAGES:
            continue
        for prop, kind, column in columns:
            if kind is not None and column[target].mean() <= column[~target].mean():
                continue  # a value is named by the class that has more of it ("its images are PNG")
            if kind is not None:
                column = column.astype(np.float64)
            accuracy = _stump_accuracy(column, target, seed)
            best = found.get((name, prop))
            if accuracy < CONFOUND_ACCURACY or (best is not None and accuracy <= best.accuracy):
                continue
            found[(name, prop)] = Confound(name, prop, round(accuracy, 3), _detail(prop, kind, column, target,
                                                                                   versus), PROPERTIES[prop][1], versus)
    order = list(PROPERTIES)
    return sorted(found.values(), key=lambda f: (f.cls, -f.accuracy, order.index(f.property)))


def confound_warnings(confounds: list[Confound]) -> list[str]:
    """One sentence per class: its strongest property with the numbers, the other properties that also tell it
    apart, and each fix once."""
    by_class: dict[str, list[Confound]] = {}
    for c in confounds:
        by_class.setdefault(c.cls, []).append(c)
    out = []
    for cls, found in by_class.items():
        first, others = found[0], found[1:]
        also = f"; also by its {', '.join(o.words for o in others)}" if others else ""
        fixes = list(dict.fromkeys(c.fix for c in found))
        out.append(f"confound: class '{cls}' can be told from {first.versus} by its {first.words} alone "
                   f"({first.accuracy * 100:.0f} % balanced accuracy, chance 50 %): {first.detail}{also}. A network can "
                   f"learn that instead of the content. Fix: {'; '.join(fixes)}")
    return out


def _more_uniform(traits: list[ImageTraits], labels: np.ndarray) -> int:
    """Of two classes, the one whose files vary less (fewer distinct format, mode and size per image): the odd
    one out, the class a confound is named after ("every 'people' image is a 96x160 PNG")."""
    def variety(c: int) -> float:
        mine = [(t.format, t.mode, t.width, t.height) for t, label in zip(traits, labels) if label == c]
        return len(set(mine)) / max(len(mine), 1)

    return 0 if variety(0) < variety(1) else 1


def _detail(prop: str, kind: str | None, column: np.ndarray, target: np.ndarray, versus: str) -> str:
    if kind is not None:
        share, others = column[target].mean(), column[~target].mean()
        return f"{share * 100:.0f} % of its images are {kind}, against {others * 100:.0f} % for {versus}"
    lo, mid, hi = (float(np.min(column[target])), float(np.median(column[target])), float(np.max(column[target])))
    o_lo, o_mid, o_hi = (float(np.min(column[~target])), float(np.median(column[~target])),
                         float(np.max(column[~target])))
    unit = {"width": " px", "height": " px", "file_kb": " KB"}.get(prop, "")
    fmt = (lambda v: f"{v:.2f}") if prop == "aspect" else (lambda v: f"{v:.0f}")
    return (f"its {PROPERTIES[prop][0]} is {fmt(mid)}{unit} (median; {fmt(lo)}-{fmt(hi)}), against "
            f"{fmt(o_mid)}{unit} ({fmt(o_lo)}-{fmt(o_hi)}) for {versus}")
