"""A concept test's table as files: JSON (everything, CAVs aside), CSV (one row per concept) and a bar chart PNG
(score mean and spread per concept beside its random reference, "n.s." over what is not significant), plus
the concept vectors as npz for the concept maps (concept_map.py)."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np

from core.featurevis.store import layer_id
from core.io.atomic import atomic_write, write_text_atomic


def report_stem(result) -> str:
    return f"tcav-{re.sub(r'[^A-Za-z0-9_-]', '_', result.class_name)[:40]}-{layer_id(result.layer)}"


def table(result) -> list[dict]:
    return [{"concept": s.concept, "origin": s.origin, "images": s.images, "score_mean": round(s.mean, 4),
             "score_std": round(s.std, 4), "random_mean": round(float(np.mean(s.random_scores)), 4),
             "p_value": s.p_value, "significant": s.significant, "cav_accuracy": round(s.cav_accuracy, 4),
             "verdict": s.verdict} for s in result.scores]


def to_json(result) -> dict:
    return {"class": result.class_name, "class_index": result.class_index, "layer": result.layer,
            "alpha": result.alpha, "threshold": result.threshold, "random_runs": result.random_runs,
            "class_images": result.class_images, "weights_checksum": result.weights_checksum,
            "notes": result.notes, "concepts": [{**row, "scores": s.scores, "random_scores": s.random_scores}
                                                for row, s in zip(table(result), result.scores)]}


def write_report(result, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    stem = report_stem(result)
    rows = table(result)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["concept"])
    writer.writeheader()
    writer.writerows(rows)
    cavs = {f"cav{i}": s.cav for i, s in enumerate(result.scores) if s.cav is not None}
    names = np.frombuffer(json.dumps([s.concept for s in result.scores]).encode(), dtype=np.uint8)
    return [write_text_atomic(out / f"{stem}.json", json.dumps(to_json(result), indent=1)),
            write_text_atomic(out / f"{stem}.csv", text.getvalue()),
            atomic_write(out / f"{stem}.png", lambda fh: fh.write(bar_chart(result))),
            atomic_write(out / f"{stem}.npz", lambda fh: fh.write(_npz({"names": names, **cavs})))]


def bar_chart(result) -> bytes:
    """PNG bytes: matplotlib's object API on the Agg canvas (no pyplot: no global state, safe off the GUI
    thread, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores = result.scores
    figure = Figure(figsize=(max(4.0, 1.3 * len(scores) + 1.5), 3.6), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    x = np.arange(len(scores))
    means = [s.mean for s in scores]
    ax.bar(x - 0.2, means, 0.4, yerr=[s.std for s in scores], capsize=3, label="concept",
           color=["#3b75af" if s.significant else "#b9c7d6" for s in scores])
    ax.bar(x + 0.2, [float(np.mean(s.random_scores)) for s in scores], 0.4, yerr=[float(np.std(s.random_scores))
           for s in scores], capsize=3, color="#d0d0d0", label="random pictures")
    for i, s in enumerate(scores):
        ax.text(i - 0.2, min(1.04, s.mean + 0.02), f"{s.mean:.2f}" + ("" if s.significant else "\nn.s."),
                ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [s.concept for s in scores], rotation=20, ha="right", fontsize=8)
    ax.set_ylim(0, 1.25)
    ax.set_ylabel("TCAV score")
    ax.set_title(f"'{result.class_name}' at {result.layer} (p < {result.threshold:.2g}; n.s. = not significant)",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper right", ncols=2)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _npz(arrays: dict) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()
