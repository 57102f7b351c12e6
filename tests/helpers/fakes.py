"""Explicit fakes for tests: an in-memory event sink, a recording listener, a full-disk error,
the detector's scratch images without reuse, a frame that counts its decodes."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field

import numpy as np

from camwatch.frame import Frame
from camwatch.motion.illumination import Scratch
from camwatch.recording.index import EventRecord


@dataclass(eq=False)
class CountedFrame(Frame):
    """A captured frame that notes each grey image detection decodes of it (their widths)."""

    grey_decodes: list[int] = field(default_factory=list)

    def grey_small(self, max_width: int) -> np.ndarray:
        self.grey_decodes.append(max_width)
        return super().grey_small(max_width)


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

    def delete(self, event_id: str) -> bool:
        with self._lock:
            self.calls.append(("delete", event_id))
            return self.records.pop(event_id, None) is not None


def sqlite_disk_full() -> sqlite3.OperationalError:
    """The error SQLite raises when the disk is full (recognised by its code, not its text)."""
    error = sqlite3.OperationalError("database or disk is full")
    error.sqlite_errorcode = sqlite3.SQLITE_FULL
    return error


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


class FreshScratch(Scratch):
    """New images every time: what the detector computed before images were reused."""

    def image(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        return np.full(shape, np.nan, np.float32)  # NaN: a read before a write would show
