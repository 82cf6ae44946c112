"""Likely label errors, ranked: cleanlab on out-of-sample probabilities from k-fold cross-validation.

cleanlab (a dependency) gives each image a label-quality score (the "self_confidence" method: the
out-of-sample probability of its given label) and flags the ones its confident-learning filter believes are
mislabelled (find_label_issues with its own default rule: how many are flagged is cleanlab's estimate of the
noise, never a fixed share). The list holds every image ordered by score alone, most likely errors first; the
flag is a column. How far the list can be trusted follows the fold models' out-of-sample accuracy
(`ListTrust`): a model that is often wrong flags correctly labelled images, and the user is told so. Measured on shapes with 10% of the labels moved (benchmarks/label_issues.py, 15 epochs a fold):
recall in the top 10% was 0.785 by self_confidence, 0.745 with the flagged images first (filter_by
'prune_by_noise_rate' or 'both'), 0.77 by confidence_weighted_entropy and 0.715 by normalized_margin.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.evaluate.crossval import (
    LabelledImages,
    load_labelled_images,
    out_of_sample_probabilities,
)
from core.io.atomic import write_csv_atomic
from core.progress import NO_PROGRESS, Progress, share


@dataclass
class LabelIssue:
    file: str
    given: str
    suggested: str
    score: float  # 0..1, higher = more likely mislabelled (1 - label quality)
    flagged: bool  # cleanlab's confident-learning filter calls it an issue


TRUST_ACCURACY = 0.8  # fold models right less often than this: their list is mostly their own mistakes


@dataclass
class ListTrust:
    """How far a label-issue list can be trusted: the fold models' accuracy on the images they never trained on."""

    accuracy: float  # out-of-sample accuracy of the fold models
    chance: float  # what always answering the largest class scores
    flagged: int
    images: int

    @property
    def trusted(self) -> bool:
        return self.accuracy >= TRUST_ACCURACY

    def sentence(self) -> str:
        return (f"The fold models were right on {self.accuracy:.0%} of the images they never trained on "
                f"(always answering the largest class: {self.chance:.0%}): {self.verdict()}")

    def verdict(self) -> str:
        """What the accuracy means for the list, in plain words."""
        if self.trusted:
            return f"the {self.flagged} flagged images are worth checking first."
        return (f"too low to trust this list. Below {TRUST_ACCURACY:.0%}, most flagged images are probably "
                f"labelled right and the models are wrong about them; train better fold models first (more "
                f"epochs, a larger image size, a pretrained model) and run the pass again.")


def list_trust(labels: np.ndarray, probs: np.ndarray, flagged: int) -> ListTrust:
    labels = np.asarray(labels, dtype=np.int64)
    accuracy = float(np.mean(probs.argmax(axis=1) == labels)) if len(labels) else 0.0
    chance = float(np.bincount(labels).max() / len(labels)) if len(labels) else 0.0
    return ListTrust(round(accuracy, 4), round(chance, 4), int(flagged), len(labels))


def rank_label_issues(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> (order, score, flagged): indices most-likely-wrong first, per-image score, per-image flag."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    quality = get_label_quality_scores(labels, probs, method="self_confidence")
    flagged = np.zeros(len(labels), dtype=bool)
    present = np.unique(labels)
    if len(present) == probs.shape[1]:  # cleanlab needs every class present among the given labels
        # n_jobs=1: cleanlab's default forks a multiprocessing pool, and forking a process that runs threads
        # (the app's, torch's, a process group's) can leave a child holding a copied lock forever: the
        # label-issue job hung in pool shutdown. One process is a few ms of numpy for tens of thousands.
        flagged = find_label_issues(labels, probs, n_jobs=1)  # cleanlab's own default rule
    score = 1.0 - quality
    order = np.argsort(-score, kind="stable")  # by score alone: putting flagged ones first ranked worse
    return order, score, flagged


def label_issues_from_probs(data: LabelledImages, probs: np.ndarray) -> list[LabelIssue]:
    order, score, flagged = rank_label_issues(data.labels, probs)
    suggested = probs.argmax(axis=1)
    return [LabelIssue(str(data.files[i]), data.classes[data.labels[i]], data.classes[suggested[i]],
                       float(score[i]), bool(flagged[i])) for i in order]


def find_folder_label_issues(root: str | Path, *, model_name: str = "cnn", folds: int = 5, epochs: int = 12,
                             image_size: int = 64, seed: int = 0, device: str = "cpu",
                             progress: Progress = NO_PROGRESS) -> tuple[list[LabelIssue], LabelledImages, np.ndarray]:
    """The whole pass for a folder: decode (the first tenth of the bar), cross-validate, rank. Returns
    (issues, data, probabilities); `list_trust(data.labels, probabilities, flagged)` says how far to trust it."""
    data = load_labelled_images(root, image_size, progress=share(progress, 0.0, 0.1))
    probs = out_of_sample_probabilities(data, model_name=model_name, folds=folds, epochs=epochs, seed=seed,
                                        device=device, progress=share(progress, 0.1, 1.0))
    issues = label_issues_from_probs(data, probs)
    from core.data.corrections import load_corrections

    confirmed = load_corrections(root)  # images the user marked "label is right" are not listed again
    keep = [i for i in issues if (confirmed.entries.get(confirmed._key(i.file)) or {}).get("action") != "confirm"]
    return keep, data, probs


def dataset_findings(data: LabelledImages) -> tuple[list, list[str]]:
    """(cross-class duplicates, confound sentences) for the decoded images of a label-issue pass: the confounds
    by the health report's check (core.data.confounds), its colour traits from the images already decoded."""
    from PIL import Image

    from core.data.confounds import confound_warnings, confounds_of_files
    from core.evaluate.dataset_checks import cross_class_duplicates, dhash

    hashes = [dhash(Image.fromarray(img.permute(1, 2, 0).numpy())) for img in data.images]
    labels = data.labels.tolist()
    return (cross_class_duplicates(data.files, labels, data.classes, hashes),
            confound_warnings(confounds_of_files(data.files, labels, data.classes, pixels=data.images)))


def write_label_issues(issues: list[LabelIssue], out: str | Path) -> Path:
    return write_csv_atomic(Path(out).expanduser(), ["file", "given_label", "suggested_label", "score", "flagged"],
                            ([issue.file, issue.given, issue.suggested, f"{issue.score:.6f}", int(issue.flagged)]
                             for issue in issues))
