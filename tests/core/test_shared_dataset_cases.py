"""Every class of hostile shared dataset (tests/support/shared_datasets.py, also run in bulk by
benchmarks/robustness.py) once, in this process: each must end `ok` - refused with a message naming the file,
nothing outside the dataset touched, no traceback, the good entries beside the hostile ones kept."""
from __future__ import annotations

import pytest

from tests.support.cases import Case, run_case
from tests.support.shared_datasets import KINDS

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_hostile_shared_dataset_case_ends_ok(kind, tmp_path):
    for seed in (1, 2):
        outcome = run_case(Case("shared", kind, seed), tmp_path, {})
        assert outcome.verdict == "ok", f"{kind} seed {seed}: {outcome.verdict}: {outcome.detail}"
