"""Continuous recording: every frame into fragmented MP4 segments; events mark ranges of them."""

from __future__ import annotations

import functools
import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from camwatch.frame import Frame
from camwatch.recording.clip_writer import ClipFrame, ClipResult, ClipWriter
from camwatch.recording.segment_index import SegmentRecord, SegmentStore, segment_path
from camwatch.recording.thumbnails import write_thumbnail

log = logging.getLogger(__name__)


class RangeWriter(ClipWriter):
    """An event's "clip" in continuous mode: frames are counted and the thumbnail written, but
    no video file is made, the footage is already in the segments (no second copy)."""

    _range_aborted = False

    def submit(self, frame: ClipFrame) -> bool:
        if self._closed:
            return False
        if self.result.first_captured_at is None:
            self.result.first_captured_at = frame.captured_at
        self.result.frames += 1
        self.result.last_captured_at = frame.captured_at
        return True

    def abort(self) -> None:
        self._range_aborted = True
        super().abort()

    def run(self) -> None:
        """Only thumbnails come through the queue; anything else is the end."""
        while True:
            item = self._queue.get()
            frame, path = getattr(item, "frame", None), getattr(item, "path", None)
            if not isinstance(frame, ClipFrame) or not isinstance(path, Path):
                break
            path.parent.mkdir(parents=True, exist_ok=True)
            self._try(functools.partial(write_thumbnail, frame.bgr(), path))
        self.result.aborted = self._range_aborted
        self._try(lambda: self._on_done(self.result))


class SegmentRecorder:
    """Per camera, on the capture thread: frames go to the current segment's writer; a new
    segment starts (on a keyframe: each file's first frame is one) every segment_seconds.
    The row is written when a segment opens and updated when its file is closed."""

    def __init__(
        self,
        camera: str,
        data_dir: Path,
        store: SegmentStore,
        *,
        segment_seconds: float,
        fps_hint: float = 10.0,
        on_closed: Callable[[ClipResult], None] | None = None,
        recordings_on: Callable[[], bool] = lambda: True,
    ) -> None:
        self.camera = camera
        self.data_dir = Path(data_dir)
        self.store = store
        self.segment_seconds = segment_seconds
        self.fps_hint = fps_hint
        self._on_closed = on_closed
        self._writer: ClipWriter | None = None
        self._record: SegmentRecord | None = None
        self._writers: set[ClipWriter] = set()
        self._lock = threading.Lock()
        self._recordings_on = recordings_on  # switched off (MQTT): no footage is written

    def on_frame(self, frame: Frame) -> None:
        if not frame.online or not self._recordings_on():
            self._close_segment()
            return
        if self._record is None or frame.captured_at - self._record.started_at >= (
            self.segment_seconds
        ):
            self._close_segment()
            self._open_segment(frame)
        assert self._writer is not None
        self._writer.submit(ClipFrame.of(frame))

    def _open_segment(self, frame: Frame) -> None:
        segment_id = secrets.token_hex(6)
        path = segment_path(self.data_dir, self.camera, frame.captured_at, segment_id)
        record = SegmentRecord(
            id=segment_id,
            camera=self.camera,
            started_at=frame.captured_at,
            ended_at=frame.captured_at,
            path=str(path.relative_to(self.data_dir)),
        )
        try:
            self.store.put(record)
        except Exception as e:  # a full disk: reconcile indexes the file at the next start
            log.error("segment %s: cannot write to the index: %s", segment_id, e)
        writer = ClipWriter(path, lambda result: self._closed(record, writer, result),
                            fps_hint=self.fps_hint)  # fmt: skip
        with self._lock:
            self._writers.add(writer)
        writer.start()
        self._writer, self._record = writer, record

    def _close_segment(self) -> None:
        if self._writer is not None:
            self._writer.finish()
        self._writer = self._record = None

    def _closed(self, record: SegmentRecord, writer: ClipWriter, result: ClipResult) -> None:
        """On the writer's thread, once the file is closed."""
        with self._lock:
            self._writers.discard(writer)
        if result.first_captured_at is not None:
            record.started_at = result.first_captured_at
        record.ended_at = result.last_captured_at or record.started_at
        record.size_bytes = result.size_bytes
        record.status = "truncated" if result.error else "complete"
        try:
            if result.frames == 0:
                self.store.delete(record)
            else:
                self.store.put(record)
        except Exception as e:
            log.error("segment %s: cannot update the index: %s", record.id, e)
        if self._on_closed is not None:
            self._on_closed(result)

    def close(self, timeout: float = 10.0) -> None:
        """Finish the segment in progress and wait for the writers to close their files."""
        self._close_segment()
        deadline = time.monotonic() + timeout
        with self._lock:
            writers = list(self._writers)
        for writer in writers:
            writer.join(max(0.0, deadline - time.monotonic()))
