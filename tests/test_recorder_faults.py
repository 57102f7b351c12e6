"""EventRecorder when the index or the disk fails: recording goes on, nothing empty is listed."""

from __future__ import annotations

import sqlite3

from camwatch.clip_writer import ClipResult, ClipWriter
from camwatch.config import MotionConfig
from camwatch.events import RESERVE_BYTES, RESERVE_NAME, EventRecord, EventStore
from camwatch.recorder import EventRecorder
from tests.fakes import MemoryEventSink, RecordingListener
from tests.test_recorder import FPS, feed


class FullIndex(MemoryEventSink):
    """An index that refuses the first `failures` writes, as SQLite does on a full disk."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")

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


def test_a_clip_with_no_frame_on_disk_is_not_listed(tmp_path):
    sink, listener = MemoryEventSink(), RecordingListener()
    sink.delete = lambda event_id: sink.records.pop(event_id, None) is not None  # type: ignore
    results: list[ClipResult] = []
    recorder = EventRecorder("cam", MotionConfig(), tmp_path, sink, listener, fps_hint=FPS,
                             on_clip_closed=results.append)
    recorder._make_writer = lambda path, done: FailingAtOnce(path, done, fps_hint=FPS)
    feed(recorder, 10, [(2.0, 5.0)])
    recorder.close()
    assert results and results[0].disk_full and results[0].frames == 0
    assert sink.records == {}
    assert list(tmp_path.rglob("*.mp4")) == [] and list(tmp_path.rglob("*.tmp")) == []
    assert [c[0] for c in listener.calls] == ["motion", "started", "motion", "ended"]


def test_the_index_keeps_a_reserve_and_gives_it_up_when_the_disk_fills(tmp_path):
    free = {"bytes": 10**9}
    store = EventStore(tmp_path, free_bytes=lambda _: free["bytes"])
    reserve = tmp_path / RESERVE_NAME
    assert reserve.stat().st_size == RESERVE_BYTES
    free["bytes"] = RESERVE_BYTES // 2  # the clips have filled the disk
    store.add(EventRecord("a", "cam", 1.0, None, 0, 0, 0.0, "clips/a.mp4", "clips/a.jpg"))
    assert not reserve.exists() and store.get("a") is not None
    from camwatch.config import RetentionConfig
    store.enforce_retention(RetentionConfig(max_days=0, max_bytes=0, min_free_bytes=0))
    assert not reserve.exists()  # still no room for it
    free["bytes"] = 10**9  # retention (or the user) freed space
    store.enforce_retention(RetentionConfig(max_days=0, max_bytes=0, min_free_bytes=0))
    assert reserve.stat().st_size == RESERVE_BYTES
