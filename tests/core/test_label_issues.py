"""Label issues: cleanlab ranks wrong labels first, cross-validation is out-of-sample and cancellable, and the
dataset checks find duplicates across classes and confounds."""
import shutil

import numpy as np
import pytest
from PIL import Image

from core.cli.main import main
from core.errors import Cancelled
from core.progress import Reporter
from core.evaluate.crossval import (
    load_labelled_images,
    out_of_sample_probabilities,
    stratified_folds,
)
from core.data.confounds import confound_warnings, confounds_of_files
from core.evaluate.dataset_checks import cross_class_duplicates, dhash
from core.evaluate.label_issues import TRUST_ACCURACY, list_trust, rank_label_issues
from tests.core.evalkit import write_shapes_folder

CLASSES = ["circle", "square", "star"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_shapes_folder(tmp_path_factory.mktemp("li") / "data", per_class=8, size=24, classes=CLASSES)


def test_ranking_puts_the_wrong_labels_first():
    rng = np.random.default_rng(0)
    true = np.repeat(np.arange(3), 30)
    probs = np.full((90, 3), 0.05)
    probs[np.arange(90), true] = 0.9
    probs += rng.uniform(0, 0.05, probs.shape)
    probs /= probs.sum(1, keepdims=True)
    given = true.copy()
    wrong = rng.choice(90, 9, replace=False)
    given[wrong] = (true[wrong] + 1) % 3
    order, score, flagged = rank_label_issues(given, probs)
    assert set(order[:9]) == set(wrong)
    assert flagged[wrong].all() and flagged.sum() == 9
    assert score[wrong].min() > np.delete(score, wrong).max()


def _confident_probs(true: np.ndarray, right: float, seed: int = 0) -> np.ndarray:
    """Probabilities of a model that puts 0.9 on the true class for a share `right` of the images, on another
    class for the rest."""
    rng = np.random.default_rng(seed)
    answer = true.copy()
    miss = rng.random(len(true)) >= right
    answer[miss] = (true[miss] + 1) % 3
    probs = np.full((len(true), 3), 0.05)
    probs[np.arange(len(true)), answer] = 0.9
    return probs / probs.sum(1, keepdims=True)


def test_flags_follow_cleanlabs_own_rule_not_a_share():
    """Clean labels and a good model: nothing flagged (a fixed share would flag some); with wrong labels the
    flags are exactly cleanlab's find_label_issues with its defaults."""
    from cleanlab.filter import find_label_issues

    true = np.repeat(np.arange(3), 40)
    probs = _confident_probs(true, 1.0)
    assert rank_label_issues(true, probs)[2].sum() == 0
    given = true.copy()
    given[::10] = (given[::10] + 2) % 3
    _, _, flagged = rank_label_issues(given, probs)
    assert np.array_equal(flagged, find_label_issues(given, probs, n_jobs=1))
    assert set(np.flatnonzero(flagged)) == set(range(0, 120, 10))


def test_the_lists_trust_is_the_fold_models_out_of_sample_accuracy():
    true = np.repeat(np.arange(3), [50, 30, 20])
    good = list_trust(true, _confident_probs(true, 0.95), flagged=4)
    assert good.accuracy == pytest.approx(np.mean(_confident_probs(true, 0.95).argmax(1) == true))
    assert good.accuracy >= TRUST_ACCURACY and good.trusted and good.chance == 0.5
    assert "right on 9" in good.sentence() and "worth checking" in good.sentence()
    weak = list_trust(true, _confident_probs(true, 0.6), flagged=30)
    assert not weak.trusted and weak.accuracy < TRUST_ACCURACY
    assert "too low to trust this list" in weak.sentence() and "largest class: 50%" in weak.sentence()


def test_folds_are_stratified_and_cover_everything():
    labels = np.repeat(np.arange(3), [10, 7, 5])
    folds = stratified_folds(labels, 4, seed=1)
    for c in range(3):
        counts = np.bincount(folds[labels == c], minlength=4)
        assert counts.max() - counts.min() <= 1


def test_cross_validation_progress_and_cancel(folder):
    data = load_labelled_images(folder, image_size=24)
    assert data.images.shape == (24, 3, 24, 24)
    seen = []
    probs = out_of_sample_probabilities(data, folds=2, epochs=1, model_options={"channels": 4, "blocks": 1},
                                        progress=Reporter(lambda done, total, text: seen.append(done / total)))
    assert probs.shape == (24, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert seen[-1] == 1.0 and seen == sorted(seen)
    with pytest.raises(Cancelled):
        out_of_sample_probabilities(data, folds=2, epochs=1, model_options={"channels": 4, "blocks": 1},
                                    progress=Reporter(cancel=lambda: True))


def test_duplicates_across_classes(folder, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    source = sorted((data / "circle").iterdir())[0]
    shutil.copy(source, data / "star" / "copy.png")
    Image.open(source).resize((23, 23)).resize((24, 24)).save(data / "square" / "near.png")
    files = [p for c in CLASSES for p in sorted((data / c).iterdir())]
    labels = [CLASSES.index(p.parent.name) for p in files]
    hashes = [dhash(Image.open(p)) for p in files]
    found = cross_class_duplicates(files, labels, CLASSES, hashes)
    pairs = {(d.file_a, d.file_b, d.exact) for d in found}
    assert (str(source), str(data / "star" / "copy.png"), True) in pairs
    assert any(str(data / "square" / "near.png") in (a, b) and not exact for a, b, exact in pairs)


def test_confound_a_class_with_its_own_format(folder, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(folder, data)
    for p in list((data / "star").iterdir()):
        Image.open(p).convert("RGB").save(p.with_suffix(".jpg"), quality=95)
        p.unlink()
    files = [p for c in CLASSES for p in sorted((data / c).iterdir())]
    findings = confound_warnings(confounds_of_files(files, [CLASSES.index(p.parent.name) for p in files], CLASSES))
    assert len(findings) == 1 and "'star'" in findings[0] and "are JPEG" in findings[0] and "re-encode" in findings[0]


def test_cli_label_issues(folder, tmp_path, capsys):
    out = tmp_path / "issues.csv"
    assert main(["label-issues", "--dataset", str(folder), "--folds", "2", "--epochs", "1", "--image-size", "24",
                 "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "file,given_label,suggested_label,score,flagged" and len(lines) == 25
    scores = [float(line.split(",")[3]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)  # most likely errors first
    assert "The fold models were right on " in capsys.readouterr().out
    assert main(["label-issues", "--dataset", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
