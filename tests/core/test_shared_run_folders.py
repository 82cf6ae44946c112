"""A shared run folder can never reach outside itself, never hangs the app, and one bad run never hides the
others (issue 18). Each test builds the hostile folder itself (tests/support/hostile_runs.py: links, hard
links, FIFOs, /dev/zero, sparse files, deep and huge-number JSON, HTML, 20,000 rank files, a zip bomb, a
leftover pause) from a real run, runs what the app does with it, and asserts: nothing outside the folder was
created, changed, moved or truncated (a decoy tree hashed before and after), no hang (a timeout per test), no
traceback, a message naming the file, the good run beside it whole."""
from __future__ import annotations

import pytest

from tests.support import hostile_runs as hr
from tests.support.cases import Case
from tests.support.shared_cases import READ_ACTIONS, run_shared

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="session")
def shared_ctx(tmp_path_factory):
    folder = tmp_path_factory.mktemp("template")
    return {"run_template": hr.make_template(folder), "probe": folder / "probe.png"}


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.timeout(900)) if k == "many_ranks" else k
                                  for k in sorted(hr.RUN_KINDS)])  # 20,000 files made for each of 6 actions
def test_reading_a_hostile_run_folder_costs_its_own_row_or_view_only(shared_ctx, tmp_path, kind):
    """The run list, the Train tab's look, the Dossier's readers, rename / note / control / trash, the
    whole-file readers and the lock, each on the crafted run."""
    for action in READ_ACTIONS:
        outcome = run_shared(Case(f"run_{action}", kind, 1), tmp_path / action, shared_ctx)
        assert outcome.verdict == "ok", f"{action}: {outcome.verdict}: {outcome.detail}"
