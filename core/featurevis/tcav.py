"""Concept tests (TCAV, Kim et al. 2018) with Captum's `captum.concept`: does class C rely on concept X at layer L?

For each random set R_i, a linear classifier separates the layer's activations of X's pictures from R_i's; its
normal is the concept activation vector (CAV), and the TCAV score is the share of C's images whose class logit
grows along it. One score means little (any direction gets some share): scores against several random sets are
compared with those of random sets against random sets, by a two-sided t-test. A concept counts as
significant below alpha divided by the number of concepts tested (Bonferroni); anything else is said plainly
to be not significant. Every run draws fresh pictures on both sides (see run_tcav).

Random pictures are of the concept's own sort: drawn patterns of the other kinds for a drawn concept, dataset
images for a folder of images. Against dataset images, a drawn stripes picture differs first in being a
full-frame synthetic pattern, and that is what its vector learnt (measured: a class told apart by stripes
alone scored 0.31 on 'stripes' against dataset images, 0.92 against drawn patterns).

Captum stores activations and CAVs as files; they go to a temporary folder deleted afterwards, never the
working directory, so nothing stale (or planted in a shared folder) is ever read back as a CAV.
"""
from __future__ import annotations

import math
import tempfile
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
from captum.concept import TCAV, Concept
from captum.concept._utils.classifier import Classifier
from captum.concept._utils.common import concepts_to_str
from torch.utils.data import DataLoader, Dataset

from core.catalog import CONCEPT_RANDOM_RUNS
from core.featurevis.concept_sets import ConceptSet
from core.models.hooks import evaluating, model_device
from core.progress import NO_PROGRESS, Progress

DEFAULT_RANDOM_RUNS = CONCEPT_RANDOM_RUNS.default  # the random scores spread widely (sd ~0.4): fewer rarely detect a 0.3 shift
DEFAULT_ALPHA = 0.05
WEAK_CAV_ACCURACY = 0.6  # below this the layer barely tells the concept from random images


@dataclass
class ConceptScore:
    concept: str
    origin: str  # "generated" or the folder it came from
    images: int
    scores: list[float]  # TCAV score (sign count) against each random set
    random_scores: list[float]  # the random reference set's scores against the same random sets
    p_value: float | None  # two-sided t-test of scores against random_scores; None when undefined
    significant: bool
    cav_accuracy: float  # held-out accuracy of the concept-vs-random classifiers, averaged
    verdict: str = ""  # one plain sentence
    cav: np.ndarray | None = field(default=None, repr=False)  # mean unit CAV over the random runs, flattened layer

    @property
    def mean(self) -> float:
        return float(np.mean(self.scores))

    @property
    def std(self) -> float:
        return float(np.std(self.scores))


class LinearCav(Classifier):
    """Captum's Classifier interface over scikit-learn's LogisticRegression: deterministic (liblinear and a
    seeded, stratified hold-out), where Captum's default SGD classifier shuffles with Python's global `random`."""

    def __init__(self, seed: int = 0, test_share: float = 0.33):
        self.seed, self.test_share = int(seed), float(test_share)
        self.model = None

    def train_and_eval(self, dataloader, **_kwargs) -> dict:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split

        xs, ys = zip(*[(x.float(), y) for x, y in dataloader])
        x, y = torch.cat(xs).cpu().numpy(), torch.cat(ys).cpu().numpy()
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=self.test_share,
                                                            random_state=self.seed, stratify=y)
        # liblinear, in its dual form when there are fewer pictures than features (the usual case: tens of
        # pictures, thousands of activations): the same vector as lbfgs (cosine 0.99999999) in a fraction of
        # the time (lbfgs 4 s, primal liblinear 3.2 s, dual 0.6 s a fit on 66 x 16384, measured)
        dual = x_train.shape[0] < x_train.shape[1]
        self.model = LogisticRegression(solver="liblinear", dual=dual, max_iter=1000).fit(x_train, y_train)
        return {"accs": torch.tensor(float(self.model.score(x_test, y_test)))}

    def weights(self) -> torch.Tensor:
        w = torch.tensor(np.atleast_2d(self.model.coef_), dtype=torch.float32)
        return torch.stack([-w[0], w[0]]) if w.shape[0] == 1 else w  # one row per class, as Captum expects

    def classes(self) -> list[int]:
        return [int(c) for c in self.model.classes_]


class _Images(Dataset):
    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


@dataclass
class RawScores:
    """One class's TCAV scores per concept: against each random set of its pool, and that pool's reference."""

    concepts: dict[str, list[float]]
    reference: dict[str, list[float]]


@dataclass
class ConceptVectors:
    """Per concept: the held-out accuracy of each concept-vs-random classifier and the mean unit CAV."""

    accuracies: dict[str, list[float]]
    cavs: dict[str, np.ndarray]


@dataclass
class _Plan:
    sets: list  # Captum experimental sets: [concept pictures of run r, random pictures of run r]
    rows: dict  # concept name -> indices into sets, one per run
    reference: dict  # concept name -> indices of its pool's random-vs-random sets, one per run
    ids: dict  # concept name -> the Captum concept id of each run


class _Numbering:
    """Captum concepts numbered in order; Captum names its files by these numbers, never by a user's text."""

    def __init__(self, batch_size: int, device):
        self.next, self.batch_size, self.device = 0, batch_size, device

    def concept(self, images: torch.Tensor) -> Concept:
        made = Concept(self.next, f"c{self.next}", DataLoader(_Images(images.to(self.device)),
                                                              batch_size=self.batch_size))
        self.next += 1
        return made


def _plan(groups: list[tuple[list[ConceptSet], ConceptSet]], runs: int, batch_size: int, device) -> _Plan:
    """Run r pairs concept sample r with random set r, and random set r+1 with random set r (the reference:
    fresh pictures on both sides, as on the concept's side)."""
    plan, number = _Plan([], {}, {}, {}), _Numbering(batch_size, device)
    for concepts, pool in groups:
        randoms = [number.concept(pool.sample(r)) for r in range(runs)]
        start = len(plan.sets)
        plan.sets += [[randoms[(r + 1) % runs], randoms[r]] for r in range(runs)]
        reference = list(range(start, len(plan.sets)))
        for concept in concepts:
            mine = [number.concept(concept.sample(r)) for r in range(runs)]
            first = len(plan.sets)
            plan.sets += [[mine[r], randoms[r]] for r in range(runs)]
            plan.rows[concept.name] = list(range(first, len(plan.sets)))
            plan.reference[concept.name] = reference
            plan.ids[concept.name] = [c.id for c in mine]
    return plan


def run_tcav(model: nn.Module, layer: str, inputs: dict[int, torch.Tensor],
             groups: list[tuple[list[ConceptSet], ConceptSet]], runs: int, *, seed: int = 0, batch_size: int = 32,
             progress: Progress = NO_PROGRESS) -> tuple[dict[int, RawScores], ConceptVectors]:
    """TCAV at `layer` of each class in `inputs` ({class index: its images}) for each concept of each group
    (concepts, their pool of random pictures), `runs` times with fresh pictures on both sides, and of random
    pictures against random pictures of the same pool: the reference. The concept vectors are trained once
    and serve every class.
    Why fresh pictures on both sides, where TCAV compares one concept set (and one random set R_0) against
    R_1..R_n: a fixed set gives nearly the same vector every run, so its scores barely vary (measured: 1.00 +-
    0.01 for R_0 on one class) and the t-test then compares two quirks of two picked sets."""
    device = model_device(model)
    plan = _plan(groups, runs, batch_size, device)
    steps = len(plan.sets) + sum(math.ceil(len(x) / batch_size) for x in inputs.values())
    with evaluating(model), tempfile.TemporaryDirectory(prefix="layerscope-tcav-") as folder, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Captum's notes on its own defaults
        warnings.simplefilter("ignore", DeprecationWarning)  # Captum 0.9 loading CAVs names numpy.core
        tcav = TCAV(model, [layer], model_id="model", classifier=LinearCav(seed), save_path=folder)
        for k, pair in enumerate(plan.sets):
            progress.check_cancelled()
            tcav.compute_cavs([pair])
            progress.update(k + 1, steps, f"concept vectors {k + 1}/{len(plan.sets)}")
        done, signs = len(plan.sets), {}
        for index, images in inputs.items():
            signs[index] = _scores(tcav, plan.sets, layer, index, images.to(device), batch_size, progress, done, steps)
            done += math.ceil(len(images) / batch_size)
        stats = [tcav.cavs[concepts_to_str(pair)][layer].stats for pair in plan.sets]
    vectors = ConceptVectors({n: [float(stats[k]["accs"]) for k in rows] for n, rows in plan.rows.items()},
                             {n: _mean_cav([stats[k] for k in rows], plan.ids[n]) for n, rows in plan.rows.items()})
    raw = {index: RawScores({n: [sign[k] for k in rows] for n, rows in plan.rows.items()},
                            {n: [sign[k] for k in rows] for n, rows in plan.reference.items()})
           for index, sign in signs.items()}
    return raw, vectors


def _scores(tcav, sets, layer: str, class_index: int, inputs: torch.Tensor, batch_size: int, progress: Progress,
            done: int, steps: int) -> list[float]:
    """TCAV sign-count scores of the first concept of each set, over `inputs` in batches (a cancel point and
    bounded memory per batch; the scores are shares, so batches combine by their sizes)."""
    totals = np.zeros(len(sets))
    for b, batch in enumerate(inputs.split(batch_size)):
        progress.check_cancelled()
        scores = tcav.interpret(batch, sets, target=int(class_index))
        totals += [float(scores[concepts_to_str(pair)][layer]["sign_count"][0]) * len(batch) for pair in sets]
        progress.update(done + b + 1, steps, f"class images {min((b + 1) * batch_size, len(inputs))}/{len(inputs)}")
    return list(totals / max(len(inputs), 1))


def _mean_cav(stats: list[dict], concept_ids: list[int]) -> np.ndarray:
    """The concept's CAV (its row of the classifier weights), unit length, averaged over the runs."""
    vectors = []
    for s, concept_id in zip(stats, concept_ids):
        row = [int(c) for c in s["classes"]].index(concept_id)
        v = torch.as_tensor(s["weights"][row]).float()
        vectors.append(v / v.norm().clamp(min=1e-12))
    return torch.stack(vectors).mean(0).numpy()


def significance(scores: list[float], random_scores: list[float], threshold: float) -> tuple[float | None, bool]:
    """Two-sided Welch t-test p-value of `scores` against `random_scores`, and whether it is below `threshold`."""
    from scipy.stats import ttest_ind

    if len(scores) < 2 or len(random_scores) < 2:
        return None, False
    if np.ptp(scores) == 0 and np.ptp(random_scores) == 0:  # no spread at all: the test is undefined
        return (None, False) if scores[0] == random_scores[0] else (0.0, True)
    p = float(ttest_ind(scores, random_scores, equal_var=False).pvalue)
    return (p, p < threshold) if math.isfinite(p) else (None, False)


def verdict(score: ConceptScore, class_name: str, layer: str, threshold: float) -> str:
    base = float(np.mean(score.random_scores)) if score.random_scores else float("nan")
    p = "undefined" if score.p_value is None else f"{score.p_value:.2g}"
    weak = (f"; the layer barely tells '{score.concept}' from random images (concept vector accuracy "
            f"{score.cav_accuracy:.2f}), so this score means little") if score.cav_accuracy < WEAK_CAV_ACCURACY else ""
    if not score.significant:
        return (f"not significant (p = {p}, needs < {threshold:.2g}): no evidence that '{class_name}' relies on "
                f"'{score.concept}' at {layer}{weak}")
    if score.mean > base:
        return (f"significant: '{class_name}' relies on '{score.concept}' at {layer} (score {score.mean:.2f} "
                f"against {base:.2f} for random images, p = {p}){weak}")
    return (f"significant, against: '{score.concept}' lowers '{class_name}' at {layer} (score {score.mean:.2f} "
            f"against {base:.2f} for random images, p = {p}){weak}")
