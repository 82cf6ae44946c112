"""Concept tests of a checkpoint: what the CLI's `layerscope concepts` and the Dossier's concept table call.

    concept_test("run/best.pt", "photos/", "zebra", "layer4", ["stripes", "dots", "photos_of_grass/"], "out/")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch.nn as nn
from torch.utils.data import Dataset

from core.catalog import CONCEPT_CLASS_IMAGES, CONCEPT_IMAGES
from core.checkpoints.schema import weights_checksum
from core.data.transforms import Preprocess
from core.featurevis import concept_images, concept_sets, tcav
from core.featurevis.concept_sets import ConceptError, ConceptSet
from core.featurevis.units import UnitError, class_index, describe_layer
from core.progress import NO_PROGRESS, Progress

DEFAULT_CONCEPT_IMAGES = CONCEPT_IMAGES.default  # pictures per concept and per random set
DEFAULT_CLASS_IMAGES = CONCEPT_CLASS_IMAGES.default  # images of the class whose sensitivities are scored


@dataclass
class ConceptResult:
    class_name: str
    class_index: int
    layer: str
    alpha: float
    threshold: float  # alpha / concepts tested (Bonferroni): a p-value below it is significant
    random_runs: int
    class_images: int
    scores: list[tcav.ConceptScore] = field(default_factory=list)
    weights_checksum: str = ""
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def score(self, concept: str) -> tcav.ConceptScore:
        return next(s for s in self.scores if s.concept == concept)


def concept_test(checkpoint, dataset, class_: str | int | list, layer: str,
                 concepts=concept_images.DEFAULT_CONCEPTS, out_dir: str | Path | None = None, *,
                 random_runs: int = tcav.DEFAULT_RANDOM_RUNS, concept_count: int = DEFAULT_CONCEPT_IMAGES,
                 class_count: int = DEFAULT_CLASS_IMAGES, alpha: float = tcav.DEFAULT_ALPHA, seed: int = 0,
                 device: str = "cpu", progress: Progress = NO_PROGRESS) -> ConceptResult | list[ConceptResult]:
    """TCAV scores of class `class_` (a name or index; a list gives one result per class, sharing the concept
    vectors) at `layer` for each of `concepts` (built-in names such as 'stripes', or folders of images), each
    with its significance against `random_runs` random sets of dataset images. dataset: a torch Dataset of
    (tensor, label), a folder or built-in name, or None for the data the checkpoint was trained on.
    out_dir: each class's table as JSON and CSV, a bar chart PNG and the concept vectors (npz)."""
    from core.checkpoints.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    model = ckpt.build_model().to(device)
    data = _dataset(ckpt, dataset)
    sets = [concept_sets.concept_set(c, concept_count, ckpt.preprocess, seed) for c in concepts]
    wanted = class_ if isinstance(class_, (list, tuple)) else [class_]
    results = concept_tests(model, ckpt.preprocess, list(ckpt.classes), data, wanted, layer, sets,
                            random_runs=random_runs, concept_count=concept_count, class_count=class_count,
                            alpha=alpha, seed=seed, progress=progress)
    checksum = weights_checksum(ckpt.model_state)
    for result in results:
        result.weights_checksum = checksum
        if out_dir is not None:
            from core.featurevis.concept_report import write_report

            result.files = write_report(result, out_dir)
    return results if isinstance(class_, (list, tuple)) else results[0]


def concept_tests(model: nn.Module, pre: Preprocess, classes: list[str], data: Dataset, wanted: list[str | int],
                  layer: str, sets: list[ConceptSet], *, random_runs: int = tcav.DEFAULT_RANDOM_RUNS,
                  concept_count: int = DEFAULT_CONCEPT_IMAGES, class_count: int = DEFAULT_CLASS_IMAGES,
                  alpha: float = tcav.DEFAULT_ALPHA, seed: int = 0,
                  progress: Progress = NO_PROGRESS) -> list[ConceptResult]:
    """The same on a model in memory and prepared concept sets: one ConceptResult per class in `wanted`."""
    if random_runs < 2:
        raise ConceptError("a significance test needs at least 2 random runs (10 or more is better)")
    if not sets:
        raise ConceptError("name at least one concept to test")
    _unique_names(sets)
    indices = list(dict.fromkeys(class_index(classes, c) for c in wanted))
    info = describe_layer(model, layer, (pre.channels, pre.image_size, pre.image_size))
    if info.kind == "output":
        raise UnitError("pick a layer inside the network; the output layer is what the concept test explains")
    labels = concept_sets.labels_of(data)
    inputs = {i: concept_sets.class_images(data, labels, i, class_count, seed) for i in indices}
    raw, vectors = tcav.run_tcav(model, layer, inputs, _groups(sets, data, pre, concept_count, seed), random_runs,
                                 seed=seed, progress=progress)
    threshold = alpha / len(sets)
    results = []
    for index in indices:
        result = ConceptResult(classes[index], index, layer, alpha, threshold, random_runs, len(inputs[index]))
        for concept in sets:
            scores, reference = raw[index].concepts[concept.name], raw[index].reference[concept.name]
            p, significant = tcav.significance(scores, reference, threshold)
            score = tcav.ConceptScore(concept.name, concept.origin, concept.count, scores, reference, p,
                                      significant, float(np.mean(vectors.accuracies[concept.name])),
                                      cav=vectors.cavs[concept.name])
            score.verdict = tcav.verdict(score, classes[index], layer, threshold)
            result.scores.append(score)
            result.notes += [f"{concept.name}: left out {file}: {reason}" for file, reason in concept.skipped]
        results.append(result)
    return results


def _groups(sets: list[ConceptSet], data: Dataset, pre: Preprocess, count: int, seed: int) -> list:
    """Drawn concepts against drawn pictures of the other kinds (one pool per kind), folders of images against
    random dataset images (tcav.py says why)."""
    groups = []
    for kind in dict.fromkeys(s.kind for s in sets if s.origin == concept_sets.DRAWN):
        drawn = [s for s in sets if s.origin == concept_sets.DRAWN and s.kind == kind]
        groups.append((drawn, concept_sets.drawn_random_pool(kind, count, pre, seed)))
    given = [s for s in sets if s.origin != concept_sets.DRAWN]
    if given:
        groups.append((given, concept_sets.dataset_random_pool(data, count, seed)))
    return groups


def _unique_names(sets: list[ConceptSet]) -> None:
    """Two folders both called 'stripes' become 'stripes' and 'stripes (2)'."""
    seen: dict[str, int] = {}
    for s in sets:
        seen[s.name] = seen.get(s.name, 0) + 1
        if seen[s.name] > 1:
            s.name = f"{s.name} ({seen[s.name]})"


def _dataset(ckpt, dataset) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    from core.evaluate.source import eval_data

    return eval_data(ckpt, dataset, "val" if dataset is None else "all").dataset
