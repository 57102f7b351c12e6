"""RetentionService: reconciles the event index at start, then deletes old clips now and then."""

from __future__ import annotations

import logging
import threading

from camwatch.config import RetentionConfig
from camwatch.recording.index import EventStore
from camwatch.recording.reconcile import reconcile

log = logging.getLogger(__name__)

INTERVAL_S = 60.0


class RetentionService:
    """A Component: `start()` reconciles the index with the files (before any recorder runs),
    then a daemon thread enforces retention every `interval_s` and whenever
    `request_cleanup()` is called (a clip ended, a write hit a full disk).
    """

    def __init__(
        self, store: EventStore, retention: RetentionConfig, interval_s: float = INTERVAL_S
    ) -> None:
        self.store = store
        self.retention = retention
        self.interval_s = interval_s
        self.passes = 0
        self.deleted_total = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            reconcile(self.store)
        except Exception:
            log.exception("reconciling the event index failed; going on without it")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def request_cleanup(self) -> None:
        """Run a pass soon, on the retention thread (returns at once)."""
        self._wake.set()

    def run_once(self) -> list[str]:
        deleted = self.store.enforce_retention(self.retention)
        self.deleted_total += len(deleted)
        self.passes += 1
        return deleted

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("retention pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
