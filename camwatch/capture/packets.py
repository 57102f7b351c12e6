"""Encoded packets as the camera sent them, with capture times, and the streams they belong to."""

from __future__ import annotations

import dataclasses
import io
import logging
from dataclasses import dataclass
from fractions import Fraction

import av

log = logging.getLogger(__name__)

# Codecs every browser plays in MP4: recorded and streamed live as the camera sent them.
BROWSER_VIDEO_CODECS = frozenset({"h264"})
# Audio every browser plays in MP4 (and Media Source Extensions) as the camera sent it.
BROWSER_AUDIO_CODECS = frozenset({"aac"})
# A timestamp this far from where the stream's clock expects it is broken: re-anchor there.
MAX_TIMESTAMP_JUMP_S = 10.0


@dataclass(frozen=True)
class StreamInfo:
    """What a muxer needs to know about one of the camera's streams (no live FFmpeg objects,
    so it outlives the connection it came from)."""

    kind: str  # "video" | "audio"
    codec: str  # FFmpeg's codec name: "h264", "hevc", "mjpeg", "aac", "pcm_alaw", "opus"...
    time_base: Fraction
    extradata: bytes | None = None
    width: int = 0
    height: int = 0
    sample_rate: int = 0
    channels: int = 0
    layout: str = ""

    @property
    def browser_playable(self) -> bool:
        if self.kind == "audio":
            return self.codec in BROWSER_AUDIO_CODECS
        return self.kind == "video" and self.codec in BROWSER_VIDEO_CODECS

    def mse_codec(self) -> str:
        """The RFC 6381 codec string (avc1.PPCCLL, mp4a.40.N) MediaSource.isTypeSupported asks
        about."""
        data = self.extradata or b""
        if self.kind == "audio":
            # AudioSpecificConfig: its first 5 bits are the object type (2: AAC-LC, 5: HE-AAC)
            object_type = data[0] >> 3 if data else 2
            return f"mp4a.40.{object_type if 0 < object_type < 31 else 2}"
        if data[:1] == b"\x01" and len(data) >= 4:  # avcC: profile, compatibility, level
            return "avc1." + data[1:4].hex()
        sps = _annexb_sps(data)
        if sps is not None and len(sps) >= 4:
            return "avc1." + sps[1:4].hex()
        return "avc1.42e01e"  # Constrained Baseline 3.0: what a camera without SPS most likely is


def resized(old: StreamInfo, new: StreamInfo) -> bool:
    """The same video stream at another size (and the SPS/PPS that go with it): a camera that
    changed resolution in band."""
    same_otherwise = dataclasses.replace(
        new, width=old.width, height=old.height, extradata=old.extradata
    )
    return (old.width, old.height) != (new.width, new.height) and old == same_otherwise


def _annexb_sps(data: bytes) -> bytes | None:
    for unit in data.split(b"\x00\x00\x01"):
        unit = unit.rstrip(b"\x00")
        if unit and unit[0] & 0x1F == 7:
            return unit
    return None


@dataclass(frozen=True, eq=False)
class EncodedPacket:
    """One packet as the camera encoded it. `dts`/`pts` count `stream.time_base` units on the
    camera's clock (made monotonic, starting near 0); `t` is the decode time in
    `time.monotonic()` seconds and `captured_at` in wall-clock seconds, so video and audio line
    up by capture time."""

    stream: StreamInfo
    data: bytes
    dts: int
    pts: int
    t: float
    captured_at: float
    keyframe: bool

    @property
    def is_video(self) -> bool:
        return self.stream.kind == "video"

    def __len__(self) -> int:
        return len(self.data)


class SourceClock:
    """Maps the camera's timestamps, in seconds on the demuxer's timeline (shared by its
    streams, so their sync is the camera's), to our monotonic and wall clocks.

    The offset is the smallest (arrival - timestamp) seen: packets that arrive late (buffered
    while the stream was probed, network hiccups) do not stretch the timeline, and no packet
    is placed after it arrived. A camera clock slower than ours is caught up with once it lags
    by MAX_DRIFT_S.
    """

    MAX_DRIFT_S = 2.0

    def __init__(self) -> None:
        self._offset: float | None = None  # monotonic seconds - camera seconds
        self._wall_offset = 0.0  # wall-clock seconds - monotonic seconds

    def place(self, seconds: float, arrived_t: float, arrived_wall: float) -> tuple[float, float]:
        """(monotonic, wall-clock) capture time of a packet stamped `seconds`."""
        offset = arrived_t - seconds
        if self._offset is None or offset < self._offset:
            self._offset = offset
            self._wall_offset = arrived_wall - arrived_t
        elif offset - self._offset > self.MAX_DRIFT_S:
            self._offset = offset
        t = seconds + self._offset
        return t, t + self._wall_offset


class StreamClock:
    """Keeps one stream's timestamps increasing: a packet without one, or one that goes
    backwards or jumps by more than MAX_TIMESTAMP_JUMP_S, is re-timed from its arrival and
    the stream carries on from there (logged once per stream).
    """

    def __init__(self, name: str, time_base: Fraction, clock: SourceClock) -> None:
        self.name = name
        self.time_base = time_base
        # Fraction arithmetic costs tens of µs a packet on the capture thread; an int product
        # over an int is the same correctly rounded float
        self._numerator, self._denominator = time_base.numerator, time_base.denominator
        self._clock = clock
        self._shift = 0  # added to the camera's timestamps after a break
        self._last: int | None = None
        self._last_arrival = 0.0
        self._last_t = float("-inf")
        self._step = 1  # the stream's usual step between packets, for re-timed ones
        self._warned = False

    def place(
        self, dts: int | None, pts: int | None, arrived_t: float, arrived_wall: float
    ) -> tuple[int, int, float, float]:
        """(dts, pts, monotonic seconds, wall-clock seconds) of a packet arriving now."""
        stamp = dts if dts is not None else pts
        lead = max(0, pts - stamp) if pts is not None and stamp is not None else 0
        ours = stamp + self._shift if stamp is not None else None
        if self._last is not None and (
            ours is None
            or ours <= self._last
            or self.seconds(ours - self._last) > MAX_TIMESTAMP_JUMP_S
        ):
            ours = self._retime(stamp, arrived_t)
        elif ours is None:  # the very first packet has no timestamp: start the stream at 0
            ours = 0
            self._shift = 0
        elif self._last is not None:
            self._step = ours - self._last
        self._last, self._last_arrival = ours, arrived_t
        t, wall = self._clock.place(self.seconds(ours), arrived_t, arrived_wall)
        if t < self._last_t:  # the shared offset moved back: keep this stream's times in order
            wall += self._last_t - t
            t = self._last_t
        self._last_t = t
        return ours, ours + lead, t, wall

    def seconds(self, ticks: int) -> float:
        """`ticks` of the time base in seconds: float(ticks * time_base), without a Fraction."""
        return ticks * self._numerator / self._denominator

    def ticks(self, seconds: float) -> int:
        """`seconds` in whole ticks of the time base."""
        return round(seconds * self._denominator / self._numerator)

    def _retime(self, stamp: int | None, arrived_t: float) -> int:
        assert self._last is not None
        if not self._warned:
            self._warned = True
            log.warning(
                "%s: broken timestamps (%s after %s); timing packets by their arrival",
                self.name,
                stamp,
                self._last - self._shift,
            )
        elapsed = self.ticks(arrived_t - self._last_arrival)
        ours = self._last + max(self._step, elapsed)  # never closer than the usual step
        if stamp is not None:
            self._shift = ours - stamp
        return ours


def add_copy_stream(container: av.container.OutputContainer, info: StreamInfo) -> av.stream.Stream:
    """An output stream that takes `info`'s packets as they are (no encoder is opened).

    PyAV copies codec parameters only from a template stream; a throwaway in-memory container
    gives one of the right codec, and the camera's own parameters are set on the copy.
    """
    template_container = av.open(io.BytesIO(), mode="w", format="mp4")
    try:
        if info.kind == "video":
            template = template_container.add_stream(info.codec)
        else:
            template = template_container.add_stream(info.codec, rate=info.sample_rate or 48000)
        stream = container.add_stream_from_template(template)
    finally:
        template_container.close()
    context = stream.codec_context
    context.extradata = info.extradata
    if isinstance(context, av.VideoCodecContext):
        context.width, context.height = info.width, info.height
    elif isinstance(context, av.AudioCodecContext):
        context.sample_rate = info.sample_rate
        if info.layout:
            context.layout = info.layout
    stream.time_base = info.time_base
    return stream
