"""The GUI's one background-work primitive: generations, jobs of one generation, partial results, shared
pools, failures. Jobs are plain functions (no torch: imports=())."""
import threading

import pytest
from PySide6.QtCore import QThreadPool

from gui.concurrent import BackgroundTask

WAIT = 30_000


@pytest.fixture
def task():
    t = BackgroundTask(imports=())
    yield t
    assert t.shutdown()


def test_a_new_submit_drops_the_result_of_the_job_still_running(qtbot, task):
    results, started, gate = [], threading.Event(), threading.Event()
    task.finished.connect(results.append)

    def old(_ctx):
        started.set()
        gate.wait(WAIT / 1000)
        return "old"

    task.submit(old)
    assert started.wait(WAIT / 1000)
    task.submit(lambda _ctx: "new")
    gate.set()
    qtbot.waitUntil(lambda: task.stale_count == 1 and results == ["new"], timeout=WAIT)
    assert not task.busy


def test_jobs_added_to_a_generation_all_deliver_and_partials_arrive(qtbot, task):
    results, partials = [], []
    task.finished.connect(results.append)
    task.partial.connect(partials.append)
    task.submit(lambda ctx: [ctx.deliver(i) for i in range(3)] and "first")
    task.add(lambda _ctx: "second")
    task.add(lambda _ctx: "third")
    qtbot.waitUntil(lambda: len(results) == 3, timeout=WAIT)
    assert results == ["first", "second", "third"]  # one thread: in order
    assert partials == [0, 1, 2]
    assert not task.busy and task.stale_count == 0


def test_cancel_stops_a_job_at_its_next_check_and_nothing_is_delivered(qtbot, task):
    results, checking = [], threading.Event()
    task.finished.connect(results.append)

    def endless(ctx):
        while True:
            checking.set()
            ctx.check_cancelled()  # raises Cancelled once the task is cancelled

    task.submit(endless)
    assert checking.wait(WAIT / 1000)
    with qtbot.waitSignal(task.cancelled, timeout=WAIT):
        task.cancel()
    assert task.wait(WAIT)  # the job really ended
    assert results == [] and not task.busy


def test_a_bug_in_a_job_reads_as_an_internal_error_with_the_traceback_in_the_log(qtbot, task, caplog):
    with qtbot.waitSignal(task.failed, timeout=WAIT) as failed:
        task.submit(lambda _ctx: 1 / 0)
    assert failed.args[0] == "internal error (ZeroDivisionError); details in the log"
    assert "Traceback" in task.last_error_details
    logged = [r for r in caplog.records if r.name == "gui.concurrent"]
    assert logged and logged[0].exc_info[0] is ZeroDivisionError


def test_a_user_facing_error_from_any_module_shows_its_own_message(qtbot, task, caplog):
    from core.errors import LayerscopeError

    class CustomError(LayerscopeError, ValueError):  # defined in a test module, not in core
        pass

    def fail(_ctx):
        raise CustomError("the folder has no class sub-folders; add one per class")

    with qtbot.waitSignal(task.failed, timeout=WAIT) as failed:
        task.submit(fail)
    assert failed.args[0] == "the folder has no class sub-folders; add one per class"
    assert not [r for r in caplog.records if r.name == "gui.concurrent"]  # not a bug: nothing to log


def test_a_full_disk_in_a_job_is_described_not_called_internal(qtbot, task):
    import errno

    def fail(_ctx):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/thumb.png")

    with qtbot.waitSignal(task.failed, timeout=WAIT) as failed:
        task.submit(fail)
    assert failed.args[0].startswith("the disk is full") and "/runs/x/thumb.png" in failed.args[0]


def test_the_log_panel_shows_an_internal_errors_traceback(qtbot, task):
    from gui.log_panel import LogPanel, PanelLogHandler

    panel = LogPanel()
    qtbot.addWidget(panel)
    handler = PanelLogHandler(panel).attach()
    try:
        task.submit(lambda _ctx: {}["missing"])
        qtbot.waitUntil(lambda: any("KeyError" in text and "Traceback" in text for _, text in panel.lines),
                        timeout=WAIT)
        assert panel.lines[-1][0] == "error"
    finally:
        handler.detach()


def test_tasks_sharing_a_pool_share_its_one_thread(qtbot):
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    first, second = BackgroundTask(pool=pool, imports=()), BackgroundTask(pool=pool, imports=())
    threads = []
    for t in (first, second):
        t.finished.connect(threads.append)
        t.submit(lambda _ctx: threading.get_ident())
    qtbot.waitUntil(lambda: len(threads) == 2, timeout=WAIT)
    assert threads[0] == threads[1] != threading.get_ident()
    assert first.shutdown() and second.shutdown()


def test_a_jobs_context_is_cores_progress_protocol(qtbot, task):
    from core.progress import Progress, share

    updates = []
    task.progress.connect(lambda done, total, text: updates.append((done, total, text)))

    def job(ctx):
        assert isinstance(ctx, Progress)
        share(ctx, 0.5, 1.0).update(2, 2, "second half")  # a stage of a core pass, at its end
        return "done"

    with qtbot.waitSignal(task.finished, timeout=WAIT):
        task.submit(job)
    assert updates == [(1000, 1000, "second half")]
