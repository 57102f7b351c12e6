"""The busy pace: in a scene that keeps changing the full model runs BUSY_FPS times a second,
the frames between repeat its delta without a decode, and the recorder's rules (significant
frames, the diff buffer) come out as at the full rate."""

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from camwatch import jpeg
from camwatch.config import MotionConfig
from camwatch.motion.detector import DETECT_WIDTH, MotionDetector, frame_delta
from camwatch.motion.pace import BUSY_FPS, BUSY_SECONDS, QUIET_FPS, QUIET_SECONDS, BusyPace
from camwatch.motion.tracker import EventTracker, Step, TrackedEvent
from tests.helpers.clips import frame_at, scene
from tests.helpers.fakes import CountedFrame

WIDTH, HEIGHT = 640, 480


def test_frames_are_held_only_once_busy_and_only_between_runs_at_the_pace():
    pace, t = BusyPace(), 0.0
    for _ in range(round(BUSY_SECONDS / 0.1) - 1):  # not yet busy
        assert pace.held(t) is None
        pace.ran(t, 0.1, 2.0)
        t += 0.1
    assert pace.held(t) is None
    pace.ran(t, 0.1, 3.5)  # busy from now on
    assert pace.held(t + 0.1) == 3.5
    assert pace.held(t + 1.0 / BUSY_FPS) is None  # due again
    assert pace.held(t - 0.1) is None  # time went back: look at it
    assert pace.held(None) is None  # frame times unknown: every frame
    pace.rested()  # a still frame (or the model started over): busy has to build up again
    assert pace.held(t + 0.1) is None


def test_a_busy_scene_where_nothing_is_counted_is_paced_slower_until_something_is():
    pace, t = BusyPace(), 0.0
    for _ in range(round(max(BUSY_SECONDS, QUIET_SECONDS) / 0.1)):  # trees sway, none counted
        pace.ran(t, 0.1, 0.0)
        t += 0.1
    t -= 0.1
    assert pace.held(t + 0.1) == pace.held(t + 1.0 / BUSY_FPS) == 0.0  # two frames of three
    assert pace.held(t + 1.0 / QUIET_FPS) is None
    t += 1.0 / QUIET_FPS
    pace.ran(t, 1.0 / QUIET_FPS, 0.05)  # something faint moves: the busy pace at once
    assert pace.held(t + 0.1) == 0.05
    assert pace.held(t + 1.0 / BUSY_FPS) is None
    for _ in range(round(QUIET_SECONDS * BUSY_FPS)):  # gone: the busy pace for QUIET_SECONDS
        t += 1.0 / BUSY_FPS
        assert pace.held(t + 1.0 / BUSY_FPS) is None
        pace.ran(t, 1.0 / BUSY_FPS, 0.0)
    assert pace.held(t + 1.0 / BUSY_FPS) == 0.0  # then the slower one again


@dataclass
class Camera:
    """640x480 camera JPEGs at `fps` of a box crossing during `intervals`, through frame_delta
    (the live path), with the full model on every frame beside it for reference."""

    fps: float = 10.0
    intervals: list[tuple[float, float]] = field(default_factory=list)
    paced: MotionDetector = field(default_factory=lambda: MotionDetector(MotionConfig()))
    every: MotionDetector = field(default_factory=lambda: MotionDetector(MotionConfig()))
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(4))
    background: np.ndarray = field(default_factory=lambda: scene(WIDTH, HEIGHT))
    frames: int = 0

    def run(self, seconds: float) -> list[tuple[float, float, float, bool, list[int]]]:
        """Per frame: (t, paced delta, full-rate delta, full model ran, grey decodes)."""
        rows = []
        for _ in range(round(seconds * self.fps)):
            t = self.frames / self.fps
            image = frame_at(self.background, t, self.intervals, self.rng, fps=self.fps)
            frame = CountedFrame.from_jpeg(jpeg.encode(image, 85), self.frames, WIDTH, HEIGHT)
            assert isinstance(frame, CountedFrame)
            steps = self.paced.steps
            delta = frame_delta(self.paced, frame, t)
            decodes = list(frame.grey_decodes)
            reference = self.every.update(frame.grey_small(DETECT_WIDTH), t)
            rows.append((t, delta, reference, self.paced.steps != steps, decodes))
            self.frames += 1
        return rows


def test_a_busy_scene_runs_the_model_at_the_pace_and_the_frames_between_hold_its_delta():
    camera = Camera(intervals=[(1.0, 9.0)])
    camera.run(1.0)  # still, warming up
    first = camera.run(BUSY_SECONDS)
    assert all(ran for _, _, _, ran, _ in first)  # every frame while it becomes busy
    busy = camera.run(4.0)
    runs = sum(ran for _, _, _, ran, _ in busy)
    assert abs(runs - 4.0 * BUSY_FPS) <= 1
    for previous, row in pairwise(busy):
        if not row[3]:
            assert row[1] == previous[1] > 0.5  # held: the last delta, moving
            assert row[4] == []  # and nothing decoded for it


def test_a_faster_camera_is_paced_to_the_same_model_rate():
    camera = Camera(fps=30.0, intervals=[(1.0, 9.0)])
    camera.run(1.0 + BUSY_SECONDS + 0.5)
    busy = camera.run(3.0)
    runs = sum(ran for _, _, _, ran, _ in busy)
    assert abs(runs - 3.0 * BUSY_FPS) <= 1


def events(rows, column):
    tracker, finished, ends = EventTracker(MotionConfig()), [], []
    tracker.on_finished = finished.append
    for row in rows:
        if tracker.update(row[0], row[column]) is Step.END:
            ends.append(row[0])
    return finished, ends


def test_the_recorder_keeps_and_ends_events_as_at_the_full_rate():
    """Two crossings, one long (paced for most of it) and one too short to be paced; stable
    for 2 s after each: the same events with the same starts, their significant frames and
    their ends (the tracker's END after stable_frames) within a frame or two."""
    camera = Camera(intervals=[(1.5, 7.5), (10.0, 10.8)])
    rows = camera.run(14.0)
    paced, paced_ends = events(rows, 1)
    full, full_ends = events(rows, 2)
    assert len(paced) == len(full) == 2
    assert sum(not ran for *_, ran, _ in rows) > 20  # the pace held frames
    frame_s = 1.0 / camera.fps
    for mine, reference in zip(paced, full, strict=True):
        assert isinstance(mine, TrackedEvent)
        # a still scene's glance may pass over the first frame (tests/test_look.py), not the pace
        assert abs(mine.first_motion_t - reference.first_motion_t) <= frame_s + 1e-9
        assert abs(mine.last_motion_t - reference.last_motion_t) <= frame_s + 1e-9
        assert abs(mine.motion_frames - reference.motion_frames) <= 2
    assert all(abs(a - b) <= frame_s + 1e-9 for a, b in zip(paced_ends, full_ends, strict=True))
