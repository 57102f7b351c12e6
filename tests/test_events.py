"""EventStore: rows, paging, deletion with files, retention."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from camwatch.config import RetentionConfig
from camwatch.recording.index import EventRecord, EventRecording, EventStore
from tests.helpers.event_files import add_event, files_of
from tests.helpers.fakes import sqlite_disk_full

T0 = 1_790_000_000.0  # 2026-09-21
DAY = 86400.0
NO_LIMITS = {"max_days": 0.0, "max_bytes": 0, "min_free_bytes": 0}


# -- rows -----------------------------------------------------------------------------------------


def test_creates_the_data_dir_and_a_wal_database(tmp_path):
    store = EventStore(tmp_path / "new" / "data")
    db = tmp_path / "new" / "data" / "camwatch.db"
    assert db.is_file()
    with sqlite3.connect(db) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_add_get_update_round_trip(store):
    record = add_event(store, "a1", T0, status="recording")
    assert store.get("a1") == record
    record.ended_at, record.frames, record.size_bytes, record.status = T0 + 3, 31, 999, "complete"
    store.update(record)
    again = EventStore(store.data_dir).get("a1")
    assert again == record
    assert again.to_json()["duration_s"] == 3.0
    assert store.get("nope") is None


def test_update_does_not_bring_back_a_deleted_event(store):
    record = add_event(store, "a1", T0)
    assert store.delete("a1")
    store.update(record)
    assert store.get("a1") is None


def test_list_is_newest_first_and_filters_by_camera(store):
    for i, camera in enumerate(["cam", "yard", "cam", "yard", "cam"]):
        add_event(store, f"e{i}", T0 + i * 60, camera=camera)
    assert [r.id for r in store.list()] == ["e4", "e3", "e2", "e1", "e0"]
    assert [r.id for r in store.list(camera="yard")] == ["e3", "e1"]
    assert [r.id for r in store.list(limit=2)] == ["e4", "e3"]
    assert store.list(camera="porch") == []


def test_paging_by_time_and_by_id_with_equal_start_times(store):
    for event_id in ["b", "a", "c"]:
        add_event(store, event_id, T0)  # same start time: ties broken by id
    add_event(store, "z", T0 + 1)
    add_event(store, "old", T0 - 1)
    first = store.list(limit=2)
    assert [r.id for r in first] == ["z", "c"]
    last = first[-1]
    second = store.list(limit=2, before=last.started_at, before_id=last.id)
    assert [r.id for r in second] == ["b", "a"]
    third = store.list(limit=2, before=second[-1].started_at, before_id=second[-1].id)
    assert [r.id for r in third] == ["old"]
    assert [r.id for r in store.list(before=T0)] == ["old"]


def test_delete_removes_the_row_and_both_files(store):
    record = add_event(store, "a1", T0)
    keep = add_event(store, "a2", T0 + 1)
    assert all(p.exists() for p in files_of(store, record))
    assert store.delete("a1") is True
    assert store.get("a1") is None
    assert not any(p.exists() for p in files_of(store, record))
    assert all(p.exists() for p in files_of(store, keep))
    assert store.delete("a1") is False


def test_delete_of_a_recording_event_can_be_refused(store):
    record = add_event(store, "live", T0, status="recording")
    with pytest.raises(EventRecording):
        store.delete("live", allow_recording=False)
    assert store.get("live") is not None and all(p.exists() for p in files_of(store, record))


def test_delete_never_touches_files_outside_the_data_dir(store, tmp_path):
    outside = tmp_path / "precious.mp4"
    outside.write_bytes(b"keep me")
    record = add_event(store, "evil", T0)
    record.video_path = "../precious.mp4"
    store.update(record)
    assert store.delete("evil")
    assert outside.read_bytes() == b"keep me"


def test_concurrent_writers_and_readers(store):
    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                record = EventRecord(
                    f"t{n}-{i}",
                    "cam",
                    T0 + i,
                    None,
                    0,
                    0,
                    0.0,
                    f"clips/x/{n}-{i}.mp4",
                    f"clips/x/{n}-{i}.jpg",
                )
                store.add(record)
                record.status, record.ended_at = "complete", T0 + i + 1
                store.update(record)
                store.list(limit=5)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    rows = store.list(limit=500)
    assert len(rows) == 160 and all(r.status == "complete" for r in rows)


def test_motion_overrides_persist_across_store_instances(store):
    assert store.motion_overrides("cam") == {}
    store.save_motion_overrides("cam", {"threshold": 1.5, "stable_frames": 30})
    store.save_motion_overrides("yard", {"enabled": False})
    reopened = EventStore(store.data_dir)
    assert reopened.motion_overrides("cam") == {"threshold": 1.5, "stable_frames": 30}
    assert reopened.motion_overrides("yard") == {"enabled": False}
    reopened.save_motion_overrides("cam", {})
    assert store.motion_overrides("cam") == {}


# -- retention ----------------------------------------------------------------------------------


class FakeDisk:
    """A small disk: free space = capacity minus what the clips really take, so deleting
    clips frees space."""

    def __init__(self, capacity: int = 0) -> None:
        self.capacity = capacity
        self.calls = 0

    def used(self, root: Path) -> int:
        return sum(p.stat().st_size for p in (root / "clips").rglob("*") if p.is_file())

    def __call__(self, root: Path) -> int:
        self.calls += 1
        return self.capacity - self.used(root)


def test_retention_deletes_by_age_but_never_a_recording(store):
    now = T0 + 100 * DAY
    old = add_event(store, "old", now - 40 * DAY)
    add_event(store, "live", now - 50 * DAY, status="recording")
    add_event(store, "recent", now - 10 * DAY)
    deleted = store.enforce_retention(RetentionConfig(**{**NO_LIMITS, "max_days": 30}), now=now)
    assert deleted == ["old"]
    assert not any(p.exists() for p in files_of(store, old))
    assert {r.id for r in store.list()} == {"live", "recent"}


def test_retention_deletes_oldest_first_beyond_max_bytes(store):
    records = [add_event(store, f"e{i}", T0 + i) for i in range(5)]
    live = add_event(store, "live", T0 - 10, status="recording")
    live.size_bytes = 10**6  # counts towards the total, but is never deleted
    store.update(live)
    sizes = [r.size_bytes for r in records]
    limit = live.size_bytes + sum(sizes[3:])
    assert store.total_bytes() == live.size_bytes + sum(sizes)
    deleted = store.enforce_retention(RetentionConfig(**{**NO_LIMITS, "max_bytes": limit}))
    assert deleted == ["e0", "e1", "e2"]
    assert store.total_bytes() == limit
    assert {r.id for r in store.list()} == {"live", "e3", "e4"}


def test_retention_stops_at_the_recording_when_the_limit_cannot_be_met(store):
    add_event(store, "live", T0, status="recording")
    add_event(store, "done", T0 + 1)
    deleted = store.enforce_retention(
        RetentionConfig(**{**NO_LIMITS, "max_bytes": 1, "min_free_bytes": 10**15})
    )
    assert deleted == ["done"]
    assert [r.id for r in store.list()] == ["live"]


def test_retention_frees_disk_space_oldest_first(tmp_path):
    disk = FakeDisk()
    store = EventStore(tmp_path / "data", free_bytes=disk)
    records = [add_event(store, f"e{i}", T0 + i) for i in range(4)]
    disk.capacity = disk.used(store.data_dir) + 1000  # 1000 bytes free
    # Enough free space only once the two oldest clips and thumbnails are gone.
    need = sum(p.stat().st_size for r in records[:2] for p in files_of(store, r))
    retention = RetentionConfig(**{**NO_LIMITS, "min_free_bytes": 1000 + need})
    assert store.enforce_retention(retention) == ["e0", "e1"]
    assert disk(store.data_dir) == 1000 + need
    assert [r.id for r in store.list()] == ["e3", "e2"]
    assert store.enforce_retention(retention) == []
    store.close()


class IndexFullStore(EventStore):
    """An index that cannot be written, as SQLite reports on a full disk."""

    index_full = True

    def _delete_row(self, event_id, *, allow_recording):
        if self.index_full:
            raise sqlite_disk_full()
        return super()._delete_row(event_id, allow_recording=allow_recording)


def test_retention_frees_files_even_when_the_index_cannot_be_written(tmp_path):
    disk = FakeDisk()
    store = IndexFullStore(tmp_path / "data", free_bytes=disk)
    records = [add_event(store, f"e{i}", T0 + i) for i in range(3)]
    disk.capacity = disk.used(store.data_dir)  # nothing free
    retention = RetentionConfig(**{**NO_LIMITS, "min_free_bytes": 1})
    assert store.enforce_retention(retention) == ["e0"]  # one per pass while the index is stuck
    assert not any(p.exists() for p in files_of(store, records[0]))
    assert all(p.exists() for p in files_of(store, records[1]))
    assert store.get("e0") is not None
    store.index_full = False
    assert store.enforce_retention(retention) == []  # nothing more to free...
    assert [r.id for r in store.list()] == ["e2", "e1"]  # ...but e0's row is gone now
    store.close()


def test_full_disk_with_only_unindexed_clips_deletes_the_oldest_stale_one(tmp_path):
    """A clip whose row could not be written on a full disk must not wedge the disk: retention
    deletes the oldest such file once nobody writes to it, and never a fresh one."""
    import os
    import time

    from camwatch.config import RetentionConfig
    from camwatch.recording.index import EventStore

    store = EventStore(tmp_path, free_bytes=lambda path: 0)
    folder = tmp_path / "clips" / "cam" / "2026-11-24"
    folder.mkdir(parents=True)
    stale, fresh = folder / "cam-20261124-100000-aaaa.mp4", folder / "cam-20261124-100500-bbbb.mp4"
    for path in (stale, fresh):
        path.write_bytes(b"\0" * 1000)
    old = time.time() - 600
    os.utime(stale, (old, old))
    store.enforce_retention(RetentionConfig(max_days=0, max_bytes=0, min_free_bytes=10**9))
    assert not stale.exists() and fresh.exists()
