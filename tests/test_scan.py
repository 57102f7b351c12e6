"""`camwatch scan` finds exactly the motion put into generated clips."""

import json
import subprocess
import sys

import av
import numpy as np
import pytest

from camwatch.config import MotionConfig
from camwatch.motion.detector import MotionDetector
from camwatch.motion.look import coarse_of
from camwatch.motion.scan import ScannedEvent, batched_frames, detection_grey, grey_frames, scan
from camwatch.motion.tracker import EventTracker, TrackedEvent
from tests.helpers.clips import write_clip

FRAME = 0.1  # seconds per frame at 10 fps


def test_known_intervals_give_exactly_those_events(tmp_path):
    clip = write_clip(tmp_path / "two.mp4", 20, [(2.0, 5.0), (10.0, 13.0)])
    events = scan(str(clip), MotionConfig())
    assert len(events) == 2
    for event, (start, end) in zip(events, [(2.0, 5.0), (10.0, 13.0)], strict=False):
        assert event.start_s == pytest.approx(start, abs=FRAME + 1e-6)
        assert event.end_s == pytest.approx(end, abs=2 * FRAME + 1e-6)
        assert event.motion_frames >= 25


def test_two_frame_flicker_gives_no_event(tmp_path):
    clip = write_clip(tmp_path / "flicker.mp4", 8, flicker_at=[3.0, 3.1])
    assert scan(str(clip), MotionConfig()) == []


def test_motion_shorter_than_min_motion_frames_is_discarded(tmp_path):
    clip = write_clip(tmp_path / "short.mp4", 8, [(3.0, 3.3)])
    assert scan(str(clip), MotionConfig()) == []
    assert len(scan(str(clip), MotionConfig(min_motion_frames=2))) == 1


def test_cli_json_output(tmp_path):
    clip = write_clip(tmp_path / "one.mp4", 10, [(3.0, 6.0)])
    result = subprocess.run(
        [sys.executable, "-m", "camwatch", "scan", str(clip), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)["events"]
    assert len(events) == 1
    assert set(events[0]) == {"start_s", "end_s", "motion_frames", "peak_delta"}
    assert events[0]["start_s"] == pytest.approx(3.0, abs=FRAME + 1e-6)


def test_cli_rejects_bad_motion_option(tmp_path):
    clip = write_clip(tmp_path / "one.mp4", 1)
    result = subprocess.run(
        [sys.executable, "-m", "camwatch", "scan", str(clip), "--threshold", "300"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--threshold" in result.stderr and "100" in result.stderr


def test_cli_scan_loads_no_server_module_and_one_opencv_thread(tmp_path):
    """A scan is a short process: the server's modules (Tornado, the service) are not loaded,
    and OpenCV runs on the calling thread (its pool's spinning costs more than it saves)."""
    clip = write_clip(tmp_path / "one.mp4", 3, [(1.0, 2.0)])
    probe = (
        "import sys, cv2\n"
        "from camwatch.cli import main\n"
        f"assert main(['scan', {str(clip)!r}, '--json']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('tornado', 'camwatch.server',"
        " 'camwatch.service', 'camwatch.wiring', 'camwatch.recording')))\n"
        "print(json.dumps({'loaded': loaded, 'threads': cv2.getNumThreads()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import json\n" + probe],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"loaded": [], "threads": 1}


def luma(frame):
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def test_scan_skips_the_loop_filter_but_frames_for_recording_keep_it(tmp_path):
    clip = write_clip(tmp_path / "filtered.mp4", 3, [(0.5, 2.5)], preset="veryfast", crf=32)
    with av.open(str(clip)) as container:
        plain = [luma(frame) for frame in container.decode(video=0)]
    kept = [luma(frame) for _, _, frame in grey_frames(str(clip))]
    skipped = [luma(frame) for _, _, frame in grey_frames(str(clip), deblock=False)]
    assert len(plain) == len(kept) == len(skipped) == 30
    assert all(np.array_equal(a, b) for a, b in zip(plain, kept, strict=True))
    assert sum(not np.array_equal(a, b) for a, b in zip(plain, skipped, strict=True)) >= 20


def test_batched_frames_are_the_decoded_frames_in_order(tmp_path):
    clip = write_clip(tmp_path / "long.mp4", 6, [(1.0, 5.0)], width=640, height=480)
    threaded = [(t, grey, luma(frame)) for t, grey, frame in grey_frames(str(clip), deblock=False)]
    batched = [
        (t, detection_grey(frame), luma(frame))
        for t, frame in batched_frames(str(clip), deblock=False)
    ]
    assert len(batched) == len(threaded) == 60  # batches of 16 at 640x480: the last one short
    for (t_a, grey_a, luma_a), (t_b, grey_b, luma_b) in zip(threaded, batched, strict=True):
        assert t_a == t_b
        assert grey_a.shape == (240, 320)
        assert np.array_equal(grey_a, grey_b)
        assert np.array_equal(luma_a, luma_b)


def test_scan_leaves_out_only_frames_the_busy_pace_holds(tmp_path):
    """scan makes no grey image of a frame the busy pace holds: its events are those of
    looking at every frame."""
    clip = write_clip(tmp_path / "busy.mp4", 12, [(2.0, 9.0)])
    settings = MotionConfig()
    finished: list[TrackedEvent] = []
    detector, tracker = MotionDetector(settings), EventTracker(settings, finished.append)
    paced = 0
    for t, grey, _ in grey_frames(str(clip), deblock=False):
        paced += detector.paced(t) is not None
        tracker.update(t, detector.update_looking(coarse_of(grey), grey, t))
    tracker.stop()
    assert paced >= 20  # the moving box keeps the scene busy for seconds
    assert len(finished) == 1
    assert scan(str(clip), settings) == [ScannedEvent.of(event) for event in finished]
