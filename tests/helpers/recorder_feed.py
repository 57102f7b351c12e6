"""Feeding an EventRecorder synthetic frames at 10 fps, with capture times and no real-time wait."""

import numpy as np

from camwatch.frame import Frame
from camwatch.recording.recorder import EventRecorder
from tests.helpers.clips import frame_at, scene

FPS = 10


def feed(
    recorder: EventRecorder,
    seconds: float,
    intervals,
    *,
    start_wall=1_700_000_000.0,
    offline_from: float | None = None,
    size=(320, 240),
) -> None:
    """Frames at 10 fps with synthetic capture times (no real-time wait)."""
    rng = np.random.default_rng(3)
    background = scene(*size)
    for i in range(round(seconds * FPS)):
        t = i / FPS
        online = offline_from is None or t < offline_from
        image = frame_at(background, t, intervals, rng)
        frame = Frame.from_image(
            image, i + 1, captured_at=start_wall + t, monotonic=t, online=online
        )
        recorder.on_frame(frame)
