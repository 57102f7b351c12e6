"""Clip paths: clips/{camera}/{UTC day}/{camera}-{UTC time}-{id}.mp4 with its .jpg beside it."""

from __future__ import annotations

from pathlib import Path

from camwatch.recording.paths import CLIPS_DIR, clip_paths, clips_dir


def test_a_clip_is_filed_by_camera_and_utc_day(tmp_path):
    video, thumbnail = clip_paths(tmp_path, "front", 1795512600.5, "ab12")  # 2026-11-24 09:30 UTC
    assert video == tmp_path / "clips/front/2026-11-24/front-20261124-093000-ab12.mp4"
    assert thumbnail == video.with_suffix(".jpg")
    assert clips_dir(tmp_path) == tmp_path / CLIPS_DIR and clips_dir(tmp_path) in video.parents
    assert Path(CLIPS_DIR).parts == ("clips",)
