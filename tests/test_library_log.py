"""FFmpeg's and OpenCV's messages go through camwatch's logging, each kind at most once a
minute: a corrupt video does not flood stderr (or the journal)."""

from __future__ import annotations

import logging
import re
import urllib.request

import pytest

from camwatch.capture.library_log import RateLimit, kind_of
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.file_server import FileServer
from tests.helpers.media import corrupt_video
from tests.helpers.support import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(name: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, None)


def test_each_kind_of_message_passes_once_a_minute_with_a_count():
    clock = Clock()
    limit = RateLimit(interval=60, clock=clock)
    passed = []
    for i in range(1000):
        item = record("camwatch.ffmpeg.h264", f"error while decoding MB {i % 40} {i % 7}")
        if limit.filter(item):
            passed.append(item.getMessage())
        clock.now += 0.025
    assert passed == ["error while decoding MB 0 0"]
    clock.now += 60
    item = record("camwatch.ffmpeg.h264", "error while decoding MB 3 4")
    assert limit.filter(item)
    assert item.getMessage() == "error while decoding MB 3 4 (999 more like it in the last minute)"
    assert limit.filter(record("camwatch.ffmpeg.h264", "Reference 4 >= 4"))  # another kind
    assert limit.filter(record("camwatch.capture.thread", "same")) and limit.filter(
        record("camwatch.capture.thread", "same")
    )  # camwatch's own lines are not limited here


def test_kinds_are_bounded():
    limit = RateLimit(max_kinds=10)
    for i in range(100):
        limit.filter(record("libav.h264", f"message {'x' * i}"))
    assert len(limit._kinds) == 10
    assert kind_of("[h264] MB 12 0 at 0x7f00ab") == "[h#] MB # # at #"


def frames_captured(camwatch: CamwatchProcess) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{camwatch.port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("camwatch_frames_captured_total{")
    )


@pytest.mark.slow
def test_a_corrupt_looping_video_does_not_flood_the_log(tmp_path):
    video = corrupt_video(tmp_path)
    with FileServer(tmp_path) as files:
        cameras = f"""
[[cameras]]
name = "file"
source = "{video}"
loop = true
fps = 10

[[cameras]]
name = "web"
source = "{files.url("corrupt.mp4")}"
fps = 10
"""
        with CamwatchProcess(tmp_path, cameras=cameras) as camwatch:
            # PyAV decodes the file, OpenCV's FFmpeg the URL: both print decoder errors.
            wait_until(
                lambda: frames_captured(camwatch) >= 300,
                timeout=120,
                interval=1.0,
                message="300 frames of the corrupt video (several loops)",
            )
            lines = camwatch.log_text().splitlines()
    assert [line for line in lines if re.match(r"^\[\w+ @ 0x", line)] == []  # nothing raw
    routed = [line for line in lines if " camwatch.ffmpeg" in line]
    assert routed, "FFmpeg's messages should reach the log"
    kinds = {kind_of(line.split(": ", 1)[1]) for line in routed}
    assert len(routed) <= 2 * len(kinds)  # each kind once (a minute), not once a frame
    assert len(lines) <= 150, "\n".join(lines[-40:])  # 300 corrupt frames: ~1200 lines before
