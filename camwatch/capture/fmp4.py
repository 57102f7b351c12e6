"""Live fragmented MP4 for Media Source Extensions: the camera's H.264 packets, one fragment each,
muxed once per camera and shared by every MSE viewer through a bounded ring."""

from __future__ import annotations

import asyncio
import io
import logging
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
    """Muxes one video stream's packets into fMP4, starting at a keyframe. `init_segment` is
    ftyp+moov; `feed` returns the bytes of the previous packet's fragment (the MP4 muxer cuts
    a fragment when the next packet arrives: one frame of latency)."""

    def __init__(self, video: StreamInfo) -> None:
        self.video = video
        self._sink = _Collector()
        self._container = av.open(self._sink, mode="w", format="mp4", options=LIVE_OPTIONS)
        self._stream = add_copy_stream(self._container, video)
        self._container.start_encoding()
        self.init_segment = self._sink.take()
        self._base: int | None = None
        self._last_dts = -1
        self._previous_keyframe = False

    @property
    def mime(self) -> str:
        return f'video/mp4; codecs="{self.video.mse_codec()}"'

    def feed(self, packet: EncodedPacket) -> tuple[bytes, bool] | None:
        """(bytes, whether they start with a keyframe's fragment), or None (nothing yet, or
        the packet was skipped: before the first keyframe, out of order)."""
        if self._base is None:
            if not packet.keyframe:
                return None
            self._base = packet.dts
        dts = packet.dts - self._base
        if dts <= self._last_dts:
            return None
        self._last_dts = dts
        av_packet = av.Packet(packet.data)
        av_packet.dts, av_packet.pts = dts, packet.pts - self._base
        av_packet.time_base = self.video.time_base
        av_packet.stream = self._stream
        av_packet.is_keyframe = packet.keyframe
        self._container.mux(av_packet)
        data = self._sink.take()
        keyframe, self._previous_keyframe = self._previous_keyframe, packet.keyframe
        return (data, keyframe) if data else None

    def close(self) -> None:
        try:
            self._container.close()
        except (OSError, av.FFmpegError):
            log.debug("closing the live muxer failed", exc_info=True)


class FragmentHub:
    """One camera's live fMP4. Packets come in on the capture thread (muxed only while someone
    watches); fragments reach the loop in a ring every viewer reads at its own pace."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop
        self._muxer: LiveMuxer | None = None
        self._viewers = 0
        self.generation = 0  # bumped when the stream changes: viewers must start over
        self.ring: deque[Fragment] = deque(maxlen=RING_FRAGMENTS)
        self._seq = 0
        self._pending: list[Fragment] = []
        self._lock = threading.Lock()
        self._changed = asyncio.Event()
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
            self.generation += 1
        self._schedule(None)

    def on_packet(self, packet: EncodedPacket) -> None:
        if not packet.is_video or not packet.stream.browser_playable:
            return
        if self._viewers == 0:
            if self._muxer is not None:
                with self._lock:
                    self._muxer.close()
                    self._muxer = None
            return
        if self._muxer is None:
            if not packet.keyframe:
                return
            with self._lock:
                self._muxer = LiveMuxer(packet.stream)
                self.generation += 1
        fed = self._muxer.feed(packet)
        if fed is not None:
            self._seq += 1
            self._schedule(Fragment(self._seq, *fed, generation=self.generation))

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
