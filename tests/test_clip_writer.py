"""ClipWriter: bounded queue that drops evenly, and fragmented MP4 that survives kill -9."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from camwatch.clip_writer import ClipFrame, ClipWriter
from tests.media import probe


def clip_frame(i: int, size=(64, 48)) -> ClipFrame:
    width, height = size
    return ClipFrame(t=i / 10, captured_at=1e9 + i / 10, width=width, height=height,
                     i420=np.full((height * 3 // 2, width), i % 255, np.uint8))


def test_a_stalled_encoder_drops_every_other_frame_then_all_without_blocking(tmp_path):
    writer = ClipWriter(tmp_path / "x.mp4", lambda result: None, fps_hint=10,
                        pre_roll_seconds=0)  # not started: nothing drains the queue
    started = time.monotonic()
    accepted = [writer.submit(clip_frame(i)) for i in range(60)]
    assert time.monotonic() - started < 1.0
    first_drop = accepted.index(False)
    assert all(accepted[:first_drop])
    alternating = accepted[first_drop:first_drop + 8]
    assert alternating.count(True) == 4 and alternating.count(False) == 4
    assert not any(accepted[-10:])
    assert writer.result.dropped == accepted.count(False)


def test_pre_roll_burst_is_not_dropped(tmp_path):
    writer = ClipWriter(tmp_path / "x.mp4", lambda result: None, fps_hint=30,
                        pre_roll_seconds=2)
    assert all(writer.submit(clip_frame(i)) for i in range(60))


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from camwatch.clip_writer import ClipFrame, ClipWriter
    writer = ClipWriter(__import__("pathlib").Path(sys.argv[1]), lambda r: None, fps_hint=10)
    writer.start()
    for i in range(70):  # 7 s at 10 fps: three 2-second fragments are complete
        image = np.random.default_rng(i).integers(0, 255, (72, 128), dtype=np.uint8)
        writer.submit(ClipFrame(t=i / 10, captured_at=0, width=128, height=48 * 1,
                                i420=image))
        time.sleep(0.01)
    time.sleep(2)
    print("written", flush=True)
    time.sleep(60)
""")


def test_clip_killed_mid_event_is_playable_up_to_its_last_fragment(tmp_path):
    path = tmp_path / "killed.mp4"
    process = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "written"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    info = probe(path)
    assert info["codec_name"] == "h264"
    assert info["frames"] >= 40
