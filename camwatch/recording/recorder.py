"""EventRecorder: per camera, frames become motion events: detection, tracking, pre-roll, clips."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.integrations.listeners import EventListener, Listeners
from camwatch.jpeg import JpegError
from camwatch.motion.timed import TimedDetector
from camwatch.motion.tracker import EventTracker, Step
from camwatch.recording.clip_writer import ClipFrame, ClipResult, ClipWriter
from camwatch.recording.clips import EventClips
from camwatch.recording.index_writer import EventSink, IndexWriter
from camwatch.recording.segments import RangeWriter

log = logging.getLogger(__name__)


class PreRollBuffer:
    """The last `seconds` of frames, sized in time rather than in frames."""

    def __init__(self) -> None:
        self._frames: deque[ClipFrame] = deque()

    def push(self, frame: ClipFrame, seconds: float) -> None:
        self._frames.append(frame)
        while self._frames and self._frames[0].t < frame.t - seconds:
            self._frames.popleft()

    def drain(self) -> list[ClipFrame]:
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def clear(self) -> None:
        self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)


class EventRecorder:
    """Runs motion detection and the event tracker on each frame (capture thread) and turns
    the tracker's steps into clips: `detection` (timed), `tracker`, `pre_roll` and `clips`
    (the clip life cycle, with its `index` writer) each own one part."""

    def __init__(
        self,
        camera_name: str,
        settings: MotionConfig,
        data_dir: Path,
        store: EventSink | None = None,
        listeners: EventListener | None = None,
        *,
        fps_hint: float = 10.0,
        recordings_on: Callable[[], bool] = lambda: True,
        on_delta: Callable[[Frame, float], None] | None = None,
        on_recording: Callable[[bool], None] | None = None,
        on_clip_closed: Callable[[ClipResult], None] | None = None,
        keep_clips: bool = True,
    ) -> None:
        self.camera_name = camera_name
        # False in continuous mode: an event is a marked range of the segments, not a file
        self.keep_clips = keep_clips
        self.settings = settings
        self.fps_hint = fps_hint
        self.listeners: EventListener = listeners or Listeners()
        self._recordings_on = recordings_on
        # motion of an event announced while recordings were off: no clip, only motion ON/OFF
        self._unrecorded_motion = False
        self.detection = TimedDetector(settings)
        self.tracker = EventTracker(settings)
        self.pre_roll = PreRollBuffer()
        self.index = IndexWriter(store)
        self.clips = EventClips(
            camera_name,
            Path(data_dir),
            self.index,
            self.listeners,
            self._make_writer,
            on_recording=on_recording,
            on_clip_closed=on_clip_closed,
            keep_files=keep_clips,
        )
        self._on_delta = on_delta

    @property
    def recording(self) -> bool:
        return self.clips.recording

    @property
    def detect_seconds(self) -> float:
        return self.detection.seconds

    @property
    def detect_count(self) -> int:
        return self.detection.count

    def motion_foreground(self) -> np.ndarray | None:
        """What the detector counted as moving in the latest frame, for the motion view."""
        return self.detection.foreground

    # -- per frame (capture thread) -----------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        if not frame.online or not self.settings.enabled:
            self._stop_event("camera offline" if not frame.online else "motion disabled")
            self.detection.reset()
            self.pre_roll.clear()
            return
        try:
            delta = self.detection.update(frame)
        except JpegError:
            return  # a corrupt camera frame: skip it
        if self._on_delta is not None:
            self._on_delta(frame, delta)
        self.process(frame, delta)

    def process(self, frame: Frame, delta: float) -> None:
        """Advance the state machine with one frame whose delta is known."""
        step = self.tracker.update(frame.monotonic, delta)
        if not self._recordings_on():
            self._track_without_recording(step)
            return
        if self._unrecorded_motion and self._resume_recording(frame, step, delta):
            return
        clips = self.clips
        if not clips.recording and step not in (Step.START, Step.CONFIRM):
            if self.settings.pre_roll_seconds > 0:
                self.pre_roll.push(ClipFrame.of(frame), self.settings.pre_roll_seconds)
            return
        clip_frame = ClipFrame.of(frame)
        if not clips.recording:
            clips.start(clip_frame, pre_roll=self.pre_roll.drain())
        elif step == Step.SPLIT:
            clips.end(motion_over=False)
            clips.start(clip_frame, pre_roll=[])
        clips.write(clip_frame, delta, self.tracker.event)
        if step in (Step.CONFIRM, Step.SPLIT):
            clips.confirm(announce_motion=step == Step.CONFIRM)
        elif step == Step.END:
            clips.end(motion_over=True)
        elif step == Step.DISCARD:
            clips.discard()

    def _track_without_recording(self, step: Step) -> None:
        """Recordings off: motion is still announced (ON when an event is confirmed, OFF when
        it ends); nothing is written, indexed or kept in memory."""
        if self.clips.recording:  # switched off during a clip: close it, motion goes on
            if self.clips.confirmed:
                self.clips.end(motion_over=False)
                self._unrecorded_motion = True
            else:
                self.clips.discard()
        self.pre_roll.clear()
        if step == Step.CONFIRM and not self._unrecorded_motion:
            self._unrecorded_motion = True
            self.listeners.motion_changed(self.camera_name, True)
        elif step == Step.END and self._unrecorded_motion:
            self._unrecorded_motion = False
            self.listeners.motion_changed(self.camera_name, False)

    def _resume_recording(self, frame: Frame, step: Step, delta: float) -> bool:
        """Recordings switched on during an announced event: record the rest of it as a kept
        clip (motion is already ON). False when the event is over and the frame is ordinary."""
        self._unrecorded_motion = False
        if step == Step.END or self.tracker.event is None:
            self.listeners.motion_changed(self.camera_name, False)
            return False
        clip_frame = ClipFrame.of(frame)
        self.clips.start(clip_frame, pre_roll=[])
        self.clips.write(clip_frame, delta, self.tracker.event)
        self.clips.confirm(announce_motion=False)
        return True

    def _make_writer(self, path: Path, on_done: Callable[[ClipResult], None]) -> ClipWriter:
        writer = ClipWriter if self.keep_clips else RangeWriter
        return writer(
            path, on_done, fps_hint=self.fps_hint, pre_roll_seconds=self.settings.pre_roll_seconds
        )

    def _stop_event(self, reason: str) -> None:
        if self._unrecorded_motion:
            self._unrecorded_motion = False
            self.listeners.motion_changed(self.camera_name, False)
        self.tracker.stop()
        if not self.clips.recording:
            return
        log.info("camera %s: ending event early: %s", self.camera_name, reason)
        if self.clips.confirmed:
            self.clips.end(motion_over=True)
        else:
            self.clips.discard()

    # -- shutdown ----------------------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> None:
        """Finish the clip in progress (index it if confirmed) and wait for writers to close."""
        self._stop_event("shutting down")
        self.clips.join(timeout)
        if self.index.store is not None and self.index.pending:
            self.index.retry()
            if self.index.pending:
                log.warning(
                    "camera %s: %d event(s) could not be written to the index; the "
                    "next start repairs them",
                    self.camera_name,
                    self.index.pending,
                )
