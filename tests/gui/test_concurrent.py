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
            ctx.check()  # raises Cancelled once the task is cancelled

    task.submit(endless)
    assert checking.wait(WAIT / 1000)
    with qtbot.waitSignal(task.cancelled, timeout=WAIT):
        task.cancel()
    assert task.wait(WAIT)  # the job really ended
    assert results == [] and not task.busy


def test_a_failing_job_reports_its_message_and_traceback(qtbot, task):
    with qtbot.waitSignal(task.failed, timeout=WAIT) as failed:
        task.submit(lambda _ctx: 1 / 0)
    assert failed.args[0].startswith("ZeroDivisionError")
    assert "Traceback" in task.last_error_details


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
