"""Thumbnails: at most THUMBNAIL_WIDTH wide, same aspect, and nothing left behind on failure."""

from __future__ import annotations

import numpy as np
import pytest

from camwatch import jpeg
from camwatch.recording.thumbnails import THUMBNAIL_WIDTH, write_thumbnail


def test_a_wide_picture_is_scaled_down_keeping_its_aspect(tmp_path):
    path = tmp_path / "a.jpg"
    write_thumbnail(np.full((720, 1280, 3), 90, np.uint8), path)
    image = jpeg.decode(path.read_bytes())
    assert image.shape[:2] == (270, THUMBNAIL_WIDTH)
    assert abs(int(image.mean()) - 90) <= 2
    assert list(tmp_path.iterdir()) == [path]


def test_a_small_picture_keeps_its_size(tmp_path):
    path = tmp_path / "a.jpg"
    write_thumbnail(np.zeros((120, 160, 3), np.uint8), path)
    assert jpeg.decode(path.read_bytes()).shape[:2] == (120, 160)


def test_a_failed_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a.jpg"
    target.mkdir()  # the final rename cannot replace a folder
    with pytest.raises(OSError):
        write_thumbnail(np.zeros((120, 160, 3), np.uint8), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]
    assert target.is_dir()


def test_a_thumbnail_of_a_clip_frame_is_written_into_its_folder(tmp_path):
    """The queue item every clip writer takes: made from the frame's picture, folder and all."""
    import cv2

    from camwatch.recording.clip_writer import ClipFrame
    from camwatch.recording.thumbnails import Thumbnail

    image = np.full((96, 128, 3), (30, 90, 200), np.uint8)
    frame = ClipFrame(0.0, 1e9, 128, 96, camera_jpeg=jpeg.encode(image, 95))
    target = tmp_path / "clips" / "cam" / "2026-12-02" / "event.jpg"
    Thumbnail(frame, target).write()
    written = cv2.imread(str(target))
    assert written.shape == (96, 128, 3)
    assert cv2.absdiff(written, image).max() < 12


def test_a_thumbnail_that_cannot_be_written_is_logged_in_a_line(tmp_path, caplog):
    """As on a full disk: the writer thread goes on, and no traceback reaches the log."""
    from camwatch.recording.clip_writer import ClipFrame
    from camwatch.recording.thumbnails import Thumbnail

    (tmp_path / "clips").write_bytes(b"")  # a file where the folder should be
    black = jpeg.encode(np.zeros((96, 128, 3), np.uint8), 95)
    frame = ClipFrame(0.0, 1e9, 128, 96, camera_jpeg=black)
    Thumbnail(frame, tmp_path / "clips" / "cam" / "event.jpg").write()
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "event.jpg" in record.getMessage() and record.exc_info is None
