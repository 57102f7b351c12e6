"""Retention: the policy (age, total size, free space; never a recording) and the service that
reconciles at start, then runs the policy on a timer and on demand."""

from __future__ import annotations

import os
import time
from pathlib import Path

from camwatch.config import RetentionConfig
from camwatch.recording.index import EventStore
from camwatch.recording.retention import RetentionPolicy, RetentionService
from tests.helpers.event_files import add_event, files_of
from tests.helpers.fakes import sqlite_disk_full
from tests.helpers.support import wait_until

T0 = 1_790_000_000.0  # 2026-09-21
DAY = 86400.0
NO_LIMITS = {"max_days": 0.0, "max_bytes": 0, "min_free_bytes": 0}


def test_retention_service_reconciles_at_start_and_runs_on_demand(store):
    gone = add_event(store, "gone", T0)
    (store.data_dir / gone.video_path).unlink()
    retention = RetentionConfig(**NO_LIMITS)
    service = RetentionService(store, retention, interval_s=600)
    service.start()
    try:
        assert store.get("gone") is None  # reconciled before start() returned
        wait_until(lambda: service.passes >= 1, message="first retention pass")
        add_event(store, "ancient", time.time() - 90 * DAY)
        retention.max_days = 30
        service.request_cleanup()  # as after each clip
        wait_until(lambda: store.get("ancient") is None, message="retention on demand")
        assert service.deleted_total == 1
    finally:
        service.stop()
    assert service._thread is None


# -- the policy ---------------------------------------------------------------------------------


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
    deleted = RetentionPolicy(store).enforce(
        RetentionConfig(**{**NO_LIMITS, "max_days": 30}), now=now
    )
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
    deleted = RetentionPolicy(store).enforce(RetentionConfig(**{**NO_LIMITS, "max_bytes": limit}))
    assert deleted == ["e0", "e1", "e2"]
    assert store.total_bytes() == limit
    assert {r.id for r in store.list()} == {"live", "e3", "e4"}


def test_retention_stops_at_the_recording_when_the_limit_cannot_be_met(store):
    add_event(store, "live", T0, status="recording")
    add_event(store, "done", T0 + 1)
    deleted = RetentionPolicy(store).enforce(
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
    policy = RetentionPolicy(store)
    assert policy.enforce(retention) == ["e0", "e1"]
    assert disk(store.data_dir) == 1000 + need
    assert [r.id for r in store.list()] == ["e3", "e2"]
    assert policy.enforce(retention) == []
    store.close()


class IndexFullStore(EventStore):
    """An index that cannot be written, as SQLite reports on a full disk."""

    index_full = True

    def delete_row(self, event_id, *, allow_recording):
        if self.index_full:
            raise sqlite_disk_full()
        return super().delete_row(event_id, allow_recording=allow_recording)


def test_retention_frees_files_even_when_the_index_cannot_be_written(tmp_path):
    disk = FakeDisk()
    store = IndexFullStore(tmp_path / "data", free_bytes=disk)
    records = [add_event(store, f"e{i}", T0 + i) for i in range(3)]
    disk.capacity = disk.used(store.data_dir)  # nothing free
    retention = RetentionConfig(**{**NO_LIMITS, "min_free_bytes": 1})
    policy = RetentionPolicy(store)
    assert policy.enforce(retention) == ["e0"]  # one per pass while the index is stuck
    assert not any(p.exists() for p in files_of(store, records[0]))
    assert all(p.exists() for p in files_of(store, records[1]))
    assert store.get("e0") is not None
    store.index_full = False
    assert policy.enforce(retention) == []  # nothing more to free...
    assert [r.id for r in store.list()] == ["e2", "e1"]  # ...but e0's row is gone now
    store.close()


def test_full_disk_with_only_unindexed_clips_deletes_the_oldest_stale_one(tmp_path):
    """A clip whose row could not be written on a full disk must not wedge the disk: retention
    deletes the oldest such file once nobody writes to it, and never a fresh one."""
    store = EventStore(tmp_path, free_bytes=lambda path: 0)
    folder = tmp_path / "clips" / "cam" / "2026-11-24"
    folder.mkdir(parents=True)
    stale, fresh = folder / "cam-20261124-100000-aaaa.mp4", folder / "cam-20261124-100500-bbbb.mp4"
    for path in (stale, fresh):
        path.write_bytes(b"\0" * 1000)
    old = time.time() - 600
    os.utime(stale, (old, old))
    RetentionPolicy(store).enforce(RetentionConfig(max_days=0, max_bytes=0, min_free_bytes=10**9))
    assert not stale.exists() and fresh.exists()
