"""PacketDecoder: a thread decoding a camera's video packets into frames for detection and JPEG."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np

from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.frame import MAX_FRAME_PIXELS, FrameTooLarge, Picture, Planes, check_frame_size

log = logging.getLogger(__name__)

# Pictures only detection looks at: without the deblocking filter (and bit-exactness), about
# 30% less decoding; the events found are the same (bench/scan_decode_check.py). Pictures that
# people see (JPEG viewers, snapshots, footage encoded from frames) keep it: each P-frame is
# predicted from unfiltered references, so the error grows over the GOP (a 2 s GOP at 10 fps:
# PSNR from 49 dB at the keyframe down to 40 dB before the next).
DETECTION_DECODE_OPTIONS = {"skip_loop_filter": "all", "flags2": "+fast"}
FAITHFUL_DECODE_OPTIONS: dict[str, str] = {}
QUEUE_PACKETS = 30  # a few seconds at camera rates; beyond that we skip to the next keyframe
_STOP = object()


@dataclass(frozen=True)
class _Reopen:
    """Before a keyframe: decode from it on with (faithful) or without the loop filter, in a
    new codec context (also after a pause: frames held for reordering are dropped)."""

    faithful: bool


class PacketDecoder(threading.Thread):
    """Decodes video packets on its own thread (FFmpeg releases the GIL while it decodes), so
    neither the demuxer nor the event loop waits on it. Each picture becomes a Picture holding
    its I420 planes (a Picture); `deliver` is called on this thread.

    When it falls behind, queued packets are dropped up to the next keyframe (a P-frame
    without its reference would only decode to garbage), logged once. `pause` stops decoding
    (nobody needs pixels) the same way: the next `submit` starts again at a keyframe.

    `submit(packet, faithful=False)` says the pictures are for detection only: from the next
    keyframe on they are decoded without the loop filter, and with it again from the keyframe
    after `faithful` turns true (a new codec context at a keyframe: nothing refers back past it).
    """

    def __init__(
        self,
        name: str,
        stream: StreamInfo,
        deliver: Callable[[Picture], None],
        max_pixels: int = MAX_FRAME_PIXELS,
        *,
        faithful: bool = True,
    ) -> None:
        super().__init__(name=f"decode-{name}", daemon=True)
        self.camera_name = name
        self.stream = stream
        self._deliver = deliver
        self._queue: queue.Queue[object] = queue.Queue(maxsize=QUEUE_PACKETS)
        self._waiting_for_keyframe = True
        self._warned_behind = False
        self._warned_error = False
        self.frames_decoded = 0
        self.packets_skipped = 0
        self.max_pixels = max_pixels
        self.failure: str | None = None  # the stream declared frames past max_pixels
        self.faithful = faithful  # the mode decoded in (decode thread); _queued: as submitted
        self._queued_faithful = faithful
        self._codec = self._open_codec(faithful)
        self._times: dict[int, tuple[float, float]] = {}  # pts -> capture times, for reordering

    def _open_codec(self, faithful: bool) -> av.VideoCodecContext:
        codec = av.CodecContext.create(self.stream.codec, "r")
        if not isinstance(codec, av.VideoCodecContext):
            raise ValueError(f"{self.stream.codec} is not a video codec")
        if self.stream.extradata:
            codec.extradata = self.stream.extradata
        # One decoding thread: the least CPU in all (frame threads add work and a frame of
        # latency); the decoder runs beside the demuxer and the event loop anyway.
        codec.thread_count = 1
        # FFmpeg refuses much larger pictures before allocating them, whatever the codec (it
        # checks padded sizes: MPEG-4 needs 1.6x at 320x240); ours is checked on each picture
        ffmpeg_limit = 2 * self.max_pixels + (1 << 20)
        mode = FAITHFUL_DECODE_OPTIONS if faithful else DETECTION_DECODE_OPTIONS
        codec.options = {**mode, "max_pixels": str(ffmpeg_limit)}
        return codec

    def submit(self, packet: EncodedPacket, *, faithful: bool = True) -> bool:
        """Queue a packet (capture thread); never blocks. False if it is not decoded (waiting
        for a keyframe, or behind). `faithful` (read at keyframes only): someone will see the
        pictures (see above)."""
        if self._waiting_for_keyframe:
            if not packet.keyframe:
                self.packets_skipped += 1
                return False
            self._waiting_for_keyframe = False
            reopen = True
        else:
            reopen = packet.keyframe and faithful != self._queued_faithful
        if reopen and not self._reopen_at(faithful):
            return False
        return self._put(packet)

    def _reopen_at(self, faithful: bool) -> bool:
        self._queued_faithful = faithful
        return self._put(_Reopen(faithful))

    def pause(self) -> None:
        """Decode nothing more until a keyframe comes with `submit` (capture thread)."""
        self._waiting_for_keyframe = True

    def _put(self, item: object) -> bool:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._fall_behind()
            return False
        return True

    def _fall_behind(self) -> None:
        if not self._warned_behind:
            self._warned_behind = True
            log.warning(
                "camera %s: decoding for detection is falling behind; skipping to keyframes",
                self.camera_name,
            )
        while True:
            try:
                self._queue.get_nowait()
                self.packets_skipped += 1
            except queue.Empty:
                break
        self._waiting_for_keyframe = True

    def stop(self, timeout: float = 5.0) -> None:
        while True:
            try:
                self._queue.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                self._drain()
        if self.is_alive():
            self.join(timeout)

    def _drain(self) -> None:
        try:
            self._queue.get_nowait()
        except queue.Empty:
            pass

    def run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, _Reopen):
                self._reopen(item.faithful)
                continue
            assert isinstance(item, EncodedPacket)
            self._times[item.pts] = (item.t, item.captured_at)
            if len(self._times) > 64:
                del self._times[next(iter(self._times))]
            for picture in self._decode(item):
                if self._too_large(picture.width, picture.height):
                    break
                self.frames_decoded += 1
                t, captured_at = self._times.pop(picture.pts or 0, (item.t, item.captured_at))
                self._deliver(_frame_of(picture, t, captured_at))

    def _reopen(self, faithful: bool) -> None:
        """A new codec context for the keyframe that follows (the old one's frames held for
        reordering are dropped)."""
        self._codec = self._open_codec(faithful)
        self.faithful = faithful
        self._times.clear()

    def _decode(self, packet: EncodedPacket) -> list[av.VideoFrame]:
        av_packet = av.Packet(packet.data)
        av_packet.pts, av_packet.dts = packet.pts, packet.dts
        try:
            return self._codec.decode(av_packet)
        except av.FFmpegError as e:
            if self._refused_size(packet):
                return []
            if not self._warned_error:
                self._warned_error = True
                log.warning("camera %s: cannot decode a packet: %s", self.camera_name, e)
            return []

    def _refused_size(self, packet: EncodedPacket) -> bool:
        """A decoding error for the size: one past max_pixels. H.264 and H.265 keep the size
        they refused; MPEG-4 resets its own to 0x0, so the size is then the one the packet's
        headers declare, read by the codec's parser (nothing decoded or allocated)."""
        width, height = self._codec.width, self._codec.height
        if not width:
            width, height = self._declared_size(packet.data)
        return self._too_large(width, height)

    def _declared_size(self, data: bytes) -> tuple[int, int]:
        """The picture size the headers in `data` (or the stream's extradata) declare; 0x0
        when they declare none or the codec has no parser."""
        probe = av.CodecContext.create(self.stream.codec, "r")
        if not isinstance(probe, av.VideoCodecContext):
            return 0, 0
        if self.stream.extradata:
            probe.extradata = self.stream.extradata
        try:
            probe.parse(data)
            probe.parse(None)  # the parser reads a frame's headers once it knows where it ends
        except (av.FFmpegError, ValueError):
            return 0, 0
        return probe.width, probe.height

    def _too_large(self, width: int, height: int) -> bool:
        """Pictures past max_pixels: none is delivered, the capture thread takes the camera
        offline (`failure`)."""
        try:
            check_frame_size(width, height, self.max_pixels)
        except FrameTooLarge as e:
            self.failure = f"mid-stream, {e}"
            return True
        return self.failure is not None


def _frame_of(picture: av.VideoFrame, t: float, captured_at: float) -> Picture:
    """A Picture from a decoded one, with its packet's capture times: the decoder's own planes
    when they are yuv420p of an even size (nothing copied), else converted by swscale."""
    if picture.format.name != "yuv420p" or picture.width % 2 or picture.height % 2:
        # yuvj420p (MJPEG cameras), 4:2:2, odd sizes: let swscale make even yuv420p
        picture = picture.reformat(
            width=picture.width & ~1, height=picture.height & ~1, format="yuv420p"
        )
    width, height = picture.width, picture.height
    y, u, v = (
        _plane_view(plane, w, h)
        for plane, (w, h) in zip(
            picture.planes,
            ((width, height), (width // 2, height // 2), (width // 2, height // 2)),
            strict=True,
        )
    )
    return Picture.of_planes(Planes(y, u, v), captured_at=captured_at, monotonic=t)


def _plane_view(plane: av.video.plane.VideoPlane, width: int, height: int) -> np.ndarray:
    """A plane as a (height, width) array over the decoder's buffer (rows `line_size` apart);
    it keeps the frame's buffer alive for as long as it is used."""
    return np.ndarray(
        (height, width), np.uint8, buffer=memoryview(plane), strides=(plane.line_size, 1)
    )
