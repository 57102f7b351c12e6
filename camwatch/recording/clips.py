"""EventClips: the clip life cycle of one camera's events: start, confirm, end or discard."""

from __future__ import annotations

import heapq
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from camwatch.capture.packets import EncodedPacket
from camwatch.integrations.listeners import EventListener
from camwatch.motion.tracker import TrackedEvent
from camwatch.recording.clip_writer import ClipFrame, ClipResult, ClipWriter
from camwatch.recording.index import EventRecord
from camwatch.recording.index_writer import IndexWriter
from camwatch.recording.packet_writer import PacketClipWriter
from camwatch.recording.paths import clip_paths
from camwatch.recording.sound_tail import SoundTail

log = logging.getLogger(__name__)

Writer = ClipWriter | PacketClipWriter
WriterFactory = Callable[[Path, Callable[[ClipResult], None]], Writer]


class _Clip:
    """One clip being written: its writer, its index record and the best frame for a thumbnail."""

    def __init__(
        self,
        record: EventRecord,
        video: Path,
        thumbnail: Path,
        writer_factory: WriterFactory,
        on_done: Callable[[_Clip, ClipResult], None],
    ) -> None:
        self.record = record
        self.writer = writer_factory(video, lambda result: on_done(self, result))
        self.thumbnail = thumbnail
        self.best_delta = -1.0
        self.best_frame: ClipFrame | None = None
        self.confirmed = False  # enough motion frames: kept and announced
        self.row_written = False  # its row made it into the index


class EventClips:
    """At most one clip in progress (capture thread); each is encoded on its own writer
    thread. A confirmed clip is indexed and announced to the listeners; once its writer has
    closed the file its row is completed (or dropped if nothing reached the disk)."""

    def __init__(
        self,
        camera_name: str,
        data_dir: Path,
        index: IndexWriter,
        listeners: EventListener,
        writer_factory: WriterFactory,
        *,
        on_recording: Callable[[bool], None] | None = None,
        on_clip_closed: Callable[[ClipResult], None] | None = None,
        keep_files: bool = True,
    ) -> None:
        self.camera_name = camera_name
        self.keep_files = keep_files  # False: the footage is in continuous segments
        self.data_dir = data_dir
        self.index = index
        self.listeners = listeners
        self.writer_factory = writer_factory
        self._on_recording = on_recording
        self._on_clip_closed = on_clip_closed
        self._clip: _Clip | None = None
        self._sound_tail = SoundTail()  # the last clip of frames, taking its late sound
        self._writers: set[Writer] = set()
        self._writers_lock = threading.Lock()

    @property
    def recording(self) -> bool:
        return self._clip is not None

    @property
    def takes_pictures(self) -> bool:
        """A clip of frames is being written and its writer takes the next one decoded."""
        clip = self._clip
        return (
            clip is not None and isinstance(clip.writer, ClipWriter) and clip.writer.takes_pictures
        )

    @property
    def backlog(self) -> int:
        """Frames waiting in the writer of the clip in progress (ClipWriter.backlog); 0 without
        one, or for a clip of the camera's packets."""
        clip = self._clip
        return (
            clip.writer.backlog if clip is not None and isinstance(clip.writer, ClipWriter) else 0
        )

    @property
    def confirmed(self) -> bool:
        return self._clip is not None and self._clip.confirmed

    # -- capture thread --------------------------------------------------------------------------

    def start(
        self,
        trigger: ClipFrame,
        pre_roll: list[ClipFrame],
        sound: list[EncodedPacket] | None = None,
    ) -> None:
        """A clip of frames (encoded by its writer) from the pre-roll on, with the sound kept
        beside them: both handed over in capture order, so the writer places the sound from
        the clip's first frame on."""
        first = pre_roll[0] if pre_roll else trigger
        writer = self._open(first.captured_at)
        assert isinstance(writer, ClipWriter)
        timed: Iterable[ClipFrame | EncodedPacket] = heapq.merge(
            pre_roll, sound or [], key=lambda item: item.t
        )
        for item in timed:
            if isinstance(item, ClipFrame):
                writer.submit(item)
            else:
                writer.submit_audio(item)

    def start_packets(self, started_at: float, packets: list[EncodedPacket]) -> None:
        """A clip of the camera's own packets, from the first (a keyframe) on."""
        writer = self._open(packets[0].captured_at if packets else started_at)
        assert isinstance(writer, PacketClipWriter)
        for packet in packets:
            writer.submit(packet)

    def submit_packet(self, packet: EncodedPacket) -> None:
        """A packet as it arrives (capture thread), into the clip in progress: the camera's
        packets for a packet clip, the sound for a clip of frames; sound also into the last
        clip of frames if it was captured before that clip's end (SoundTail)."""
        if not packet.is_video:
            self._sound_tail.offer(packet)
        clip = self._clip
        if clip is not None and isinstance(clip.writer, PacketClipWriter):
            clip.writer.submit(packet)
        elif clip is not None and isinstance(clip.writer, ClipWriter) and not packet.is_video:
            clip.writer.submit_audio(packet)

    def _open(self, started_at: float) -> Writer:
        event_id = secrets.token_hex(6)
        video, thumbnail = clip_paths(self.data_dir, self.camera_name, started_at, event_id)
        record = EventRecord(
            id=event_id,
            camera=self.camera_name,
            started_at=started_at,
            ended_at=None,
            frames=0,
            motion_frames=0,
            peak_delta=0.0,
            video_path=str(video.relative_to(self.data_dir)) if self.keep_files else "",
            thumbnail_path=str(thumbnail.relative_to(self.data_dir)),
        )
        clip = _Clip(record, video, thumbnail, self.writer_factory, self._writer_done)
        with self._writers_lock:
            self._writers.add(clip.writer)
        clip.writer.start()
        self._clip = clip
        if self._on_recording is not None:
            self._on_recording(True)
        return clip.writer

    def write(
        self,
        frame: ClipFrame | None,
        delta: float,
        event: TrackedEvent | None,
        picture: Callable[[], ClipFrame] | None = None,
    ) -> None:
        """Queue a frame of the clip (None when the clip is the camera's packets; `picture`
        then makes the thumbnail's frame, only when it is the best so far); the event's
        counts so far go into its record."""
        clip = self._clip
        assert clip is not None
        if frame is not None and isinstance(clip.writer, ClipWriter):
            clip.writer.submit(frame)
        if delta > clip.best_delta:
            best = frame if frame is not None else picture() if picture is not None else None
            clip.best_delta, clip.best_frame = delta, None if best is None else best.kept()
        if event is not None:
            clip.record.motion_frames = event.motion_frames
            clip.record.peak_delta = event.peak_delta

    def confirm(self, *, announce_motion: bool = True) -> None:
        clip = self._clip
        assert clip is not None
        clip.confirmed = True
        # as it will be: a clip cut off by a crash keeps what its row said (reconcile)
        clip.record.has_audio = getattr(clip.writer, "audio", None) is not None
        if clip.best_frame is not None:
            clip.writer.thumbnail(clip.best_frame, clip.thumbnail)
        clip.row_written = self.index.write(clip.record, new=True)  # if not, the end adds it
        if announce_motion:
            self.listeners.motion_changed(self.camera_name, True)
        self.listeners.event_started(clip.record)

    def end(self, *, motion_over: bool) -> None:
        clip, self._clip = self._clip, None
        if clip is None:
            return
        if clip.best_frame is not None and clip.confirmed:
            clip.writer.thumbnail(clip.best_frame, clip.thumbnail)
        writer = clip.writer
        if isinstance(writer, ClipWriter) and writer.audio and writer.pictures_until is not None:
            self._sound_tail.hold(writer, writer.pictures_until)
        else:
            writer.finish()
        if motion_over and clip.confirmed:
            self.listeners.motion_changed(self.camera_name, False)
        if self._on_recording is not None:
            self._on_recording(False)

    def expire_sound(self, now: float) -> None:
        """Close the last clip's file once its late sound can no longer come (SoundTail)."""
        self._sound_tail.expire(now)

    def finish_sound(self) -> None:
        """Close the last clip's file now, without the sound still to come."""
        self._sound_tail.finish()

    def discard(self) -> None:
        clip, self._clip = self._clip, None
        if clip is None:
            return
        clip.writer.abort()
        if self._on_recording is not None:
            self._on_recording(False)

    # -- writer thread ---------------------------------------------------------------------------

    def _writer_done(self, clip: _Clip, result: ClipResult) -> None:
        """Called on the writer's thread once its file is closed."""
        try:
            self._settle(clip, result)
        finally:
            # only now: `join` must not return while the row, the files or the announcement
            # of this clip are still being done
            with self._writers_lock:
                self._writers.discard(clip.writer)

    def _settle(self, clip: _Clip, result: ClipResult) -> None:
        if self._on_clip_closed is not None:
            self._on_clip_closed(result)
        if result.aborted or not clip.confirmed:
            return
        record = clip.record
        record.frames = result.frames
        record.ended_at = result.last_captured_at or record.started_at
        record.size_bytes = result.size_bytes
        record.status = "truncated" if result.error else "complete"
        record.has_audio = result.audio_packets > 0
        if result.error and result.frames == 0:
            self._forget(clip)  # nothing reached the disk (it was full): no empty clip listed
        else:
            self.index.write(record, new=not clip.row_written)
        self.listeners.event_ended(record)

    def _forget(self, clip: _Clip) -> None:
        try:
            self.index.delete(clip.record.id)  # a row that failed to go in must not be retried
            for path in (clip.writer.path, clip.thumbnail):
                path.unlink(missing_ok=True)
        except Exception as e:
            log.error("event %s: cannot remove its empty clip: %s", clip.record.id, e)

    # -- shutdown ----------------------------------------------------------------------------------

    def join(self, timeout: float) -> None:
        """Wait up to `timeout` seconds in all for the writers to close their files."""
        deadline = time.monotonic() + timeout
        with self._writers_lock:
            writers = list(self._writers)
        for writer in writers:
            writer.join(max(0.0, deadline - time.monotonic()))
