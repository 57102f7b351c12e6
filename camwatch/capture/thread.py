"""One thread per camera: read the newest frame, reconnect with backoff, placeholder offline."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from camwatch.capture.av_source import PacketSource
from camwatch.capture.decoder import PacketDecoder
from camwatch.capture.library_log import repeating_logger
from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.capture.redact import redact
from camwatch.capture.sources import DemoSource, EndOfStream, FrameSource, SourceError
from camwatch.deferred import MissingLibrary
from camwatch.frame import Frame, Picture

log = logging.getLogger(__name__)
per_frame_log = repeating_logger("capture")

Source = FrameSource | PacketSource
SourceFactory = Callable[[], Source]
FrameCallback = Callable[[Frame], None]
PacketCallback = Callable[[EncodedPacket], None]
StreamsCallback = Callable[[StreamInfo | None, StreamInfo | None], None]

BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
PLACEHOLDER_INTERVAL_S = 1.0
# A source that drops us within this many seconds, more than BRIEF_RETRIES times in a row, is
# retried with backoff like one that does not open (a stream ending after a few frames).
BRIEF_RUN_S = 5.0
BRIEF_RETRIES = 2


@dataclass
class CaptureState:
    """What the capture thread knows about its source, read by the API (GIL-atomic fields)."""

    online: bool = False
    message: str = "starting"
    source_description: str = ""
    demo_fallback: bool = False
    frames_captured: int = 0
    frames_failed: int = 0
    fps: float = 0.0
    width: int = 0
    height: int = 0
    last_frame_at: float = 0.0
    # pictures decoded from the camera's packets, and whether decoding is paused right now
    # because nobody needs pixels (no detection, no JPEG viewer, no snapshot)
    frames_decoded: int = 0
    decoding_paused: bool = False
    _intervals: list[float] = field(default_factory=list, repr=False)

    video: StreamInfo | None = None  # the camera's encoded streams, for packet sources
    audio: StreamInfo | None = None

    def count_frame(self, frame: Frame) -> None:
        self.count(frame.monotonic, frame.width, frame.height)

    def count(self, monotonic: float, width: int, height: int) -> None:
        if self.last_frame_at:
            self._intervals.append(monotonic - self.last_frame_at)
            del self._intervals[:-20]
            mean = sum(self._intervals) / len(self._intervals)
            self.fps = 1.0 / mean if mean > 0 else 0.0
        self.last_frame_at = monotonic
        self.frames_captured += 1
        self.width, self.height = width, height


def placeholder_image(width: int, height: int, lines: list[str]) -> np.ndarray:
    """A dark frame that says why there is no picture, with the time so viewers see it is live."""
    image = np.full((height, width, 3), 32, np.uint8)
    scale = max(0.5, height / 720)
    for i, text in enumerate([*lines, time.strftime("%Y-%m-%d %H:%M:%S")]):
        y = int(height / 2 + (i - len(lines) / 2) * 44 * scale)
        cv2.putText(
            image,
            text,
            (int(30 * scale), y),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.0 * scale,
            (200, 200, 200),
            max(1, int(2 * scale)),
            cv2.LINE_AA,
        )
    return image


class CaptureThread(threading.Thread):
    """Opens the source, reads frames as they come and hands each to `on_frame`.

    A PacketSource's packets go to `on_packet` as they arrive; its video is decoded for
    `on_frame` on a PacketDecoder thread (camera JPEG is passed on undecoded), unless
    `decode_video` is off (another stream feeds detection and the JPEG views), and only while
    `wants_frames()` says someone needs pixels: otherwise the packets are only counted and
    decoding resumes at the next keyframe once it is true again. While `wants_pictures()` is
    false (asked at keyframes) the pictures are for detection only and are decoded without the
    loop filter (PacketDecoder).

    On failure it closes the source, shows a placeholder once a second and retries with
    backoff (1 s doubling to 30 s), logging once per change of state, never per frame.
    """

    def __init__(
        self,
        name: str,
        source_factory: SourceFactory,
        on_frame: FrameCallback,
        *,
        width: int = 1280,
        height: int = 720,
        demo_fallback: SourceFactory | None = None,
        backoff_start: float = BACKOFF_START_S,
        backoff_max: float = BACKOFF_MAX_S,
        on_packet: PacketCallback | None = None,
        on_streams: StreamsCallback | None = None,
        decode_video: bool = True,
        wants_frames: Callable[[], bool] = lambda: True,
        wants_pictures: Callable[[], bool] = lambda: True,
    ) -> None:
        super().__init__(name=f"capture-{name}", daemon=True)
        self._wants_frames = wants_frames
        self._wants_pictures = wants_pictures
        self._on_packet = on_packet
        self._on_streams = on_streams
        self._decode_video = decode_video
        self.camera_name = name
        self._source_factory = source_factory
        self._demo_fallback = demo_fallback
        self._on_frame = on_frame
        self._placeholder_size = (width or 1280, height or 720)
        self._backoff_start, self._backoff_max = backoff_start, backoff_max
        self._stopping = threading.Event()
        self._seq = 0
        self._reported_offline = False
        self.state = CaptureState()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        backoff = self._backoff_start
        brief_runs = 0  # runs in a row that delivered frames but ended within BRIEF_RUN_S
        while not self._stopping.is_set():
            source = self._open()
            if source is None:
                self._wait_offline(backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            frames_before, opened_at = self.state.frames_captured, time.monotonic()
            ended = self._stream(source)
            self._close(source)
            brief = time.monotonic() - opened_at < BRIEF_RUN_S
            brief_runs = brief_runs + 1 if brief else 0
            if ended:
                self._wait_offline(None)
            elif self.state.frames_captured > frames_before and brief_runs <= BRIEF_RETRIES:
                backoff = self._backoff_start  # it worked for a while: retry at once
            else:  # gave nothing, or keeps dropping us: back off, or it would flap (and log)
                self._wait_offline(backoff)
                backoff = min(backoff * 2, self._backoff_max)

    def _open(self) -> Source | None:
        try:
            source = self._source_factory()
            source.open()
        except SourceError as e:
            if self._demo_fallback is not None:
                log.warning(
                    "camera %s: no webcam found (%s); showing the demo scene instead",
                    self.camera_name,
                    e,
                )
                self.state.demo_fallback = True
                self._source_factory, self._demo_fallback = self._demo_fallback, None
                return self._open()
            self._set_offline(str(e))
            return None
        except MissingLibrary as e:  # PyAV, for RTSP and files: installing it is the fix
            self._set_offline(str(e), retrying=False)
            return None
        except Exception as e:
            self._set_offline(f"unexpected error: {e!r}", exc_info=True)
            return None
        self.state.source_description = source.description
        return source

    def _close(self, source: Source) -> None:
        try:
            source.close()
        except Exception:
            log.exception("camera %s: error closing %s", self.camera_name, source.description)

    def _stream(self, source: Source) -> bool:
        """Read until the source fails or we stop; True if a file ended for good."""
        if isinstance(source, PacketSource):
            return self._stream_packets(source)
        while not self._stopping.is_set():
            try:
                picture = source.read()
            except EndOfStream as e:
                self._set_offline(str(e), retrying=False)
                return True
            except SourceError as e:
                self.state.frames_failed += 1
                self._set_offline(str(e))
                return False
            except Exception as e:
                self.state.frames_failed += 1
                self._set_offline(f"unexpected error: {e!r}", exc_info=True)
                return False
            self._deliver(picture)
        return False

    def _stream_packets(self, source: PacketSource) -> bool:
        """Pass packets on as they come; decode video for detection on a thread of its own."""
        self._set_streams(source.video, source.audio)
        video = source.video
        decoder: PacketDecoder | None = None
        if self._decode_video and video is not None and video.codec != "mjpeg":
            decoder = PacketDecoder(
                self.camera_name,
                video,
                self._deliver_decoded,
                source.max_pixels,
                faithful=self._wants_pictures(),
            )
            decoder.start()
        failure: SourceError | None = None
        try:
            while not self._stopping.is_set():
                try:
                    packet = source.read_packet()
                except SourceError as e:
                    failure = e
                    break
                self._deliver_packet(packet, decoder)
                if decoder is not None and decoder.failure is not None:
                    failure = SourceError(f"{source.description}: {decoder.failure}")
                    break
        finally:
            if decoder is not None:  # stopped first: no frame may mark us online again
                decoder.stop()
            self.state.decoding_paused = False
            self._set_streams(None, None)
        if isinstance(failure, EndOfStream):
            self._set_offline(str(failure), retrying=False)
            return True
        if failure is not None:
            self.state.frames_failed += 1
            self._set_offline(str(failure))
        return False

    def _set_streams(self, video: StreamInfo | None, audio: StreamInfo | None) -> None:
        self.state.video, self.state.audio = video, audio
        if self._on_streams is not None:
            self._on_streams(video, audio)

    def _deliver_packet(self, packet: EncodedPacket, decoder: PacketDecoder | None) -> None:
        if packet.is_video:
            if self.state.video is not None and packet.stream is not self.state.video:
                self._set_streams(packet.stream, self.state.audio)  # a new size, in band
            self._deliver_video(packet, decoder)
        if self._on_packet is not None:
            try:
                self._on_packet(packet)
            except Exception:  # a bug downstream must not kill the camera
                per_frame_log.exception("camera %s: error processing a packet", self.camera_name)

    def _deliver_video(self, packet: EncodedPacket, decoder: PacketDecoder | None) -> None:
        if decoder is not None:
            paused = not self._wants_frames()
            self.state.decoding_paused = paused
            if paused:
                decoder.pause()
            elif decoder.submit(packet, faithful=packet.keyframe and self._wants_pictures()):
                return  # counted when decoded
        elif self._decode_video:  # the camera's JPEG: viewers get it as is, detection scales
            self._deliver(
                Picture.of_jpeg(
                    packet.data,
                    packet.stream.width,
                    packet.stream.height,
                    captured_at=packet.captured_at,
                    monotonic=packet.t,
                )
            )
            return
        # not decoded (frames come from elsewhere, nobody needs them, or waiting for a
        # keyframe): the camera is still online at its rate
        self._mark_online(packet.stream.width, packet.stream.height)
        self.state.count(packet.t, packet.stream.width, packet.stream.height)

    def _deliver_decoded(self, picture: Picture) -> None:
        if not self._stopping.is_set():
            self.state.frames_decoded += 1
            self._deliver(picture)

    def _mark_online(self, width: int, height: int) -> None:
        if self.state.online:
            return
        self._reported_offline = False
        self.state.online = True
        self.state.message = "online"
        log.info(
            "camera %s: online (%s, %dx%d)",
            self.camera_name,
            self.state.source_description,
            width,
            height,
        )

    def _deliver(self, picture: Picture) -> None:
        self._mark_online(picture.width, picture.height)
        self._seq += 1
        frame = Frame.of(picture, self._seq)
        self.state.count_frame(frame)
        try:
            self._on_frame(frame)
        except Exception:  # a bug downstream must not kill the camera
            per_frame_log.exception(
                "camera %s: error processing frame %d", self.camera_name, frame.seq
            )

    def _set_offline(self, reason: str, *, exc_info: bool = False, retrying: bool = True) -> None:
        reason = redact(reason)  # errors may quote the source, password and all
        if self.state.online or not self._reported_offline:
            self._reported_offline = True
            log.warning(
                "camera %s: offline: %s%s",
                self.camera_name,
                reason,
                "; retrying" if retrying else "",
                exc_info=exc_info,
            )
        self.state.online = False
        self.state.message = reason
        self.state.fps = 0.0
        self.state.last_frame_at = 0.0

    def placeholder_lines(self) -> list[str]:
        """The text of the offline picture every viewer sees."""
        return [f"{self.camera_name}: offline", redact(self.state.message)[:60]]

    def _wait_offline(self, seconds: float | None) -> None:
        """Show the placeholder once a second for `seconds` (None: until stopped)."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self._stopping.is_set():
            self._seq += 1
            width, height = (
                (self.state.width, self.state.height)
                if self.state.width
                else self._placeholder_size
            )
            image = placeholder_image(width, height, self.placeholder_lines())
            frame = Frame.from_image(image, self._seq, online=False)
            try:
                self._on_frame(frame)
            except Exception:
                per_frame_log.exception("camera %s: error processing placeholder", self.camera_name)
            remaining = PLACEHOLDER_INTERVAL_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stopping.wait(min(PLACEHOLDER_INTERVAL_S, remaining))


def demo_factory(width: int, height: int, fps: float) -> SourceFactory:
    return lambda: DemoSource(width, height, fps)
