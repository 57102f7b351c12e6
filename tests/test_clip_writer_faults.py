"""ClipWriter against bad input: corrupt camera JPEGs are dropped, a size change is scaled,
a full disk is told apart from other write errors."""

from __future__ import annotations

import errno
import threading

import av
import cv2
import numpy as np
import pytest

from camwatch.recording.clip_writer import ClipFrame, ClipResult, ClipWriter
from tests.helpers.media import probe


def camera_jpeg(i: int, width: int = 64, height: int = 48) -> ClipFrame:
    image = np.full((height, width, 3), (i * 20) % 255, np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return ClipFrame(
        t=i / 10, captured_at=1e9 + i / 10, width=width, height=height, camera_jpeg=data.tobytes()
    )


def test_corrupt_and_resized_frames_do_not_end_the_clip(tmp_path):
    done = threading.Event()
    results: list[ClipResult] = []
    writer = ClipWriter(
        tmp_path / "x.mp4",
        lambda r: (results.append(r), done.set()),
        fps_hint=10,
        pre_roll_seconds=5,
    )  # room for all 30 at once
    writer.start()
    for i in range(30):
        frame = camera_jpeg(i)
        if i % 5 == 2:
            frame = ClipFrame(frame.t, frame.captured_at, 64, 48, camera_jpeg=b"\xff\xd8junk")
        elif i % 5 == 4:
            frame = camera_jpeg(i, 96, 72)  # the camera switched resolution
        writer.submit(frame)
    writer.finish()
    assert done.wait(30)
    [result] = results
    assert result.error is None and result.frames == 24 and result.dropped == 6
    facts = probe(tmp_path / "x.mp4")
    assert (facts["width"], facts["height"], facts["frames"]) == (64, 48, 24)


class FailingOpen(ClipWriter):
    """A writer whose container cannot be opened, with the error FFmpeg gave."""

    error: Exception = OSError()

    def _open(self, first):  # type: ignore[no-untyped-def]
        raise self.error


def ffmpeg_error(code: int) -> Exception:
    try:
        av.error.err_check(-code, "clip.mp4")
    except av.FFmpegError as e:
        return e
    raise AssertionError("err_check did not raise")


@pytest.mark.parametrize(
    ("error", "disk_full"),
    [
        (ffmpeg_error(errno.ENOSPC), True),  # PyAV's OSError carrying FFmpeg's errno
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (ffmpeg_error(errno.EIO), False),
    ],
)
def test_a_full_disk_is_recognised_by_its_errno(tmp_path, error, disk_full):
    done = threading.Event()
    results: list[ClipResult] = []
    writer = FailingOpen(tmp_path / "x.mp4", lambda r: (results.append(r), done.set()))
    writer.error = error
    writer.start()
    writer.submit(camera_jpeg(0))
    writer.finish()
    assert done.wait(30)
    [result] = results
    assert result.error is not None and result.disk_full is disk_full
