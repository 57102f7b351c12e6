"""EventTracker: the original semantics of threshold, diff buffer and minimum motion frames."""

import pytest

from camwatch.config import MotionConfig
from camwatch.motion.tracker import EventTracker, Step


def run(deltas, **settings):
    finished = []
    tracker = EventTracker(MotionConfig(**settings), finished.append)
    steps = [tracker.update(i * 0.1, d) for i, d in enumerate(deltas)]
    return steps, finished, tracker


def test_event_starts_on_first_significant_frame_and_ends_after_stable_buffer():
    deltas = [0.0] * 3 + [1.0] * 6 + [0.0] * 20 + [0.0] * 5
    steps, finished, tracker = run(deltas, stable_frames=20, min_motion_frames=5)
    assert steps[3] == Step.START
    assert steps[7] == Step.CONFIRM  # fifth significant frame
    assert steps.index(Step.END) == 8 + 20  # twenty quiet frames after the last motion
    [event] = finished
    assert event.motion_frames == 6
    assert (event.first_motion_t, event.last_motion_t) == pytest.approx((0.3, 0.8))
    assert not tracker.active


def test_threshold_is_strict_and_a_quiet_frame_inside_the_buffer_does_not_end_it():
    deltas = [0.5, 0.3, 0.5, 0.3, 0.5, 0.5, 0.5] + [0.3] * 3 + [0.9] + [0.0] * 20
    steps, finished, _ = run(deltas, threshold=0.3, stable_frames=4)
    assert steps[0] == Step.START and steps[1] == Step.NONE
    assert steps.count(Step.END) == 1 and finished[0].motion_frames == 6


def test_fewer_than_min_motion_frames_is_discarded():
    steps, finished, _ = run([1.0, 1.0] + [0.0] * 25)
    assert Step.DISCARD in steps and finished == []


def test_max_event_seconds_splits():
    steps, _finished, tracker = run([1.0] * 120, max_event_seconds=5.0)
    assert steps.count(Step.SPLIT) == 2  # at 5 s and 10 s of a 12 s event
    assert tracker.active and tracker.event.confirmed
