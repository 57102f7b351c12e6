"""EventRecorder: per camera, frames become motion events: pre-roll, clips, thumbnails, index."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.integrations.listeners import EventListener, Listeners
from camwatch.jpeg import JpegError
from camwatch.motion.detector import DETECT_WIDTH, MotionDetector
from camwatch.motion.tracker import EventTracker, Step
from camwatch.recording.clip_writer import ClipFrame, ClipResult, ClipWriter
from camwatch.recording.index import EventRecord
from camwatch.recording.paths import clip_paths

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where finished and confirmed events are indexed (EventStore implements it)."""

    def add(self, record: EventRecord) -> None: ...
    def update(self, record: EventRecord) -> None: ...
    def delete(self, event_id: str) -> bool: ...


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


class _Clip:
    """One clip being written: its writer, its index record and the best frame for a thumbnail."""

    def __init__(
        self,
        record: EventRecord,
        video: Path,
        thumbnail: Path,
        writer_factory: Callable[[Path, Callable[[ClipResult], None]], ClipWriter],
        on_done: Callable[[_Clip, ClipResult], None],
    ) -> None:
        self.record = record
        self.writer = writer_factory(video, lambda result: on_done(self, result))
        self.thumbnail = thumbnail
        self.best_delta = -1.0
        self.best_frame: ClipFrame | None = None
        self.confirmed = False  # enough motion frames: kept and announced
        self.row_written = False  # its row made it into the index


class EventRecorder:
    """Runs motion detection and the event state machine on each frame (capture thread).

    Clips are encoded on their own writer thread; the index is updated when an event has enough
    motion frames (confirmed) and again when its clip is closed.
    """

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
    ) -> None:
        self.camera_name = camera_name
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.store = store
        self.listeners: EventListener = listeners or Listeners()
        self.fps_hint = fps_hint
        self._recordings_on = recordings_on
        # motion of an event announced while recordings were off: no clip, only motion ON/OFF
        self._unrecorded_motion = False
        self.detector = MotionDetector(settings)
        self.tracker = EventTracker(settings)
        self.pre_roll = PreRollBuffer()
        self._on_delta = on_delta
        self._on_recording = on_recording
        self._on_clip_closed = on_clip_closed
        self._clip: _Clip | None = None
        self._writers: set[ClipWriter] = set()
        self._writers_lock = threading.Lock()
        self._pending: dict[str, tuple[EventRecord, bool]] = {}  # index writes to try again
        self.detect_seconds = 0.0
        self.detect_count = 0

    @property
    def recording(self) -> bool:
        return self._clip is not None

    def motion_foreground(self) -> np.ndarray | None:
        """What the detector counted as moving in the latest frame, for the motion view."""
        return self.detector.foreground

    # -- per frame (capture thread) -----------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        if not frame.online or not self.settings.enabled:
            self._stop_event("camera offline" if not frame.online else "motion disabled")
            self.detector.reset()
            self.pre_roll.clear()
            return
        started = time.perf_counter()
        try:
            delta = self.detector.update(frame.grey_small(DETECT_WIDTH), frame.monotonic)
        except JpegError:
            return  # a corrupt camera frame: skip it
        self.detect_seconds += time.perf_counter() - started
        self.detect_count += 1
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
        if self._clip is None and step not in (Step.START, Step.CONFIRM):
            if self.settings.pre_roll_seconds > 0:
                self.pre_roll.push(ClipFrame.of(frame), self.settings.pre_roll_seconds)
            return
        clip_frame = ClipFrame.of(frame)
        if self._clip is None:
            self._start_clip(clip_frame, pre_roll=self.pre_roll.drain())
        elif step == Step.SPLIT:
            self._end_clip(motion_over=False)
            self._start_clip(clip_frame, pre_roll=[])
        clip = self._clip
        assert clip is not None
        self._write(clip, clip_frame, delta)
        if step in (Step.CONFIRM, Step.SPLIT):
            self._confirm(clip, announce_motion=step == Step.CONFIRM)
        elif step == Step.END:
            self._end_clip(motion_over=True)
        elif step == Step.DISCARD:
            self._discard_clip()

    def _track_without_recording(self, step: Step) -> None:
        """Recordings off: motion is still announced (ON when an event is confirmed, OFF when
        it ends); nothing is written, indexed or kept in memory."""
        if self._clip is not None:  # switched off during a clip: close it, motion goes on
            if self._clip.confirmed:
                self._end_clip(motion_over=False)
                self._unrecorded_motion = True
            else:
                self._discard_clip()
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
        self._start_clip(clip_frame, pre_roll=[])
        clip = self._clip
        assert clip is not None
        self._write(clip, clip_frame, delta)
        self._confirm(clip, announce_motion=False)
        return True

    # -- clip life cycle -------------------------------------------------------------------------

    def _start_clip(self, trigger: ClipFrame | None, pre_roll: list[ClipFrame]) -> None:
        assert trigger is not None
        first = pre_roll[0] if pre_roll else trigger
        event_id = secrets.token_hex(6)
        video, thumbnail = clip_paths(self.data_dir, self.camera_name, first.captured_at, event_id)
        record = EventRecord(
            id=event_id,
            camera=self.camera_name,
            started_at=first.captured_at,
            ended_at=None,
            frames=0,
            motion_frames=0,
            peak_delta=0.0,
            video_path=str(video.relative_to(self.data_dir)),
            thumbnail_path=str(thumbnail.relative_to(self.data_dir)),
        )
        clip = _Clip(record, video, thumbnail, self._make_writer, self._writer_done)
        with self._writers_lock:
            self._writers.add(clip.writer)
        clip.writer.start()
        self._clip = clip
        for frame in pre_roll:
            clip.writer.submit(frame)
        if self._on_recording is not None:
            self._on_recording(True)

    def _make_writer(self, path: Path, on_done: Callable[[ClipResult], None]) -> ClipWriter:
        return ClipWriter(
            path, on_done, fps_hint=self.fps_hint, pre_roll_seconds=self.settings.pre_roll_seconds
        )

    def _write(self, clip: _Clip, frame: ClipFrame, delta: float) -> None:
        clip.writer.submit(frame)
        event = self.tracker.event
        if delta > clip.best_delta:
            clip.best_delta, clip.best_frame = delta, frame
        if event is not None:
            clip.record.motion_frames = event.motion_frames
            clip.record.peak_delta = event.peak_delta

    def _confirm(self, clip: _Clip, *, announce_motion: bool = True) -> None:
        clip.confirmed = True
        if clip.best_frame is not None:
            clip.writer.thumbnail(clip.best_frame, clip.thumbnail)
        clip.row_written = self._index(clip.record, new=True)  # if not, the clip's end adds it
        if announce_motion:
            self.listeners.motion_changed(self.camera_name, True)
        self.listeners.event_started(clip.record)

    def _end_clip(self, *, motion_over: bool) -> None:
        clip, self._clip = self._clip, None
        if clip is None:
            return
        if clip.best_frame is not None and clip.confirmed:
            clip.writer.thumbnail(clip.best_frame, clip.thumbnail)
        clip.writer.finish()
        if motion_over and clip.confirmed:
            self.listeners.motion_changed(self.camera_name, False)
        if self._on_recording is not None:
            self._on_recording(False)

    def _discard_clip(self) -> None:
        clip, self._clip = self._clip, None
        if clip is None:
            return
        clip.writer.abort()
        if self._on_recording is not None:
            self._on_recording(False)

    def _stop_event(self, reason: str) -> None:
        if self._unrecorded_motion:
            self._unrecorded_motion = False
            self.listeners.motion_changed(self.camera_name, False)
        if self._clip is None:
            self.tracker.stop()
            return
        log.info("camera %s: ending event early: %s", self.camera_name, reason)
        self.tracker.stop()
        if self._clip.confirmed:
            self._end_clip(motion_over=True)
        else:
            self._discard_clip()

    # -- writer thread ---------------------------------------------------------------------------

    def _writer_done(self, clip: _Clip, result: ClipResult) -> None:
        """Called on the writer's thread once its file is closed."""
        with self._writers_lock:
            self._writers.discard(clip.writer)
        if self._on_clip_closed is not None:
            self._on_clip_closed(result)
        if result.aborted or not clip.confirmed:
            return
        record = clip.record
        record.frames = result.frames
        record.ended_at = result.last_captured_at or record.started_at
        record.size_bytes = result.size_bytes
        record.status = "truncated" if result.error else "complete"
        if result.error and result.frames == 0:
            self._forget(clip)  # nothing reached the disk (it was full): no empty clip listed
        else:
            self._index(record, new=not clip.row_written)
        self.listeners.event_ended(record)

    def _index(self, record: EventRecord, *, new: bool) -> bool:
        """Add or update the row; a failure (disk full, say) is logged, never raised into the
        capture or writer thread, and the write is tried again with the next one (the
        restart's reconcile repairs whatever still could not be written)."""
        if self.store is None:
            return False
        self._retry_pending()
        with self._writers_lock:
            earlier = self._pending.pop(record.id, None)
        new = new or (earlier is not None and earlier[1])
        if self._store_write(record, new=new):
            return True
        with self._writers_lock:
            self._pending[record.id] = (record, new)
        return False

    def _retry_pending(self) -> None:
        with self._writers_lock:
            pending, self._pending = self._pending, {}
        for record, new in pending.values():
            if not self._store_write(record, new=new, quiet=True):
                with self._writers_lock:
                    self._pending.setdefault(record.id, (record, new))

    def _store_write(self, record: EventRecord, *, new: bool, quiet: bool = False) -> bool:
        assert self.store is not None
        try:
            if new:
                self.store.add(record)
            else:
                self.store.update(record)
        except Exception as e:
            if not quiet:
                log.error("event %s: cannot write to the event index: %s", record.id, e)
            return False
        return True

    def _forget(self, clip: _Clip) -> None:
        try:
            if clip.row_written and self.store is not None:
                self.store.delete(clip.record.id)
            for path in (clip.writer.path, clip.thumbnail):
                path.unlink(missing_ok=True)
        except Exception as e:
            log.error("event %s: cannot remove its empty clip: %s", clip.record.id, e)

    # -- shutdown ----------------------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> None:
        """Finish the clip in progress (index it if confirmed) and wait for writers to close."""
        self._stop_event("shutting down")
        deadline = time.monotonic() + timeout
        with self._writers_lock:
            writers = list(self._writers)
        for writer in writers:
            writer.join(max(0.0, deadline - time.monotonic()))
        if self.store is not None and self._pending:
            self._retry_pending()
            if self._pending:
                log.warning(
                    "camera %s: %d event(s) could not be written to the index; the "
                    "next start repairs them",
                    self.camera_name,
                    len(self._pending),
                )
