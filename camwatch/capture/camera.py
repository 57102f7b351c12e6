"""Camera: one configured camera at run time, wiring its capture thread to the hub and listeners."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from camwatch.capture.av_source import AvSource
from camwatch.capture.fmp4 import FragmentHub
from camwatch.capture.hub import Hub
from camwatch.capture.library_log import repeating_logger
from camwatch.capture.microphone import Microphone
from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.capture.redact import redact
from camwatch.capture.sources import FrameSource, SourceError, make_source, probe_webcam
from camwatch.capture.thread import (
    BACKOFF_MAX_S,
    BACKOFF_START_S,
    CaptureState,
    CaptureThread,
    Source,
    SourceFactory,
    demo_factory,
)
from camwatch.config import CameraConfig
from camwatch.frame import Frame

log = logging.getLogger(__name__)
per_frame_log = repeating_logger("camera")

FrameListener = Callable[[Frame], None]
PacketListener = Callable[[EncodedPacket], None]
StreamsListener = Callable[[StreamInfo | None, StreamInfo | None], None]
HISTORY_LENGTH = 1800  # a minute at 30 fps


def open_source(spec: str, config: CameraConfig, *, audio: bool | None = None) -> Source:
    """The source for a `source` value: RTSP and other FFmpeg URLs and video files are
    demuxed into packets; HTTP (MJPEG), V4L2 devices and the demo scene give frames."""
    is_device = spec.isdigit() or spec.startswith("/dev/video")
    if spec == "demo" or is_device or spec.startswith(("http://", "https://")):
        return make_source(
            spec,
            width=config.width,
            height=config.height,
            fps=config.fps,
            loop=config.loop,
            max_pixels=config.max_frame_pixels,
        )
    return AvSource(
        spec,
        loop=config.loop,
        # a separate microphone (audio_source) replaces the camera's own sound
        audio=(config.audio and not config.audio_source) if audio is None else audio,
        max_pixels=config.max_frame_pixels,
    )


def source_factory_for(config: CameraConfig) -> tuple[SourceFactory, SourceFactory | None]:
    """(factory, fallback) for a camera's source; `auto` falls back to the demo scene."""
    if config.source == "auto":

        def first_webcam() -> FrameSource:
            source = probe_webcam(config.width, config.height, config.fps)
            if source is None:
                raise SourceError("no V4L2 camera opened")
            return source

        return first_webcam, demo_factory(config.width, config.height, config.fps)
    return (lambda: open_source(config.source, config)), None


class MotionRecorder(Protocol):
    """What the server asks of the camera's recorder (the EventRecorder implements it)."""

    def motion_foreground(self) -> np.ndarray | None:
        """The pixels counted as moving in the latest frame (0/255), None before the first."""
        ...


@dataclass
class CameraStats:
    """Counters for /metrics, updated on the capture and writer threads (plain int/float adds)."""

    detect_seconds_total: float = 0.0
    detect_count: int = 0
    events_total: int = 0
    events_discarded: int = 0
    frames_recorded: int = 0
    frames_dropped_by_recorder: int = 0
    encode_seconds_total: float = 0.0
    bytes_recorded: int = 0


class Camera:
    """Owns the capture thread, the live hub and the per-frame listeners (motion, recorder)."""

    def __init__(
        self,
        config: CameraConfig,
        *,
        source_factory: SourceFactory | None = None,
        hub: Hub | None = None,
        backoff_start: float = BACKOFF_START_S,
        backoff_max: float = BACKOFF_MAX_S,
    ) -> None:
        self.config = config
        self.hub = hub or Hub(jpeg_quality=config.jpeg_quality)
        self.listeners: list[FrameListener] = []
        # who else needs the camera's pictures (detection, frame-encoded recording); with
        # none of them and no JPEG viewer, a packet camera's video is not decoded at all
        self.frame_demands: list[Callable[[], bool]] = []
        # who needs pictures someone will see besides the JPEG viewers (footage encoded from
        # frames); with none, the pictures are for detection only (decoded without the loop
        # filter)
        self.picture_demands: list[Callable[[], bool]] = []
        # live fMP4 of the camera's packets for MSE viewers (muxed only while one watches)
        self.fragments = FragmentHub()
        self.packet_listeners: list[PacketListener] = [self.fragments.on_packet]
        self.stream_listeners: list[StreamsListener] = [self.fragments.on_streams]
        self.latest_delta = 0.0
        # (wall-clock time, delta) for the last minute or so, for the UI's motion graph
        self.delta_history: deque[tuple[float, float]] = deque(maxlen=HISTORY_LENGTH)
        self.recording = False
        self.recording_error: str | None = None  # why this camera cannot record (PyAV broken)
        self.stats = CameraStats()
        self.recorder: MotionRecorder | None = None  # set when motion recording is wired in
        fallback: SourceFactory | None = None
        if source_factory is None and config.detect_source:
            source_factory = lambda: open_source(config.detect_source, config, audio=False)  # noqa: E731
        elif source_factory is None:
            source_factory, fallback = source_factory_for(config)
        self._capture = CaptureThread(
            config.name,
            source_factory,
            self._on_frame,
            width=config.width,
            height=config.height,
            demo_fallback=fallback,
            backoff_start=backoff_start,
            backoff_max=backoff_max,
            on_packet=None if config.detect_source else self._on_packet,
            on_streams=None if config.detect_source else self._on_streams,
            wants_frames=self._wants_frames,
            wants_pictures=self._wants_pictures,
        )
        # With detect_source, that stream (a substream) feeds detection and the JPEG views,
        # and `source` is only demuxed: its packets are recorded and streamed, never decoded.
        self._record_capture: CaptureThread | None = None
        if config.detect_source:
            self._record_capture = CaptureThread(
                f"{config.name} (recorded stream)",
                lambda: open_source(config.source, config),
                lambda frame: None,  # its offline placeholders: the detect stream shows its own
                backoff_start=backoff_start,
                backoff_max=backoff_max,
                on_packet=self._on_packet,
                on_streams=self._on_streams,
                decode_video=False,
            )

        self.microphone: Microphone | None = None
        if config.audio and config.audio_source:
            self.microphone = Microphone(config.name, config.audio_source, self._on_packet)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def state(self) -> CaptureState:
        """The capture of the frames: detection's and the live views' (see `streams`)."""
        return self._capture.state

    @property
    def streams(self) -> tuple[StreamInfo | None, StreamInfo | None]:
        """(video, audio) of the recorded stream, when its source sends packets."""
        state = self._capture.state if self._record_capture is None else self._record_capture.state
        return state.video, state.audio

    def start(self) -> None:
        self._capture.start()
        if self._record_capture is not None:
            self._record_capture.start()
        if self.microphone is not None:
            self.microphone.start()

    def stop(self) -> None:
        self._capture.stop()
        if self._record_capture is not None:
            self._record_capture.stop()
        if self.microphone is not None:
            self.microphone.stop()
        self.hub.close()
        self.fragments.close()

    def _wants_frames(self) -> bool:
        """Asked on the capture thread for each video packet: decode it or not."""
        wanted = self.hub.wants_frames or any(demand() for demand in self.frame_demands)
        self.hub.paused = not wanted
        return wanted

    def _wants_pictures(self) -> bool:
        """Asked on the capture thread at keyframes: will anyone see the pictures?"""
        return self.hub.wants_frames or any(demand() for demand in self.picture_demands)

    @property
    def frames_decoded(self) -> int:
        """Pictures decoded from the camera's packets since start (0 for frame sources)."""
        return self._capture.state.frames_decoded

    def _on_frame(self, frame: Frame) -> None:
        """Runs on the capture thread: listeners first (cheap), then the live hub. A listener
        that fails (a bug) costs neither the others nor the live view their frame."""
        for listener in self.listeners:
            try:
                listener(frame)
            except Exception:
                per_frame_log.exception("camera %s: %r failed on a frame", self.name, listener)
        self.hub.publish(frame)

    def _on_packet(self, packet: EncodedPacket) -> None:
        """Runs on the capture thread (and the microphone's) for each of the camera's packets,
        as it arrives; a listener that fails costs the others nothing."""
        for listener in self.packet_listeners:
            try:
                listener(packet)
            except Exception:
                per_frame_log.exception("camera %s: %r failed on a packet", self.name, listener)

    def _on_streams(self, video: StreamInfo | None, audio: StreamInfo | None) -> None:
        for listener in self.stream_listeners:
            listener(video, audio)

    @property
    def codec(self) -> str:
        """The live video codec: the camera's for packet sources, else what viewers get."""
        video = self.streams[0]
        if video is not None:
            return video.codec
        return "mjpeg"

    @property
    def records_audio(self) -> bool:
        """Audio goes into the clips: the camera's, or a microphone's that is delivering."""
        if self.microphone is not None:
            return self.microphone.stream is not None
        return self.config.audio and self.streams[1] is not None

    def record_delta(self, frame: Frame, delta: float) -> None:
        """Called by motion detection on the capture thread."""
        self.latest_delta = delta
        self.delta_history.append((frame.captured_at, delta))

    def describe(self) -> dict[str, object]:
        """The camera as `GET /api/cameras` shows it."""
        state = self.state
        return {
            "name": self.name,
            "source": redact(self.config.source),
            "source_description": redact(state.source_description),
            "online": state.online,
            "status": redact(state.message),
            "demo_fallback": state.demo_fallback,
            "width": state.width,
            "height": state.height,
            "fps": round(state.fps, 2),
            "delta": round(self.latest_delta, 3),
            "recording": self.recording,
            "recording_error": self.recording_error,
            "record": self.config.record,
            "viewers": self.hub.viewer_count,
            "codec": self.codec,
            "audio": self.records_audio,
            "motion": asdict(self.config.motion),
        }
