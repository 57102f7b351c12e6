"""IndexWriter: the recorder's writes to the event index, kept and tried again when they fail."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from camwatch.recording.index import EventRecord

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where finished and confirmed events are indexed (EventStore implements it)."""

    def add(self, record: EventRecord) -> None: ...
    def update(self, record: EventRecord) -> None: ...
    def delete(self, event_id: str) -> bool: ...


class IndexWriter:
    """Adds and updates rows from the capture and writer threads. A failed write (disk full,
    say) is logged, never raised into those threads, and tried again before the next one;
    the restart's reconcile repairs whatever still could not be written."""

    def __init__(self, store: EventSink | None) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[EventRecord, bool]] = {}  # id -> (record, new)

    @property
    def pending(self) -> int:
        """Writes still waiting to be made."""
        with self._lock:
            return len(self._pending)

    def write(self, record: EventRecord, *, new: bool) -> bool:
        """Add (`new`) or update the row; False if it did not reach the index (kept for later)."""
        if self.store is None:
            return False
        self.retry()
        with self._lock:
            earlier = self._pending.pop(record.id, None)
        new = new or (earlier is not None and earlier[1])  # an add that failed stays an add
        if self._store_write(record, new=new):
            return True
        with self._lock:
            self._pending[record.id] = (record, new)
        return False

    def retry(self) -> None:
        """Try the writes that failed earlier once more (quietly: they were logged then)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for record, new in pending.values():
            if not self._store_write(record, new=new, quiet=True):
                with self._lock:
                    self._pending.setdefault(record.id, (record, new))

    def delete(self, event_id: str) -> None:
        """Remove the row, and any write of it still waiting; a failure raises (the caller
        logs it)."""
        with self._lock:
            self._pending.pop(event_id, None)
        if self.store is not None:
            self.store.delete(event_id)

    def _store_write(self, record: EventRecord, *, new: bool, quiet: bool = False) -> bool:
        assert self.store is not None
        try:
            if new:
                self.store.add(record)
            else:
                self.store.update(record)
        except Exception as e:
            if not quiet:
                log.error("event %s: cannot write to the event index: %s", record.id, e)
            return False
        return True
