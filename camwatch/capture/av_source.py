"""AvSource: RTSP, files and other FFmpeg inputs demuxed with PyAV into the camera's own packets."""

from __future__ import annotations

import abc
import dataclasses
import logging
import os
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av

from camwatch.capture.h264_params import keyframe_extradata
from camwatch.capture.h264_sps import sps_sizes
from camwatch.capture.packets import EncodedPacket, SourceClock, StreamClock, StreamInfo
from camwatch.capture.redact import redact
from camwatch.capture.sources import MAX_LAG_S, EndOfStream, SourceError
from camwatch.frame import MAX_FRAME_PIXELS, FrameTooLarge, check_frame_size

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0
NETWORK_OPTIONS = {
    "rtsp_transport": "tcp",  # no UDP loss, works through NAT and firewalls
    # the SDP names the codecs (and H.264's SPS/PPS): a short probe gets to the packets sooner
    "analyzeduration": "1000000",
}
# FFmpeg's own socket timeout (the `timeout` option, µs) bounds every read of these, so PyAV's
# read timeout is not needed: its interrupt callback takes the GIL a thousand times a second
# (FFmpeg asks before each read and wait), which the other threads pay for.
SOCKET_TIMEOUT_SCHEMES = ("rtsp://", "rtsps://")


class PacketSource(abc.ABC):
    """Something that yields the camera's encoded packets, paced as they come."""

    description: str = ""
    video: StreamInfo | None = None
    audio: StreamInfo | None = None
    max_pixels: int = MAX_FRAME_PIXELS  # larger frames are not decoded: the stream is broken

    @abc.abstractmethod
    def open(self) -> None:
        """Connect and learn the streams; raise SourceError if the source is not there."""

    @abc.abstractmethod
    def read_packet(self) -> EncodedPacket:
        """The next video or audio packet; raise SourceError when the source fails."""

    def close(self) -> None:  # noqa: B027 - optional for sources with nothing to release
        """Release the connection."""


def stream_info(stream: av.stream.Stream) -> StreamInfo:
    """A StreamInfo from a demuxed PyAV stream (copied: it outlives the connection)."""
    context = stream.codec_context
    time_base = stream.time_base or Fraction(1, 90000)
    extradata = bytes(context.extradata) if context.extradata else None
    if isinstance(context, av.VideoCodecContext):
        return StreamInfo(
            "video",
            context.name,
            time_base,
            extradata,
            width=context.width,
            height=context.height,
        )
    assert isinstance(context, av.AudioCodecContext)
    return StreamInfo(
        "audio",
        context.name,
        time_base,
        extradata,
        sample_rate=context.sample_rate,
        channels=context.channels,
        layout=context.layout.name if context.layout is not None else "",
    )


class AvSource(PacketSource):
    """Demuxes an RTSP URL, a file or anything else FFmpeg reads, keeping the packets.

    Files are played in real time by their timestamps (looping if asked); network streams
    arrive at the camera's pace. With `audio` False the camera's audio is not read.
    """

    def __init__(
        self,
        target: str,
        *,
        loop: bool = False,
        audio: bool = True,
        max_pixels: int = MAX_FRAME_PIXELS,
        read_timeout: float = READ_TIMEOUT_S,
    ) -> None:
        self.target, self.loop, self.want_audio = target, loop, audio
        self.read_timeout = read_timeout
        self.max_pixels = max_pixels
        self.description = redact(target)
        self.is_file = "://" not in target
        self._container: av.container.InputContainer | None = None
        self._streams: list[av.stream.Stream] = []
        self._clocks: dict[int, StreamClock] = {}
        self._infos: dict[int, StreamInfo] = {}
        self._demux: Iterator[av.Packet[Any]] | None = None
        self._start = 0.0
        self._round_offset = 0.0  # seconds added to a looping file's timestamps per round
        self._last_position = 0.0

    def open(self) -> None:
        if self.is_file and not os.path.isfile(self.target):
            raise SourceError(f"no such file: {self.target}")
        try:
            self._container = av.open(
                self.target, options=self._options(), timeout=self._timeouts()
            )
        except (av.FFmpegError, OSError) as e:
            raise SourceError(f"cannot open {self.description}: {_reason(e)}") from None
        video = next(iter(self._container.streams.video), None)
        if video is None:
            self.close()
            raise SourceError(f"{self.description} has no video stream")
        self._streams = [video]
        self.video, self.audio = stream_info(video), None
        self._infos = {video.index: self.video}
        try:  # the size the stream declares, before a frame is decoded at it
            check_frame_size(self.video.width, self.video.height, self.max_pixels)
        except FrameTooLarge as e:
            self.close()
            raise SourceError(f"{self.description}: {e}") from None
        audio = next(iter(self._container.streams.audio), None)
        if audio is not None and self.want_audio:
            self._streams.append(audio)
            self.audio = self._infos[audio.index] = stream_info(audio)
        clock = SourceClock()
        self._clocks = {
            s.index: StreamClock(
                f"{self.description} {s.type}", s.time_base or Fraction(1, 90000), clock
            )
            for s in self._streams
        }
        self._demux = self._container.demux(self._streams)
        self._start = time.monotonic()
        self._round_offset = self._last_position = 0.0

    def _options(self) -> dict[str, str]:
        if self.is_file:
            return {}
        # FFmpeg's socket timeout in µs (RTSP, HTTP, TCP, UDP)
        return {**NETWORK_OPTIONS, "timeout": str(int(self.read_timeout * 1_000_000))}

    def _timeouts(self) -> tuple[float, float | None]:
        """PyAV's (open, read) timeouts: reads of RTSP are bounded by the socket timeout."""
        if self.target.lower().startswith(SOCKET_TIMEOUT_SCHEMES):
            return OPEN_TIMEOUT_S, None
        return OPEN_TIMEOUT_S, self.read_timeout

    def read_packet(self) -> EncodedPacket:
        while True:
            packet = self._next_raw()
            if packet.size == 0 or packet.stream.index not in self._infos:
                continue  # a flush packet, or a stream we do not keep
            encoded = self._encoded(packet)
            if encoded.is_video and encoded.stream.codec == "h264":
                return self._check_sps(encoded)
            return encoded

    def _check_sps(self, packet: EncodedPacket) -> EncodedPacket:
        """A camera (or someone on its network) switching to a size past max_pixels mid-stream
        is broken, before the packet reaches a decoder or a clip. Another size (from a
        keyframe) is a new video stream: this packet and the next carry it, with the
        keyframe's SPS/PPS, so whoever watches the streams (live MSE, /api/cameras) sees it."""
        for width, height in sps_sizes(packet.data, packet.stream.extradata):
            try:
                check_frame_size(width, height, self.max_pixels)
            except FrameTooLarge as e:
                raise SourceError(f"{self.description}: mid-stream, {e}") from None
            video = packet.stream
            if packet.keyframe and (width, height) != (video.width, video.height):
                extradata = keyframe_extradata(packet.data, video.extradata)
                resized = dataclasses.replace(
                    video, width=width, height=height, extradata=extradata
                )
                index = next(i for i, info in self._infos.items() if info is video)
                self.video = self._infos[index] = resized
                return dataclasses.replace(packet, stream=resized)
        return packet

    def _next_raw(self) -> av.Packet[Any]:
        if self._container is None or self._demux is None:
            raise SourceError("not open")
        try:
            return next(self._demux)
        except StopIteration:
            if self.is_file and self.loop:
                return self._rewind()
            raise (EndOfStream if self.is_file else SourceError)(
                f"end of {self.description}"
            ) from None
        except (av.FFmpegError, OSError) as e:
            raise SourceError(f"{self.description}: {_reason(e)}") from None

    def _rewind(self) -> av.Packet[Any]:
        assert self._container is not None
        self._round_offset = self._last_position + 0.1
        try:
            self._container.seek(0)
            self._demux = self._container.demux(self._streams)
            return next(self._demux)
        except (av.FFmpegError, OSError, StopIteration) as e:
            raise SourceError(f"cannot rewind {self.description}: {e}") from None

    def _encoded(self, packet: av.Packet[Any]) -> EncodedPacket:
        index = packet.stream.index
        info, clock = self._infos[index], self._clocks[index]
        if self.is_file:
            self._pace(packet, clock)
        now, wall = time.monotonic(), time.time()
        shift = clock.ticks(self._round_offset) if self._round_offset else 0
        dts, pts, t, captured_at = clock.place(
            _shifted(packet.dts, shift), _shifted(packet.pts, shift), now, wall
        )
        return EncodedPacket(
            info, bytes(packet), dts, pts, t, captured_at, keyframe=bool(packet.is_keyframe)
        )

    def _pace(self, packet: av.Packet[Any], clock: StreamClock) -> None:
        """Hold a file's packet until its time comes, as a camera would send it."""
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is None:
            return
        position = self._round_offset + clock.seconds(stamp)
        self._last_position = max(self._last_position, position)
        delay = self._start + position - time.monotonic()
        if delay > 0:
            time.sleep(min(delay, 5.0))
        elif delay < -MAX_LAG_S:  # held up: carry on in real time from here, no burst
            self._start -= delay

    def close(self) -> None:
        container, self._container, self._demux = self._container, None, None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError):
                log.debug("closing %s failed", self.description, exc_info=True)


def _shifted(stamp: int | None, shift: int) -> int | None:
    return None if stamp is None else stamp + shift


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)
