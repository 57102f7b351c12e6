"""EventRecorder when the index or the disk fails: recording goes on, nothing empty is listed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from camwatch.config import MotionConfig, RetentionConfig
from camwatch.recording.clip_writer import ClipResult, ClipWriter
from camwatch.recording.index import RESERVE_BYTES, RESERVE_NAME, EventRecord, EventStore
from camwatch.recording.recorder import EventRecorder
from camwatch.recording.retention import RetentionPolicy
from tests.helpers.event_files import add_event
from tests.helpers.fakes import MemoryEventSink, RecordingListener, sqlite_disk_full
from tests.helpers.recorder_feed import FPS, feed


class FullIndex(MemoryEventSink):
    """An index that refuses the first `failures` writes, as SQLite does on a full disk."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise sqlite_disk_full()

    def add(self, record: EventRecord) -> None:
        self._maybe_fail()
        super().add(record)

    def update(self, record: EventRecord) -> None:
        self._maybe_fail()
        super().update(record)

    def delete(self, event_id: str) -> bool:
        return self.records.pop(event_id, None) is not None


def test_an_index_write_that_fails_at_confirm_is_made_when_the_clip_ends(tmp_path):
    sink, listener = FullIndex(failures=1), RecordingListener()
    recorder = EventRecorder("cam", MotionConfig(), tmp_path, sink, listener, fps_hint=FPS)
    feed(recorder, 10, [(2.0, 5.0)])  # raises into the capture thread if not handled
    recorder.close()
    [record] = sink.records.values()
    assert record.status == "complete" and record.frames > 30
    assert (tmp_path / record.video_path).is_file()
    assert [c[0] for c in listener.calls] == ["motion", "started", "motion", "ended"]


class FailingAtOnce(ClipWriter):
    """A writer whose disk is full before the first frame."""

    def _open(self, first):  # type: ignore[no-untyped-def]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(b"")
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("index_full", [False, True], ids=["row written", "row still waiting"])
def test_a_clip_with_no_frame_on_disk_is_not_listed(tmp_path, index_full):
    sink, listener = FullIndex(failures=1 if index_full else 0), RecordingListener()
    results: list[ClipResult] = []
    recorder = EventRecorder(
        "cam", MotionConfig(), tmp_path, sink, listener, fps_hint=FPS, on_clip_closed=results.append
    )
    recorder.clips.writer_factory = lambda path, done: FailingAtOnce(path, done, fps_hint=FPS)
    feed(recorder, 10, [(2.0, 5.0)])
    recorder.close()
    assert results and results[0].disk_full and results[0].frames == 0
    assert sink.records == {}
    assert list(tmp_path.rglob("*.mp4")) == [] and list(tmp_path.rglob("*.tmp")) == []
    assert [c[0] for c in listener.calls] == ["motion", "started", "motion", "ended"]


class FullDisk(EventStore):
    """An EventStore whose next `failures` transactions fail as SQLite does on a full disk."""

    failures = 0

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.failures > 0:
            self.failures -= 1
            raise sqlite_disk_full()
        with super()._transaction() as db:
            yield db


def test_the_index_uses_its_reserve_when_the_disk_is_full(tmp_path):
    store = FullDisk(tmp_path)
    reserve = tmp_path / RESERVE_NAME
    assert reserve.stat().st_size == RESERVE_BYTES
    record = EventRecord("a", "cam", 1.0, None, 0, 0, 0.0, "clips/a.mp4", "clips/a.jpg")
    store.failures = 1
    store.add(record)  # written once the reserve made room
    assert not reserve.exists() and store.get("a") is not None
    store.failures = 1
    with pytest.raises(sqlite3.OperationalError):
        store.update(record)  # no reserve left: the caller (the recorder) tries again later
    RetentionPolicy(store).enforce(RetentionConfig(max_days=0, max_bytes=0, min_free_bytes=0))
    assert reserve.stat().st_size == RESERVE_BYTES  # made again once there is room


def test_retention_moves_on_when_a_row_cannot_be_deleted(tmp_path):
    free = {"bytes": 0}
    store = FullDisk(tmp_path, free_bytes=lambda _: free["bytes"])
    for i, name in enumerate("abc"):
        add_event(store, name, 1_790_000_000.0 + i)
    (tmp_path / RESERVE_NAME).unlink(missing_ok=True)
    store.failures = 10**6  # nothing can be written: rows stay, files go
    retention = RetentionConfig(max_days=0, max_bytes=0, min_free_bytes=1)
    policy = RetentionPolicy(store)
    first = policy.enforce(retention)
    second = policy.enforce(retention)
    assert (first, second) == (["a", "b", "c"], [])  # each once, not "a" again and again
    assert not list(tmp_path.rglob("*.mp4"))
    assert [r.id for r in store.list()] == ["c", "b", "a"]  # the rows wait for space
    store.failures = 0
    policy.enforce(retention)
    assert store.list() == []
