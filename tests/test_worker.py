"""BoundedWorker: jobs run in order off the caller's thread; a full queue drops, never blocks."""

from __future__ import annotations

import threading

from camwatch.integrations.worker import BoundedWorker


def test_jobs_run_in_order_on_the_worker_thread():
    worker = BoundedWorker("test-worker")
    worker.start()
    ran: list[tuple[int, str]] = []
    for i in range(20):
        assert worker.submit(lambda i=i: ran.append((i, threading.current_thread().name)))
    assert worker.stop()
    assert [i for i, _ in ran] == list(range(20))
    assert {name for _, name in ran} == {"test-worker"}


def test_a_full_queue_drops_the_job_at_once():
    worker = BoundedWorker("slow", max_queued=2)
    worker.start()
    release = threading.Event()
    started = threading.Event()

    def block() -> None:
        started.set()
        release.wait(10)

    assert worker.submit(block)
    assert started.wait(10)
    assert worker.submit(lambda: None) and worker.submit(lambda: None)
    assert worker.submit(lambda: None) is False  # queue full: dropped, not waited for
    assert worker.dropped == 1
    release.set()
    assert worker.stop()


def test_a_failing_job_is_logged_and_the_next_one_runs(caplog):
    worker = BoundedWorker("flaky")
    worker.start()
    done = threading.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    worker.submit(fail)
    worker.submit(done.set)
    assert done.wait(10)
    assert worker.stop()
    assert "flaky: job failed" in caplog.text


def test_nothing_is_accepted_after_stop():
    worker = BoundedWorker("stopped")
    worker.start()
    assert worker.stop()
    assert worker.submit(lambda: None) is False
