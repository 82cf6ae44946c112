"""One progress/cancel protocol for every long pass (core/progress.py): a pass reports (done, total, message)
and stops with Cancelled at its next check; stages share one bar."""
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from core.errors import Cancelled
from core.progress import NO_PROGRESS, Offset, Progress, Reporter, share


def test_a_reporter_passes_updates_on_and_hears_a_cancel():
    seen, stop = [], [False]
    progress = Reporter(lambda done, total, message: seen.append((done, total, message)), lambda: stop[0])
    assert isinstance(progress, Progress)
    progress.update(3, 10, "reading")
    progress.check_cancelled()  # not cancelled: no exception
    stop[0] = True
    assert progress.cancelled()
    with pytest.raises(Cancelled):
        progress.check_cancelled()
    assert seen == [(3, 10, "reading")]


def test_no_progress_is_silent_and_never_cancelled():
    NO_PROGRESS.update(1, 2)
    NO_PROGRESS.check_cancelled()
    assert not NO_PROGRESS.cancelled()
    assert share(NO_PROGRESS, 0.2, 0.5) is NO_PROGRESS


def test_stages_fill_their_share_of_one_bar_in_order():
    seen = []
    bar = Reporter(lambda done, total, _m: seen.append(done / total))
    first, second = share(bar, 0.0, 0.1), share(bar, 0.1, 1.0)
    for i in range(1, 5):
        first.update(i, 4)
    for i in range(1, 11):
        second.update(i, 10)
    assert seen[3] == pytest.approx(0.1) and seen[-1] == pytest.approx(1.0)
    assert seen == sorted(seen)


def test_a_share_is_cancelled_with_its_parent():
    stop = [False]
    part = share(Reporter(cancel=lambda: stop[0]), 0.5, 1.0)
    part.check_cancelled()
    stop[0] = True
    with pytest.raises(Cancelled):
        part.check_cancelled()


def test_an_offset_counts_several_lists_as_one():
    seen = []
    counted = Offset(Reporter(lambda done, total, _m: seen.append((done, total))), total=7)
    counted.update(4, 4)
    counted.advance(4)
    counted.update(3, 3)
    assert seen == [(4, 7), (7, 7)]


def _tiny_evaluation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    data = TensorDataset(torch.randn(10, 3, 2, 2), torch.zeros(10, dtype=torch.long))
    return model, data


def test_evaluation_reports_every_batch_through_the_protocol():
    from core.evaluate.run import predict_probabilities

    model, data = _tiny_evaluation()
    seen = []
    probs = predict_probabilities(model, data, batch_size=4,
                                  progress=Reporter(lambda done, total, message: seen.append((done, total, message))))
    assert probs.shape == (10, 3)
    assert [d for d, _, _ in seen] == [4, 8, 10] and all(t == 10 for _, t, _ in seen)
    assert seen[-1][2] == "evaluating 10/10 images"


def test_evaluation_stops_at_a_cancel_and_leaves_the_model_as_it_was():
    from core.evaluate.run import predict_probabilities

    model, data = _tiny_evaluation()
    model.train()
    with pytest.raises(Cancelled):
        predict_probabilities(model, data, batch_size=4, progress=Reporter(cancel=lambda: True))
    assert model.training
