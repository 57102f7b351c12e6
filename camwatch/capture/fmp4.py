"""Live fMP4 of a camera's H.264 (and AAC) for MSE, muxed once and shared through a bounded ring."""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import av

from camwatch.capture.packets import EncodedPacket, StreamInfo, add_copy_stream

log = logging.getLogger(__name__)

# One fragment per frame (MSE plays it at once); no index or trailer a live stream cannot use.
LIVE_OPTIONS = {
    "movflags": "frag_every_frame+empty_moov+default_base_moof+skip_sidx+skip_trailer",
    "flush_packets": "1",
}
RING_FRAGMENTS = 150  # about two GOPs of a typical camera: what a late viewer can catch up on
MAX_BEHIND_FRAGMENTS = 30  # a viewer further behind skips to the newest keyframe
# no sound for this long: the live stream starts over without it (and with it once it is back)
SOUND_GONE_S = 2.0
MAX_SOUND_FRAGMENTS = 100  # sound cut while no frame comes (~2 s of AAC): the newest kept
# The muxer's output is cut into fragments by its boxes. A fragment is one frame (a 4K keyframe
# is a few MB) and the muxer cuts one per packet, two frames late: a box declared larger than
# this, more bytes than this waiting for a box's end, or this many frames muxed and none cut
# mean the byte stream is broken, and the live stream starts over at the next keyframe.
MAX_PENDING_BYTES = 16 * 1024 * 1024
MAX_UNCUT_FRAMES = 60


@dataclass(frozen=True)
class Fragment:
    """One moof+mdat (or part of the byte stream) and whether it starts with a keyframe."""

    seq: int
    data: bytes
    keyframe: bool
    generation: int  # the muxer (init segment) it belongs to


class _Collector(io.RawIOBase):
    """The muxer's output: bytes written since the last `take`."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


class LiveMuxer:
    """Muxes one video stream's packets, and the camera's AAC as a second track when it has
    some, into fMP4, starting at a keyframe. `init_segment` is ftyp+moov; `feed` returns the
    fragments its packet completed (the MP4 muxer cuts a fragment when the next packet
    arrives: one packet of latency), one per video frame, each with the sound cut before it."""

    def __init__(self, video: StreamInfo, audio: StreamInfo | None = None) -> None:
        self.video = video
        self.audio = audio if audio is not None and audio.browser_playable else None
        self._sink = _Collector()
        options = dict(LIVE_OPTIONS)
        if self.audio is not None:
            # FFmpeg's interleaver holds packets until every track has one, up to 10 s by
            # default: a camera whose sound pauses would stall its live picture that long
            options["max_interleave_delta"] = "1"
        self._container = av.open(self._sink, mode="w", format="mp4", options=options)
        self._stream = add_copy_stream(self._container, video)
        self._sound: _SoundTrack | None = None
        if self.audio is not None:
            self._sound = _SoundTrack(self.audio, add_copy_stream(self._container, self.audio))
        self._container.start_encoding()
        self.init_segment = self._sink.take()
        self._base: int | None = None
        self._zero_t = 0.0  # capture time of the first keyframe: where the sound lines up
        self._last_dts = -1
        self._previous_keyframe = False
        self._video_track = self._stream.index + 1  # the MP4 track_ID FFmpeg gives it
        self._keyframes: deque[bool] = deque()  # of the video packets muxed, not yet cut
        self._sound_cut: list[bytes] = []  # sound fragments waiting for the next frame's
        self._unfinished = b""  # the muxer's bytes after its last whole fragment
        self.broken = False  # its output cannot be cut into fragments: start a new muxer

    @property
    def mime(self) -> str:
        codecs = self.video.mse_codec()
        if self.audio is not None:
            codecs += "," + self.audio.mse_codec()
        return f'video/mp4; codecs="{codecs}"'

    def feed(self, packet: EncodedPacket) -> list[tuple[bytes, bool]]:
        """(bytes, whether they start the video with a keyframe) of the fragments cut; none
        yet, or the packet was skipped: before the first keyframe, out of order, sound the
        live stream does not carry."""
        if packet.is_video:
            av_packet = self._video_packet(packet)
        elif self._sound is not None and self._base is not None:
            av_packet = self._sound.packet(packet, self._zero_t)
        else:
            av_packet = None
        if av_packet is None:
            return []
        self._container.mux(av_packet)
        data = self._sink.take()
        if self._sound is None:  # one fragment per packet, the previous one's
            keyframe, self._previous_keyframe = self._previous_keyframe, packet.keyframe
            return [(data, keyframe)] if data else []
        return self._by_frame(data)

    def _video_packet(self, packet: EncodedPacket) -> av.Packet[Any] | None:
        if self._base is None:
            if not packet.keyframe:
                return None
            self._base, self._zero_t = packet.dts, packet.t
        dts = packet.dts - self._base
        if dts <= self._last_dts:
            return None
        self._last_dts = dts
        av_packet = av.Packet(packet.data)
        av_packet.dts, av_packet.pts = dts, packet.pts - self._base
        av_packet.time_base = self.video.time_base
        av_packet.stream = self._stream
        av_packet.is_keyframe = packet.keyframe
        if self._sound is not None:
            self._keyframes.append(packet.keyframe)
        return av_packet

    def _by_frame(self, data: bytes) -> list[tuple[bytes, bool]]:
        """The muxer's output regrouped: each video fragment with the sound fragments cut
        before it (MSE takes a track's samples before another's first), so viewers still
        get one message per frame and start on a keyframe."""
        out: list[tuple[bytes, bool]] = []
        fragments, self._unfinished = _fragments(self._unfinished + data)
        if _hopeless(self._unfinished) or len(self._keyframes) > MAX_UNCUT_FRAMES:
            self.broken = True
            self._unfinished, self._sound_cut = b"", []
            self._keyframes.clear()
            return []
        for track, fragment in fragments:
            if track != self._video_track:
                self._sound_cut.append(fragment)
                del self._sound_cut[:-MAX_SOUND_FRAGMENTS]  # video stopped: keep the newest
                continue
            keyframe = self._keyframes.popleft() if self._keyframes else False
            out.append((b"".join([*self._sound_cut, fragment]), keyframe))
            self._sound_cut = []
        return out

    def close(self) -> None:
        try:
            self._container.close()
        except (OSError, av.FFmpegError):
            log.debug("closing the live muxer failed", exc_info=True)


class _SoundTrack:
    """The camera's AAC packets as the live stream's second track, placed by capture time from
    the first keyframe's (the camera's own timestamps from there on)."""

    def __init__(self, info: StreamInfo, stream: av.stream.Stream) -> None:
        self.info, self.stream = info, stream
        self._shift: int | None = None
        self._last_dts = -1

    def packet(self, packet: EncodedPacket, zero_t: float) -> av.Packet[Any] | None:
        if self._shift is None:
            start = round((packet.t - zero_t) / self.info.time_base)
            if start < 0:
                return None  # sound from before the first keyframe
            self._shift = start - packet.dts
        dts = packet.dts + self._shift
        if dts <= self._last_dts:
            return None
        self._last_dts = dts
        av_packet = av.Packet(packet.data)
        av_packet.dts, av_packet.pts = dts, packet.pts + self._shift
        av_packet.time_base = self.info.time_base
        av_packet.stream = self.stream
        return av_packet


def _fragments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """(track_ID, the bytes up to and with its mdat) for each fragment in `data`, the track
    read from the moof's first traf's tfhd; and what follows the last mdat (a box cut short,
    to be completed by the muxer's next bytes)."""
    out: list[tuple[int, bytes]] = []
    offset, track, start = 0, 0, 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8 or offset + size > len(data):
            break  # cut short (or a 64-bit size, for mdats far larger than a frame's)
        if kind == b"moof":
            track = _moof_track(data, offset, size)
        elif kind == b"mdat":
            out.append((track, data[start : offset + size]))
            start = offset + size
        offset += size
    return out, data[start:]


def _hopeless(rest: bytes) -> bool:
    """What follows the last whole fragment will never complete one (see MAX_PENDING_BYTES)."""
    if len(rest) > MAX_PENDING_BYTES:
        return True
    if len(rest) < 8:
        return False
    size: int = struct.unpack_from(">I", rest)[0]
    return size < 8 or size > MAX_PENDING_BYTES


def _moof_track(data: bytes, offset: int, size: int) -> int:
    """moof > traf > tfhd's track_ID (FFmpeg writes mfhd, then one traf per track)."""
    child, end = offset + 8, offset + size
    while child + 8 <= end:
        child_size, kind = struct.unpack_from(">I4s", data, child)
        if kind == b"traf" and child + 24 <= end:
            track: int = struct.unpack_from(">I", data, child + 20)[0]  # tfhd after its header
            return track
        child += max(8, child_size)
    return 0


class FragmentHub:
    """One camera's live fMP4. Packets come in on the capture thread (muxed only while someone
    watches); fragments reach the loop in a ring every viewer reads at its own pace."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._muxer: LiveMuxer | None = None
        self._audio: StreamInfo | None = None  # the camera's AAC, when it sends some
        self._last_sound_t: float | None = None  # capture time of its latest packet
        self._first_video_t: float | None = None  # of the stream (since on_streams)
        self._viewers = 0
        self.generation = 0  # bumped when the stream changes: viewers must start over
        self.ring: deque[Fragment] = deque(maxlen=RING_FRAGMENTS)
        self._seq = 0
        self._pending: list[Fragment] = []
        self._lock = threading.Lock()
        self._changed = asyncio.Event()
        self._broken_logged = False
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def viewer_count(self) -> int:
        return self._viewers

    @property
    def muxer(self) -> LiveMuxer | None:
        return self._muxer

    def join(self) -> None:
        with self._lock:
            self._viewers += 1

    def leave(self) -> None:
        with self._lock:
            self._viewers = max(0, self._viewers - 1)

    # -- capture thread ------------------------------------------------------------------------

    def on_streams(self, video: StreamInfo | None, audio: StreamInfo | None) -> None:
        with self._lock:
            if self._muxer is not None:
                self._muxer.close()
            self._muxer = None
            # the camera's own AAC goes live with the video; other sound (G.711, a
            # microphone's PCM) is not something MSE plays: video only
            self._audio = audio if audio is not None and audio.browser_playable else None
            self._last_sound_t = self._first_video_t = None
            self.generation += 1
        self._schedule(None)

    def on_packet(self, packet: EncodedPacket) -> None:
        if not packet.stream.browser_playable:
            return
        if not packet.is_video:
            self._on_sound(packet)
            return
        if self._viewers == 0:
            if self._muxer is not None:
                with self._lock:
                    self._muxer.close()
                    self._muxer = None
            return
        if self._first_video_t is None:
            self._first_video_t = packet.t
        if self._muxer is None and self._awaiting_sound(packet.t):
            return  # its first sound is on the way: start with it, not restart for it
        if packet.keyframe and (self._muxer is None or self._sound_changed(packet.t)):
            with self._lock:
                if self._muxer is not None:
                    self._muxer.close()
                sound = self._audio if self._sounding(packet.t) else None
                self._muxer = LiveMuxer(packet.stream, sound)
                self.generation += 1
        if self._muxer is not None:
            self._feed(self._muxer, packet)

    def _feed(self, muxer: LiveMuxer, packet: EncodedPacket) -> None:
        self._send(muxer.feed(packet))
        if not muxer.broken:
            return
        with self._lock:  # as when the sound stops: a new muxer at the next keyframe
            muxer.close()
            if self._muxer is muxer:
                self._muxer = None
        level = logging.DEBUG if self._broken_logged else logging.WARNING
        self._broken_logged = True
        log.log(level, "the live fMP4 could not be cut into fragments: starting it over")

    def _sounding(self, t: float) -> bool:
        """The camera's sound is coming (a packet within SOUND_GONE_S of `t`)."""
        last = self._last_sound_t
        return self._audio is not None and last is not None and t - last < SOUND_GONE_S

    def _awaiting_sound(self, t: float) -> bool:
        """The stream announced sound that has not come yet, for less than SOUND_GONE_S."""
        first = self._first_video_t
        waited = t - first if first is not None else 0.0
        return self._audio is not None and self._last_sound_t is None and waited < SOUND_GONE_S

    def _sound_changed(self, t: float) -> bool:
        """The sound stopped under a muxer that carries it (the browser would wait for it, the
        picture frozen), or came back to one that does not: start over at this keyframe."""
        assert self._muxer is not None
        return (self._muxer.audio is not None) != self._sounding(t)

    def _on_sound(self, packet: EncodedPacket) -> None:
        audio = self._audio
        if audio is None or not (packet.stream is audio or packet.stream == audio):
            return  # not the camera's (a microphone's)
        self._last_sound_t = packet.t
        muxer = self._muxer
        if muxer is not None and muxer.audio is not None:
            self._feed(muxer, packet)

    def _send(self, fragments: list[tuple[bytes, bool]]) -> None:
        for data, keyframe in fragments:
            self._seq += 1
            self._schedule(Fragment(self._seq, data, keyframe, generation=self.generation))

    def _schedule(self, fragment: Fragment | None) -> None:
        loop = self._loop
        with self._lock:
            if fragment is not None:
                self._pending.append(fragment)
                del self._pending[:-RING_FRAGMENTS]  # a loop too busy to take them: drop old
            first = len(self._pending) <= 1
        if loop is None or loop.is_closed() or (not first and fragment is not None):
            return
        try:
            loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop closed meanwhile
            pass

    # -- event loop ----------------------------------------------------------------------------

    def _deliver(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self.ring.extend(pending)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until new fragments arrive or the stream changes (TimeoutError after `timeout`)."""
        await asyncio.wait_for(self._changed.wait(), timeout)

    def next_after(self, seq: int) -> Fragment | None:
        """The fragment a viewer that has had `seq` gets next: the one after it, or the newest
        keyframe's when it fell out of the ring or too far behind; None when caught up."""
        if not self.ring:
            return None
        newest = self.ring[-1].seq
        if seq >= newest:
            return None
        index = seq - self.ring[0].seq + 1
        if seq and newest - seq <= MAX_BEHIND_FRAGMENTS and 0 <= index < len(self.ring):
            fragment = self.ring[index]
            if fragment.seq == seq + 1 and fragment.generation == self.generation:
                return fragment
        return self.newest_keyframe(after=seq)

    def newest_keyframe(self, after: int = 0) -> Fragment | None:
        """The newest keyframe fragment of the current muxer, if newer than `after`."""
        return next(
            (
                f
                for f in reversed(self.ring)
                if f.keyframe and f.seq > after and f.generation == self.generation
            ),
            None,
        )

    def close(self) -> None:
        self.closed = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._changed.set)
            except RuntimeError:
                pass
