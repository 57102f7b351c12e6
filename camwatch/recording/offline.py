"""Events of a video file recorded as clips, as live (`camwatch scan --record`)."""

from __future__ import annotations

import time
from pathlib import Path

from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.look import coarse_of
from camwatch.motion.scan import ScannedEvent, file_fps, grey_frames
from camwatch.motion.tracker import TrackedEvent
from camwatch.recording.index import EventStore
from camwatch.recording.recorder import EventRecorder


def record_file(path: str, settings: MotionConfig, record_dir: Path) -> list[ScannedEvent]:
    """Scan the file and write each event's clip, thumbnail and index row under record_dir."""
    finished: list[TrackedEvent] = []
    camera = "".join(c if c.isalnum() or c in "_-" else "_" for c in Path(path).stem.lower())
    recorder = EventRecorder(
        camera[:32] or "scan", settings, record_dir, EventStore(record_dir), fps_hint=file_fps(path)
    )
    recorder.tracker.on_finished = finished.append
    wall_start = time.time()
    for seq, (t, grey, video_frame) in enumerate(grey_frames(path)):
        image = video_frame.to_ndarray(format="bgr24")
        frame = Frame.from_image(image, seq, captured_at=wall_start + t, monotonic=t)
        delta = recorder.detection.detector.update_looking(coarse_of(grey), grey, t)
        recorder.process(frame, delta)
    recorder.close(timeout=600)
    return [ScannedEvent.of(event) for event in finished]
