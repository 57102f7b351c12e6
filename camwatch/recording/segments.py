"""Continuous recording: every frame into fragmented MP4 segments; events mark ranges of them."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from camwatch.capture.packets import EncodedPacket, StreamInfo, resized
from camwatch.frame import Frame
from camwatch.recording.audio import recordable
from camwatch.recording.clip_writer import DEFAULT_CRF, ClipFrame, ClipResult, ClipWriter
from camwatch.recording.library import RecordingLibrary
from camwatch.recording.packet_writer import PacketClipWriter
from camwatch.recording.segment_index import (
    SegmentRecord,
    SegmentRows,
    SegmentStore,
    segment_path,
)
from camwatch.recording.sound_tail import SoundTail
from camwatch.recording.thumbnails import Thumbnail

log = logging.getLogger(__name__)


class RangeWriter(ClipWriter):
    """An event's "clip" in continuous mode: frames are counted and the thumbnail written, but
    no video file is made, the footage is already in the segments (no second copy)."""

    _range_aborted = False

    @property
    def takes_pictures(self) -> bool:
        return False  # no video is written: nothing to decode

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
        while isinstance(item := self._queue.get(), Thumbnail):
            self._try(item.write)
        self.result.aborted = self._range_aborted
        self._try(lambda: self._on_done(self.result))


class _Span:
    """The camera timestamps of a segment's first and last video packets."""

    def __init__(self) -> None:
        self.first: EncodedPacket | None = None
        self.last: EncodedPacket | None = None

    def add(self, packet: EncodedPacket) -> None:
        if self.first is None:
            self.first = packet
        self.last = packet

    @property
    def seconds(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return float((self.last.pts - self.first.pts) * self.first.stream.time_base)


class SegmentRecorder:
    """Per camera, on the capture thread: everything the camera sends goes to the current
    segment's writer; a new segment starts every segment_seconds, on a keyframe. For an H.264
    camera those are its own packets, copied (PacketClipWriter), and a segment begins at the
    first keyframe past segment_seconds; for other cameras the frames are encoded once
    (ClipWriter, whose first frame is a keyframe). The row is written when a segment opens
    and updated when its file is closed."""

    def __init__(
        self,
        camera: str,
        data_dir: Path,
        store: SegmentStore,
        *,
        segment_seconds: float,
        fps_hint: float = 10.0,
        crf: int = DEFAULT_CRF,
        on_closed: Callable[[ClipResult], None] | None = None,
        recordings_on: Callable[[], bool] = lambda: True,
        library: RecordingLibrary | None = None,
    ) -> None:
        self.camera = camera
        self.crf = crf  # of segments encoded from frames
        self.data_dir = Path(data_dir)
        self.store = store
        self.rows = SegmentRows(store, camera)
        self.segment_seconds = segment_seconds
        self.fps_hint = fps_hint
        self._on_closed = on_closed
        self._writer: ClipWriter | PacketClipWriter | None = None
        self._record: SegmentRecord | None = None
        self._writers: set[ClipWriter | PacketClipWriter] = set()
        self._lock = threading.Lock()
        self._streams_lock = threading.RLock()  # packets and frames come on different threads
        self._video: StreamInfo | None = None
        self._audio: StreamInfo | None = None
        self._unrecordable: set[str] = set()  # audio codecs nothing decodes
        self._sizes_seen: set[tuple[int, int]] = set()  # sizes switched to, logged once each
        self._span = _Span()
        self._tail = SoundTail()  # the last segment of frames, taking its late sound
        self._recordings_on = recordings_on  # switched off (MQTT): no footage is written
        # PyAV loads with the first segment
        self.library = library if library is not None else RecordingLibrary(camera)

    @property
    def copies_packets(self) -> bool:
        return self._video is not None and self._video.browser_playable

    def wants_frames(self) -> bool:
        """Footage encoded from frames (a codec browsers do not play) needs them decoded."""
        return self._video is not None and not self.copies_packets

    def on_streams(self, video: StreamInfo | None, audio: StreamInfo | None) -> None:
        """The source (re)opened with these streams, or closed: a new segment follows."""
        with self._streams_lock:
            if self._video is not None and video is not None and resized(self._video, video):
                self._log_resize(self._video, video)
            if video != self._video:
                self._close_segment()
            self._video = video
            self._audio = audio if audio is not None and recordable(audio) else None

    def on_packet(self, packet: EncodedPacket) -> None:
        with self._streams_lock:
            if not self._recordings_on():
                return
            if not packet.is_video and packet.stream is not self._audio:
                self._adopt_audio(packet.stream)
            if not self.copies_packets:
                if not packet.is_video:
                    self._sound_for_frames(packet)
                return
            if packet.is_video and packet.keyframe and self._due(packet.captured_at):
                self._close_segment()
                self._open_segment(packet.captured_at)
            writer = self._writer
            if isinstance(writer, PacketClipWriter) and writer.submit(packet) and packet.is_video:
                self._span.add(packet)

    def _log_resize(self, old: StreamInfo, video: StreamInfo) -> None:
        """The camera's H.264 switched size in band (its SPS, announced by the source): the
        segment so far is closed and the next starts at the keyframe of the new size, with
        its SPS/PPS, so each file has one size, as its header says."""
        size = (video.width, video.height)
        if self._writer is None or size in self._sizes_seen:
            return  # nothing written at the size the stream declared, or said before
        self._sizes_seen.add(size)
        log.warning(
            "camera %s: resolution changed from %dx%d to %dx%d mid-stream; a new segment",
            self.camera,
            old.width,
            old.height,
            *size,
        )

    def _adopt_audio(self, audio: StreamInfo) -> None:
        """A microphone (audio_source) started: its sound goes in from the next segment."""
        if audio == self._audio or audio.codec in self._unrecordable:
            return
        if recordable(audio):
            self._audio = audio
        else:
            self._unrecordable.add(audio.codec)  # asked once, not per packet

    def on_frame(self, frame: Frame) -> None:
        with self._streams_lock:
            if not frame.online or not self._recordings_on():
                self._close_segment()
                return
            if self.copies_packets:
                return  # the packets are the footage
            self._tail.expire(frame.monotonic)
            if self._due(frame.captured_at):
                self._close_segment(sound_until=frame.monotonic)
                if not self.library.available():
                    return
                self._open_segment(frame.captured_at)
            if isinstance(self._writer, ClipWriter):
                self._writer.submit(ClipFrame.of(frame))

    def _due(self, captured_at: float) -> bool:
        record = self._record
        return record is None or captured_at - record.started_at >= self.segment_seconds

    def _open_segment(self, started_at: float) -> None:
        segment_id = secrets.token_hex(6)
        path = segment_path(self.data_dir, self.camera, started_at, segment_id)
        record = SegmentRecord(
            id=segment_id,
            camera=self.camera,
            started_at=started_at,
            ended_at=started_at,
            path=str(path.relative_to(self.data_dir)),
        )
        self.rows.put(record)
        writer: ClipWriter | PacketClipWriter

        def done(result: ClipResult) -> None:
            self._closed(record, writer, result, record_span)

        span = self._span = _Span()
        if self.copies_packets:
            assert self._video is not None
            writer = PacketClipWriter(path, done, video=self._video, audio=self._audio)
            record_span = span
        else:
            record_span = None
            writer = ClipWriter(path, done, fps_hint=self.fps_hint, crf=self.crf, audio=self._audio)
        with self._lock:
            self._writers.add(writer)
        writer.start()
        self._writer, self._record = writer, record

    def _close_segment(self, sound_until: float | None = None) -> None:
        """Finish the segment; one of frames with sound goes on taking the sound from before
        `sound_until` (the next one's first frame), for a while (SoundTail)."""
        with self._streams_lock:
            self._tail.finish()
            writer = self._writer
            if isinstance(writer, ClipWriter) and writer.audio and sound_until is not None:
                self._tail.hold(writer, sound_until)
            elif writer is not None:
                writer.finish()
            self._writer = self._record = None

    def _sound_for_frames(self, packet: EncodedPacket) -> None:
        """Sound beside encoded frames, placed by capture time: what began before the current
        segment's first frame also goes to the one before (it arrives once its last sample
        has: later than the frames beside it), and every packet to the current one, which
        keeps what is from its first frame on."""
        self._tail.offer(packet)
        if isinstance(self._writer, ClipWriter):
            self._writer.submit_audio(packet)

    def _closed(
        self,
        record: SegmentRecord,
        writer: ClipWriter | PacketClipWriter,
        result: ClipResult,
        span: _Span | None,
    ) -> None:
        """On the writer's thread, once the file is closed."""
        try:
            self._settle(record, result, span)
        finally:  # only now: `close` must not return while the segment's row is being put
            with self._lock:
                self._writers.discard(writer)

    def _settle(self, record: SegmentRecord, result: ClipResult, span: _Span | None) -> None:
        if result.first_captured_at is not None:
            record.started_at = result.first_captured_at
        record.ended_at = result.last_captured_at or record.started_at
        if span is not None and span.seconds is not None:
            # Placed by its end, on the camera's clock: the capture times of the first packets
            # after connecting run late until the clock's offset settles, and a segment's
            # start must agree with the timestamps inside it and with its neighbours.
            record.started_at = record.ended_at - span.seconds
        record.size_bytes = result.size_bytes
        record.has_audio = result.audio_packets > 0
        record.status = "truncated" if result.error else "complete"
        if result.frames == 0:
            self.rows.delete(record)
        else:
            self.rows.put(record)
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
        self.rows.retry()  # what is still kept then, reconcile finds at the next start
