"""BoundedWorker: one thread with a bounded queue, so callers hand work off and return at once."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class BoundedWorker:
    """Runs submitted jobs one at a time, in order, on its own daemon thread.

    `submit` never blocks: when the queue is full the job is dropped and False is returned.
    A job that raises is logged; the worker carries on.
    """

    def __init__(self, name: str, max_queued: int = 32) -> None:
        self.name = name
        self._queue: queue.Queue[Job | None] = queue.Queue(max_queued)
        self._thread: threading.Thread | None = None
        self._closing = False
        self.dropped = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def submit(self, job: Job) -> bool:
        if self._closing:
            return False
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def stop(self, timeout: float = 10.0) -> bool:
        """Run what is queued (within `timeout`), then end; False if the thread is still busy."""
        self._closing = True
        thread = self._thread
        if thread is None:
            return True
        deadline = time.monotonic() + timeout
        while thread.is_alive():
            try:
                self._queue.put(None, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:
                log.exception("%s: job failed", self.name)
