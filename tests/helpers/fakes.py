"""Explicit fakes for tests: an in-memory event sink and a recording listener."""

from __future__ import annotations

import threading

from camwatch.recording.index import EventRecord


class MemoryEventSink:
    """Keeps what the recorder indexes, as the real EventStore would."""

    def __init__(self) -> None:
        self.records: dict[str, EventRecord] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, record: EventRecord) -> None:
        with self._lock:
            self.records[record.id] = record
            self.calls.append(("add", record.id))

    def update(self, record: EventRecord) -> None:
        with self._lock:
            self.records[record.id] = record
            self.calls.append(("update", record.id))


class RecordingListener:
    """Remembers every notification, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.ended = threading.Event()

    def motion_changed(self, camera: str, active: bool) -> None:
        self.calls.append(("motion", active))

    def event_started(self, record: EventRecord) -> None:
        self.calls.append(("started", record.id))

    def event_ended(self, record: EventRecord) -> None:
        self.calls.append(("ended", record.id))
        self.ended.set()
