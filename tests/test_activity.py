"""ActivityLog: per-second peaks written in batches to day files, read back in steps, pruned."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from camwatch.recording.activity import DAY_S, ActivityLog, decode, encode

DAY = 1_795_000_000 - 1_795_000_000 % DAY_S  # a UTC midnight


def test_a_frame_is_not_a_disk_write_and_a_flush_keeps_the_peak_of_each_second(tmp_path: Path):
    log = ActivityLog(tmp_path)
    for i in range(30):  # 10 fps for 3 s: the peak of each second is kept
        log.add("cam", DAY + 100 + i / 10, delta=float(i % 10))
    assert not (tmp_path / "activity").exists()  # nothing written per frame
    points = log.points("cam", DAY, DAY + 200, step=1)  # pending samples are readable
    assert [(p.t, p.peak_delta) for p in points] == [(DAY + 100 + s, 9.0) for s in range(3)]
    log.flush()
    day_file = tmp_path / "activity" / "cam" / "2026-11-18.u16"
    assert day_file.stat().st_size == DAY_S * 2
    assert day_file.stat().st_blocks * 512 < 64 * 1024  # sparse: only the written part
    again = ActivityLog(tmp_path).points("cam", DAY, DAY + 200, step=1)
    assert [(p.t, p.peak_delta) for p in again] == [(DAY + 100 + s, 9.0) for s in range(3)]


def test_steps_take_the_maximum_and_leave_out_steps_without_samples(tmp_path: Path):
    log = ActivityLog(tmp_path)
    samples = {DAY + 5: 0.25, DAY + 59: 3.5, DAY + 61: 0.5, DAY + 600: 12.0}
    for t, delta in samples.items():
        log.add("cam", t, delta)
    log.flush()
    log.add("cam", DAY + 62, 0.75)  # one more, still pending: merged with the file's
    points = log.points("cam", DAY, DAY + 3600, step=60)
    assert [(p.t - DAY, p.peak_delta) for p in points] == [(0, 3.5), (60, 0.75), (600, 12.0)]


def test_a_second_flush_merges_with_what_the_file_holds(tmp_path: Path):
    log = ActivityLog(tmp_path)
    log.add("cam", DAY + 10, 5.0)
    log.flush()
    log.add("cam", DAY + 10, 1.0)  # lower: the peak stays 5
    log.add("cam", DAY + 11, 2.0)
    log.flush()
    points = log.points("cam", DAY, DAY + 20, step=1)
    assert [(p.t - DAY, p.peak_delta) for p in points] == [(10, 5.0), (11, 2.0)]


def test_ranges_across_midnight_read_both_day_files(tmp_path: Path):
    log = ActivityLog(tmp_path)
    log.add("cam", DAY - 1, 1.0)
    log.add("cam", DAY, 2.0)
    log.flush()
    assert sorted(os.listdir(tmp_path / "activity" / "cam")) == ["2026-11-17.u16", "2026-11-18.u16"]
    points = log.points("cam", DAY - 30, DAY + 30, step=30)
    assert [(p.t - DAY, p.peak_delta) for p in points] == [(-30, 1.0), (0, 2.0)]


def test_cameras_are_kept_apart(tmp_path: Path):
    log = ActivityLog(tmp_path)
    log.add("front", DAY + 1, 4.0)
    log.add("yard", DAY + 1, 8.0)
    log.flush()
    assert log.points("front", DAY, DAY + 10, 10)[0].peak_delta == 4.0
    assert log.points("yard", DAY, DAY + 10, 10)[0].peak_delta == 8.0
    assert log.points("side", DAY, DAY + 10, 10) == []


def test_quantisation_is_finer_than_any_useful_threshold():
    deltas = np.array([0.0, 0.01, 0.1, 0.3, 1.0, 42.0, 100.0])
    codes = np.array([encode(float(d)) for d in deltas], np.uint16)
    assert np.all(codes > 0)  # 0 means "no sample"
    assert np.max(np.abs(decode(codes) - deltas)) < 0.001
    assert decode(np.array([0], np.uint16))[0] < 0


def test_prune_drops_days_older_than_the_camera_keeps_footage(tmp_path: Path):
    log = ActivityLog(tmp_path, keep_days=lambda camera: {"front": 2.0, "yard": 0.0}[camera])
    for days_ago in range(5):
        log.add("front", DAY - days_ago * DAY_S + 10, 1.0)
        log.add("yard", DAY - days_ago * DAY_S + 10, 1.0)
    log.flush()
    dropped = log.prune(now=DAY + 3600)
    assert sorted(dropped) == ["front/2026-11-14", "front/2026-11-15"]
    assert log.days("front") == ["2026-11-16", "2026-11-17", "2026-11-18"]
    assert len(log.days("yard")) == 5  # 0 days: kept forever


def test_a_failed_write_keeps_the_samples_for_the_next_flush(tmp_path: Path):
    (tmp_path / "activity").write_text("not a folder")  # the folder cannot be made
    log = ActivityLog(tmp_path)
    log.add("cam", DAY + 3, 6.0)
    log.flush()
    assert log.points("cam", DAY, DAY + 10, 1)[0].peak_delta == 6.0
    (tmp_path / "activity").unlink()
    log.flush()
    assert (tmp_path / "activity" / "cam").is_dir()
    assert ActivityLog(tmp_path).points("cam", DAY, DAY + 10, 1)[0].peak_delta == 6.0


def test_stop_writes_what_is_pending(tmp_path: Path):
    log = ActivityLog(tmp_path, flush_interval_s=3600)
    log.start()
    log.add("cam", DAY + 1, 2.5)
    log.stop()
    assert ActivityLog(tmp_path).points("cam", DAY, DAY + 10, 1)[0].peak_delta == 2.5
