"""EventStore: rows, paging, deletion with files, the queries retention asks."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from camwatch.recording.index import EventRecord, EventRecording, EventStore
from camwatch.recording.switches import MotionOverrides
from tests.helpers.event_files import add_event, files_of

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
    assert store.motion_overrides("cam") == MotionOverrides()
    store.save_motion_overrides("cam", MotionOverrides({"threshold": 1.5, "stable_frames": 30}))
    store.save_motion_overrides("yard", MotionOverrides({"enabled": False}))
    reopened = EventStore(store.data_dir)
    assert reopened.motion_overrides("cam").settings == {"threshold": 1.5, "stable_frames": 30}
    assert reopened.motion_overrides("yard").settings == {"enabled": False}
    reopened.save_motion_overrides("cam", MotionOverrides())
    assert store.motion_overrides("cam") == MotionOverrides()


def test_the_queries_retention_asks_leave_out_recordings(store):
    add_event(store, "live", T0, status="recording")
    add_event(store, "b", T0 + 2)
    a = add_event(store, "a", T0 + 1)
    assert store.finished_started_before(T0 + 2) == ["a"]
    assert store.finished_started_before(T0 + 3) == ["a", "b"]
    assert store.oldest_finished() == "a"
    assert store.oldest_finished(excluding={"a"}) == "b"
    assert store.oldest_finished(excluding={"a", "b"}) is None
    assert a.video_path in store.video_paths() and len(store.video_paths()) == 3


def test_delete_row_keeps_the_files_for_the_caller(store):
    record = add_event(store, "a1", T0)
    assert store.delete_row("a1", allow_recording=False) == record
    assert store.get("a1") is None and all(p.exists() for p in files_of(store, record))
    assert store.remove_files(record) and not any(p.exists() for p in files_of(store, record))
    assert store.delete_row("a1", allow_recording=False) is None
