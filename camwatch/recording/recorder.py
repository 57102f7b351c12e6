"""EventRecorder: per camera, frames become motion events: detection, tracking, pre-roll, clips."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from camwatch.capture.packets import EncodedPacket, StreamInfo, resized
from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.integrations.listeners import EventListener, Listeners
from camwatch.jpeg import JpegError
from camwatch.motion.timed import TimedDetector
from camwatch.motion.tracker import EventTracker, Step
from camwatch.recording.audio import recordable
from camwatch.recording.clip_writer import (
    DEFAULT_CRF,
    ClipFrame,
    ClipResult,
    ClipWriter,
)
from camwatch.recording.clips import EventClips, Writer
from camwatch.recording.index_writer import EventSink, IndexWriter
from camwatch.recording.library import RecordingLibrary
from camwatch.recording.packet_writer import PacketClipWriter
from camwatch.recording.pictures import JpegDecoder, luma
from camwatch.recording.preroll import AudioPreRoll, PacketBuffer, PreRollBuffer
from camwatch.recording.segments import RangeWriter

log = logging.getLogger(__name__)


class EventRecorder:
    """Runs motion detection and the event tracker on each frame (capture or decoder thread)
    and turns the tracker's steps into clips: `detection` (timed), `tracker`, `pre_roll` and
    `clips` (the clip life cycle, with its `index` writer) each own one part.

    When the camera sends a codec browsers play (H.264), its packets come in through
    `on_packet` (capture thread): `packets` holds them for the pre-roll and clips are those
    packets, copied; otherwise frames are encoded once."""

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
        crf: int = DEFAULT_CRF,
        library: RecordingLibrary | None = None,
    ) -> None:
        self.camera_name = camera_name
        self.crf = crf  # of clips encoded from frames
        # False in continuous mode: an event is a marked range of the segments, not a file
        self.keep_clips = keep_clips
        self.settings = settings
        self.fps_hint = fps_hint
        self.listeners: EventListener = listeners or Listeners()
        self._recordings_on = recordings_on
        # PyAV loads with the first clip
        self.library = library if library is not None else RecordingLibrary(camera_name)
        # motion of an event announced while recordings were off: no clip, only motion ON/OFF
        self._unrecorded_motion = False
        self.detection = TimedDetector(settings)
        # used on the capture thread only; made for the first clip of camera JPEGs (PyAV loads
        # then: a camera that records nothing never loads it)
        self._decoder: JpegDecoder | None = None
        self.tracker = EventTracker(settings)
        self.pre_roll = PreRollBuffer()
        self.sound_pre_roll = AudioPreRoll()  # sound beside encoded frames (a microphone)
        self.packets = PacketBuffer()
        self._video: StreamInfo | None = None  # the camera's streams, when it sends packets
        self._audio: StreamInfo | None = None
        self._split_pending = False  # the clip ends at the next video packet: a new size
        self._warned: set[str] = set()  # audio codecs already reported as not recordable
        self._lock = threading.RLock()  # frames and packets arrive on different threads
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
        # detection holds no state from earlier frames (reset, or never run): frames are
        # needed again only when it is switched on
        self._at_rest = True

    @property
    def recording(self) -> bool:
        return self.clips.recording

    @property
    def detect_seconds(self) -> float:
        return self.detection.seconds

    @property
    def detect_count(self) -> int:
        return self.detection.count

    @property
    def copies_packets(self) -> bool:
        """Clips are the camera's own packets (else frames encoded to H.264)."""
        return self.keep_clips and self._video is not None and self._video.browser_playable

    @property
    def records_audio(self) -> bool:
        return self.keep_clips and self._audio is not None

    # -- the camera's packets (capture thread) -----------------------------------------------

    def on_streams(self, video: StreamInfo | None, audio: StreamInfo | None) -> None:
        """The source (re)opened with these streams, or closed (None), or its video changed
        size in band (the same stream otherwise)."""
        with self._lock:
            if self._video is not None and video is not None and resized(self._video, video):
                self._resize(self._video, video)
                return
            if video != self._video and self.clips.recording:
                self._stop_event("the camera's stream changed")
            self._video = video
            self._audio = audio if audio is not None and recordable(audio) else None
            if audio is not None and self._audio is None and audio.codec not in self._warned:
                self._warned.add(audio.codec)
                log.warning(
                    "camera %s: its audio (%s) cannot be decoded; recording video only",
                    self.camera_name,
                    audio.codec,
                )
            self.packets.clear()

    def _resize(self, old: StreamInfo, video: StreamInfo) -> None:
        """A camera that changes resolution mid-stream: the clip so far is closed at the
        keyframe of the new size, and the next starts there, with its SPS/PPS."""
        if self.copies_packets and old.width:  # 0: the size was not declared before
            log.warning(
                "camera %s: resolution changed from %dx%d to %dx%d mid-stream",
                self.camera_name,
                old.width,
                old.height,
                video.width,
                video.height,
            )
        self._video = video
        self.packets.clear()  # the pre-roll of the old size: the new one starts here
        self._split_pending = self.clips.recording

    def on_packet(self, packet: EncodedPacket) -> None:
        with self._lock:
            if not packet.is_video and packet.stream != self._audio:
                self._adopt_audio(packet.stream)  # a microphone (audio_source) started
            if self.copies_packets:
                if self._split_pending and packet.is_video:
                    self._split_at(packet)
                self.packets.push(packet, self.settings.pre_roll_seconds)
                self.clips.submit_packet(packet)
            elif not packet.is_video and self._audio is not None:
                self._sound_for_frames(packet)

    def _split_at(self, packet: EncodedPacket) -> None:
        """The clip in progress ends before this packet (the first of the new size) and the
        next starts with it, confirmed if the first was."""
        self._split_pending = False
        if not self.clips.recording:
            return
        confirmed = self.clips.confirmed
        self.clips.end(motion_over=False)
        self.clips.start_packets(packet.captured_at, [])
        if confirmed:
            self.clips.confirm(announce_motion=False)

    def _sound_for_frames(self, packet: EncodedPacket) -> None:
        """Sound for the frames being encoded: into the clip in progress, else kept for the
        next one's pre-roll (as the frames are)."""
        self.clips.submit_packet(packet)  # and to the last clip, if it began before its end
        settings = self.settings
        if not self.clips.recording and settings.pre_roll_seconds > 0 and settings.enabled:
            self.sound_pre_roll.push(packet, self.settings.pre_roll_seconds)

    def _adopt_audio(self, audio: StreamInfo) -> None:
        if recordable(audio):
            self._audio = audio
        elif audio.codec not in self._warned:
            self._warned.add(audio.codec)
            log.warning("camera %s: cannot decode its audio (%s)", self.camera_name, audio.codec)

    def motion_foreground(self) -> np.ndarray | None:
        """What the detector counted as moving in the latest frame, for the motion view."""
        return self.detection.foreground

    # -- per frame (capture thread) -----------------------------------------------------------

    def wants_frames(self) -> bool:
        """Detection is on, or was switched off and has yet to see a frame to end its event
        and reset on (capture thread, per packet)."""
        return self.settings.enabled or not self._at_rest

    def on_frame(self, frame: Frame) -> None:
        if not frame.online or not self.settings.enabled:
            self._stop_event("camera offline" if not frame.online else "motion disabled")
            self.detection.reset()
            self._clear_pre_roll()
            self._at_rest = True
            return
        self._at_rest = False
        picture = self._picture_for_clip(frame)
        try:
            delta = self.detection.update(frame, None if picture is None else luma(picture))
        except JpegError:
            return  # a corrupt camera frame: skip it
        if self._on_delta is not None:
            self._on_delta(frame, delta)
        self.process(frame, delta, picture)

    @property
    def pictures_decoded(self) -> int:
        """Camera JPEGs decoded on the capture thread for the clip and detection both."""
        return 0 if self._decoder is None else self._decoder.decoded

    def _picture_for_clip(self, frame: Frame) -> av.VideoFrame | None:
        """While a clip is encoded from camera JPEGs and its writer keeps up, each JPEG is
        decoded once, here: the writer encodes that picture and detection shrinks its luma
        plane (instead of a decode of its own at 1/2 scale). None otherwise, and for a JPEG
        with errors: detection's own decode then decides whether it is usable, as before."""
        if not (self.keep_clips and JpegDecoder.decodes(frame) and self.clips.takes_pictures):
            return None
        assert frame.camera_jpeg is not None
        if self._decoder is None:
            self._decoder = JpegDecoder(strict=True)
        try:
            return self._decoder.picture(frame.camera_jpeg)
        except JpegError:
            return None

    def process(self, frame: Frame, delta: float, picture: av.VideoFrame | None = None) -> None:
        """Advance the state machine with one frame whose delta is known (`picture`: its
        camera JPEG decoded, for the clip)."""
        with self._lock:
            self._process(frame, delta, picture)

    def _process(self, frame: Frame, delta: float, picture: av.VideoFrame | None) -> None:
        self.clips.expire_sound(frame.monotonic)
        step = self.tracker.update(frame.monotonic, delta)
        if not self._recordings_on() or not self._can_record(step):
            self._track_without_recording(step)
            return
        if self._unrecorded_motion and self._resume_recording(frame, step, delta):
            return
        clips, copying = self.clips, self.copies_packets
        if not clips.recording and step not in (Step.START, Step.CONFIRM):
            if self.settings.pre_roll_seconds > 0 and not copying:
                self.pre_roll.push(ClipFrame.of(frame), self.settings.pre_roll_seconds)
            return
        clip_frame = None if copying else ClipFrame.of(frame, picture)
        if not clips.recording:
            self._start(frame, clip_frame, self.settings.pre_roll_seconds)
        elif step == Step.SPLIT:
            clips.end(motion_over=False)
            self._start(frame, clip_frame, 0.0)
        clips.write(clip_frame, delta, self.tracker.event, lambda: ClipFrame.of(frame))
        self._finish_step(step)

    def _can_record(self, step: Step) -> bool:
        """False once PyAV failed to load; asked (loading it) when a clip would start."""
        if self.library.unavailable is not None:
            return False
        starts = self._unrecorded_motion or step in (Step.START, Step.CONFIRM)
        return self.clips.recording or not starts or self.library.available()

    def _finish_step(self, step: Step) -> None:
        if step in (Step.CONFIRM, Step.SPLIT):
            self.clips.confirm(announce_motion=step == Step.CONFIRM)
        elif step == Step.END:
            self.clips.end(motion_over=True)
        elif step == Step.DISCARD:
            self.clips.discard()

    def _start(self, frame: Frame, clip_frame: ClipFrame | None, pre_roll_s: float) -> None:
        """A clip from `pre_roll_s` before `frame`: the camera's packets from the keyframe at
        or before then, or the frames kept (all of them with pre_roll_s > 0)."""
        if clip_frame is not None:
            frames = self.pre_roll.drain() if pre_roll_s else []
            # the sound before the clip's first frame is left out by its writer
            self.clips.start(clip_frame, frames, self.sound_pre_roll.drain())
            return
        packets = self.packets.since(frame.monotonic - pre_roll_s)
        log.debug(
            "camera %s: clip starts %.2f s before its trigger, on a keyframe",
            self.camera_name,
            frame.monotonic - packets[0].t if packets else 0.0,
        )
        self.clips.start_packets(frame.captured_at, packets)

    def _clear_pre_roll(self) -> None:
        self.pre_roll.clear()
        self.sound_pre_roll.clear()

    def _track_without_recording(self, step: Step) -> None:
        """Recordings off: motion is still announced (ON when an event is confirmed, OFF when
        it ends); nothing is written, indexed or kept in memory."""
        if self.clips.recording:  # switched off during a clip: close it, motion goes on
            if self.clips.confirmed:
                self.clips.end(motion_over=False)
                self._unrecorded_motion = True
            else:
                self.clips.discard()
        self._clear_pre_roll()
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
        clip_frame = None if self.copies_packets else ClipFrame.of(frame)
        self._start(frame, clip_frame, 0.0)
        self.clips.write(clip_frame, delta, self.tracker.event, lambda: ClipFrame.of(frame))
        self.clips.confirm(announce_motion=False)
        return True

    def _make_writer(self, path: Path, on_done: Callable[[ClipResult], None]) -> Writer:
        if self.copies_packets:
            assert self._video is not None
            return PacketClipWriter(path, on_done, video=self._video, audio=self._audio)
        if not self.keep_clips:
            return RangeWriter(
                path,
                on_done,
                fps_hint=self.fps_hint,
                pre_roll_seconds=self.settings.pre_roll_seconds,
            )
        return ClipWriter(
            path,
            on_done,
            fps_hint=self.fps_hint,
            pre_roll_seconds=self.settings.pre_roll_seconds,
            audio=self._audio,
            crf=self.crf,
        )

    def _stop_event(self, reason: str) -> None:
        with self._lock:
            self._stop_event_locked(reason)

    def _stop_event_locked(self, reason: str) -> None:
        if self._unrecorded_motion:
            self._unrecorded_motion = False
            self.listeners.motion_changed(self.camera_name, False)
        self.tracker.stop()
        if self.clips.recording:
            log.info("camera %s: ending event early: %s", self.camera_name, reason)
            if self.clips.confirmed:
                self.clips.end(motion_over=True)
            else:
                self.clips.discard()
        self.clips.finish_sound()  # no frames may come to time it out

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
