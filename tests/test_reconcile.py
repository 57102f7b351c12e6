"""Reconciliation: the index made to agree with the clip files after crashes and strays."""

from __future__ import annotations

import subprocess
import sys

import pytest

from camwatch.recording.index import EventStore
from camwatch.recording.reconcile import reconcile
from tests.helpers.event_files import (
    FPS,
    KEYFRAME_EVERY,
    add_event,
    cut_inside_last_fragment,
    files_of,
    make_event,
    write_fragmented_clip,
)
from tests.helpers.media import probe
from tests.helpers.support import wait_until

T0 = 1_790_000_000.0  # 2026-09-21


def test_reconcile_drops_rows_whose_video_is_gone(store):
    gone = add_event(store, "gone", T0)
    kept = add_event(store, "kept", T0 + 1)
    (store.data_dir / gone.video_path).unlink()
    report = reconcile(store)
    assert report.dropped == ["gone"]
    assert store.get("gone") is None and store.get("kept") == kept
    assert not (store.data_dir / gone.thumbnail_path).exists()


def test_reconcile_closes_a_recording_cut_off_mid_fragment(store):
    record = add_event(store, "crash", T0, frames=35, status="recording")
    video = store.data_dir / record.video_path
    last_fragment = cut_inside_last_fragment(video)
    report = reconcile(store)
    closed = store.get("crash")
    whole = 35 // KEYFRAME_EVERY * KEYFRAME_EVERY  # the frames before the cut-off fragment
    assert report.closed == ["crash"]
    assert closed.status == "truncated"
    assert closed.frames == whole
    assert closed.ended_at == pytest.approx(T0 + (whole - 1) / FPS, abs=0.002)
    assert closed.size_bytes == video.stat().st_size == last_fragment
    assert probe(video)["frames"] == whole  # the partial fragment was cut off cleanly
    assert closed.motion_frames == record.motion_frames  # what the recorder knew is kept


def test_reconcile_drops_a_recording_that_does_not_decode(store):
    record = add_event(store, "junk", T0, status="recording")
    (store.data_dir / record.video_path).write_bytes(b"\0" * 2000)
    report = reconcile(store)
    assert store.get("junk") is None
    assert report.removed_files == [record.video_path, record.thumbnail_path]
    assert not any(p.exists() for p in files_of(store, record))


def test_reconcile_indexes_a_decodable_orphan_and_makes_its_thumbnail(store):
    record = make_event(
        store.data_dir, "orph4n", 1_790_000_123.0, camera="front-door", frames=25, thumbnail=False
    )
    report = reconcile(store)
    indexed = store.get("orph4n")
    assert report.indexed == ["orph4n"]
    assert indexed is not None
    assert (indexed.camera, indexed.started_at, indexed.frames) == (
        "front-door",
        1_790_000_123.0,
        25,
    )
    assert indexed.duration_s == pytest.approx(2.4, abs=0.002)
    assert indexed.video_path == record.video_path
    assert indexed.thumbnail_path == record.thumbnail_path
    thumbnail = (store.data_dir / indexed.thumbnail_path).read_bytes()
    assert thumbnail[:2] == b"\xff\xd8"
    assert reconcile(store).changed is False  # idempotent


def test_reconcile_deletes_undecodable_orphans_and_strays(store):
    junk = make_event(store.data_dir, "junk1", T0)
    (store.data_dir / junk.video_path).write_bytes(b"not a video" * 100)
    folder = (store.data_dir / junk.video_path).parent
    stray_thumbnail = folder / "cam-20260921-000000-lost.jpg"
    stray_thumbnail.write_bytes(b"\xff\xd8")
    temporary = folder / "cam-20260921-000001-x.jpg.tmp"
    temporary.write_bytes(b"")
    foreign = folder / "holiday.mp4"  # not a name camwatch writes: left alone
    write_fragmented_clip(foreign, 5)
    reconcile(store)
    assert store.list() == []
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.mp4"]


def test_reconcile_after_a_real_kill_9_of_the_clip_writer(tmp_path):
    data_dir = tmp_path / "data"
    script = r"""
import sys, time
from pathlib import Path
import numpy as np
from camwatch.recording.clip_writer import ClipFrame, ClipWriter
from camwatch.recording.index import EventRecord, EventStore
from camwatch.recording.paths import clip_paths
data_dir = Path(sys.argv[1])
store = EventStore(data_dir)
start = 1_790_000_000.0
video, thumbnail = clip_paths(data_dir, "cam", start, "killed")
store.add(EventRecord("killed", "cam", start, None, 0, 7, 3.5,
                      str(video.relative_to(data_dir)), str(thumbnail.relative_to(data_dir))))
writer = ClipWriter(video, lambda result: None, fps_hint=10)
writer.start()
for i in range(600):
    luma = np.full((48, 96), 60 + i % 100, np.uint8)
    i420 = np.concatenate([luma, np.full((24, 96), 128, np.uint8)])  # 96x48 I420
    writer.submit(ClipFrame(t=i / 10, captured_at=start + i / 10, width=96, height=48,
                            i420=i420))
    if i == 50:
        print("ready", flush=True)
    time.sleep(0.01)
"""
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        clips = data_dir / "clips" / "cam"
        wait_until(
            lambda: sum(p.stat().st_size for p in clips.rglob("*.mp4")) > 8000,
            timeout=30,
            message="a few fragments on disk",
        )
    finally:
        process.kill()
        process.wait(10)
    store = EventStore(data_dir)
    report = reconcile(store)
    record = store.get("killed")
    assert report.closed == ["killed"] and record.status == "truncated"
    video = data_dir / record.video_path
    facts = probe(video)
    assert record.frames == facts["frames"] > 0
    assert record.duration_s == pytest.approx((record.frames - 1) / 10, abs=0.002)
    assert record.size_bytes == video.stat().st_size
    assert (data_dir / record.thumbnail_path).read_bytes()[:2] == b"\xff\xd8"


def test_an_event_of_continuous_mode_has_no_clip_and_is_kept(store):
    """Its footage is in the segments: no clip file, yet the row and thumbnail stay."""
    record = make_event(store.data_dir, "range1", 1_790_000_000.0, status="recording")
    (store.data_dir / record.video_path).unlink()
    record.video_path = ""
    store.add(record)
    report = reconcile(store)
    kept = store.get("range1")
    assert kept is not None and kept.status == "truncated" and kept.ended_at is not None
    assert report.closed == ["range1"] and report.dropped == []
    assert (store.data_dir / record.thumbnail_path).exists()
