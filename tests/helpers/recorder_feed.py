"""Feeding an EventRecorder synthetic frames at 10 fps, with capture times and no real-time wait."""

from collections.abc import Callable

import numpy as np

from camwatch.frame import Frame
from camwatch.recording.recorder import EventRecorder
from tests.helpers.clips import frame_at, scene
from tests.helpers.support import wait_until

FPS = 10
# Frames a clip's writer may have waiting before the feed hands it the next one: a second of
# them, well below where a writer starts dropping frames (clip_writer.BACKLOG_SECONDS past the
# pre-roll burst). The feed runs as fast as the CPU allows, faster than a live camera; without
# this a writer thread starved on a loaded machine drops frames and the clips come out short.
MAX_WRITER_BACKLOG = FPS


def feed(
    recorder: EventRecorder,
    seconds: float,
    intervals,
    *,
    start_wall=1_700_000_000.0,
    offline_from: float | None = None,
    size=(320, 240),
    after_frame: Callable[[float], None] | None = None,
) -> None:
    """Frames at 10 fps with synthetic capture times (no real-time wait), each once the clip
    being written, if any, has fewer than MAX_WRITER_BACKLOG frames waiting; `after_frame`
    is called with each one's time once the recorder has it (to hand it sound, say)."""
    rng = np.random.default_rng(3)
    background = scene(*size)
    for i in range(round(seconds * FPS)):
        t = i / FPS
        online = offline_from is None or t < offline_from
        image = frame_at(background, t, intervals, rng)
        frame = Frame.from_image(
            image, i + 1, captured_at=start_wall + t, monotonic=t, online=online
        )
        wait_until(
            lambda: recorder.clips.backlog < MAX_WRITER_BACKLOG,
            timeout=60,
            interval=0.002,
            message="the clip writer to catch up",
        )
        recorder.on_frame(frame)
        if after_frame is not None:
            after_frame(t)
