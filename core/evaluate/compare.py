"""Compare two evaluations of the same data (before / after a fine-tune, or two runs): accuracy and
per-class changes, the confusion-matrix difference, and the images that became right or wrong."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.evaluate.result import EvalResult
from core.evaluate.source import EvaluationError


@dataclass
class Comparison:
    classes: list[str]
    top1: tuple[float, float]  # (a, b)
    per_class: list[dict]  # class, recall_a, recall_b, recall_delta, f1_a, f1_b, f1_delta, support
    confusion_delta: np.ndarray  # b - a, over the images both evaluated
    became_right: list[str] = field(default_factory=list)
    became_wrong: list[str] = field(default_factory=list)
    common: int = 0
    only_a: int = 0
    only_b: int = 0

    @property
    def top1_delta(self) -> float:
        return self.top1[1] - self.top1[0]

    def to_dict(self) -> dict:
        return {"classes": self.classes, "top1_a": self.top1[0], "top1_b": self.top1[1], "top1_delta": self.top1_delta,
                "per_class": self.per_class, "confusion_delta": self.confusion_delta.tolist(),
                "became_right": self.became_right, "became_wrong": self.became_wrong,
                "common_images": self.common, "only_in_a": self.only_a, "only_in_b": self.only_b}

    def format_text(self) -> str:
        lines = [f"top-1 {self.top1[0]:.3f} -> {self.top1[1]:.3f} ({self.top1_delta:+.3f}) on {self.common} common images"
                 + (f" ({self.only_a} only in A, {self.only_b} only in B: not compared)" if self.only_a or self.only_b else ""),
                 f"{'class':16}{'recall A':>9}{'recall B':>9}{'delta':>8}{'F1 delta':>9}"]
        for row in self.per_class:
            lines.append(f"{row['class'][:16]:16}{row['recall_a']:>9.3f}{row['recall_b']:>9.3f}"
                         f"{row['recall_delta']:>+8.3f}{row['f1_delta']:>+9.3f}")
        lines.append(f"became right: {len(self.became_right)}, became wrong: {len(self.became_wrong)}")
        lines += [f"  + {f}" for f in self.became_right[:20]] + [f"  - {f}" for f in self.became_wrong[:20]]
        return "\n".join(lines)


def compare_evaluations(a: EvalResult, b: EvalResult) -> Comparison:
    """Both evaluations restricted to the images they share (matched by file)."""
    if list(a.classes) != list(b.classes):
        only_a = [c for c in a.classes if c not in b.classes]
        only_b = [c for c in b.classes if c not in a.classes]
        raise EvaluationError(f"the two evaluations have different classes (only in A: {only_a or '-'}, only in B: "
                              f"{only_b or '-'}, or a different order); compare evaluations of the same classes")
    index_b = {f: i for i, f in enumerate(b.files)}
    pairs = [(i, index_b[f]) for i, f in enumerate(a.files) if f in index_b]
    if not pairs:
        raise EvaluationError("the two evaluations share no images; compare evaluations of the same data")
    ia, ib = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    sub_a = EvalResult(a.classes, [a.files[i] for i in ia], a.labels[ia], a.probs[ia])
    sub_b = EvalResult(b.classes, [b.files[i] for i in ib], b.labels[ib], b.probs[ib])
    if (sub_a.labels != sub_b.labels).any():
        # Labels were corrected between the two: judge both against the newer (B) labels.
        sub_a = EvalResult(a.classes, sub_a.files, sub_b.labels, sub_a.probs)
    right_a = sub_a.predicted == sub_a.labels
    right_b = sub_b.predicted == sub_b.labels
    sa, sb = sub_a.per_class(), sub_b.per_class()
    per_class = [{"class": c, "recall_a": float(sa["recall"][k]), "recall_b": float(sb["recall"][k]),
                  "recall_delta": float(sb["recall"][k] - sa["recall"][k]), "f1_a": float(sa["f1"][k]),
                  "f1_b": float(sb["f1"][k]), "f1_delta": float(sb["f1"][k] - sa["f1"][k]),
                  "support": int(sb["support"][k])} for k, c in enumerate(a.classes)]
    return Comparison(list(a.classes), (float(right_a.mean()), float(right_b.mean())), per_class,
                      sub_b.confusion - sub_a.confusion,
                      [f for f, ra, rb in zip(sub_b.files, right_a, right_b) if rb and not ra],
                      [f for f, ra, rb in zip(sub_b.files, right_a, right_b) if ra and not rb],
                      len(pairs), len(a.files) - len(pairs), len(b.files) - len(pairs))
