"""PacketClipWriter: a thread muxing the camera's own packets into a fragmented MP4 as they are."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import av

from camwatch.capture.packets import EncodedPacket, StreamInfo, add_copy_stream
from camwatch.recording.audio import COPIED, AacTranscoder
from camwatch.recording.clip_writer import MP4_OPTIONS, ClipFrame, ClipResult
from camwatch.recording.inbox import Inbox
from camwatch.recording.thumbnails import Thumbnail

log = logging.getLogger(__name__)

QUEUE_PACKETS = 4000  # a long-GOP pre-roll with audio fits; beyond it the disk is too slow
# The writer wakes for each video packet, or after this many others, not for every packet: an
# AAC camera sends ~50 packets a second, each wake-up a thread switch and a GIL hand-over the
# capture thread pays for too. (Not only keyframes: the muxer holds a keyframe, and the fragment
# it cuts, until it has the next packets of both streams to interleave.)
WAKE_EVERY_PACKETS = 32
_FINISH = object()
_ABORT = object()


AAC_FRAME_SAMPLES = 1024


class _Track:
    """One output stream and the mapping of the camera's timestamps onto the clip's."""

    def __init__(self, info: StreamInfo, stream: av.stream.Stream) -> None:
        self.info, self.stream = info, stream
        self.shift: int | None = None  # added to the camera's timestamps
        self.last_dts = -1

    def packets(self, item: EncodedPacket, zero_t: float) -> list[av.Packet[Any]]:
        """The av.Packet for `item`, none when it falls before the clip's start or out of
        order."""
        if self.shift is None:
            start = round((item.t - zero_t) / self.info.time_base)
            if start < 0 and not self._mostly_after(item.t - zero_t):
                return []  # audio from before the clip's first keyframe
            self.shift = start - item.dts
        dts = max(0, item.dts + self.shift)  # a frame begun before the clip's start at it
        if dts <= self.last_dts:
            return []
        self.last_dts = dts
        packet = av.Packet(item.data)
        packet.dts, packet.pts = dts, dts + item.pts - item.dts
        packet.time_base = self.info.time_base
        packet.stream = self.stream
        packet.is_keyframe = item.keyframe
        return [packet]

    def _mostly_after(self, offset_s: float) -> bool:
        """An AAC frame (1024 samples, it cannot be cut) starting `offset_s` before the clip's
        start is more than half after it: kept, sound from the start rather than a frame late."""
        rate = self.info.sample_rate
        return rate > 0 and offset_s + AAC_FRAME_SAMPLES / rate / 2 > 0

    def flush(self) -> list[av.Packet[Any]]:
        return []


class Track(Protocol):
    """One output stream of a clip: the camera's packets become the clip's."""

    def packets(self, item: EncodedPacket, zero_t: float) -> list[av.Packet[Any]]: ...
    def flush(self) -> list[av.Packet[Any]]: ...


class PacketClipWriter(threading.Thread):
    """Writes the camera's packets to a fragmented MP4 on its own thread, as they come.

    The clip starts at its first video keyframe (earlier packets are dropped), so it always
    plays from its first frame; audio is placed by capture time, copied when it is AAC and
    transcoded to AAC otherwise (recording/audio.py).
    `submit` never blocks: a writer too far behind drops packets up to the next keyframe.
    Fragments are cut at keyframes and flushed, so a crash loses at most the last GOP.
    """

    def __init__(
        self,
        path: Path,
        on_done: Callable[[ClipResult], None],
        *,
        video: StreamInfo,
        audio: StreamInfo | None = None,
    ) -> None:
        super().__init__(name=f"clip-{path.stem}", daemon=True)
        self.path = path
        self.video, self.audio = video, audio
        self._on_done = on_done
        self._queue = Inbox()
        self._skipping = False
        self._closed = False
        self._warned = False
        self.result = ClipResult(path)

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    def submit(self, packet: EncodedPacket) -> bool:
        """Queue a packet; False if it was dropped (the writer is behind, or a stream the
        clip does not have)."""
        if self._closed or not self._belongs(packet):
            return False
        if packet.is_video and self._skipping and packet.keyframe:
            self._skipping = False
        if not self._skipping and self._queue.qsize() < QUEUE_PACKETS:
            wake = packet.is_video or self._queue.since_wake >= WAKE_EVERY_PACKETS
            self._queue.put(packet, wake=wake)
            return True
        self._skipping = True
        if packet.is_video:
            self.result.dropped += 1
        if not self._warned:
            self._warned = True
            log.warning("clip %s: writing is falling behind; skipping a GOP", self.path.name)
        return False

    def _belongs(self, packet: EncodedPacket) -> bool:
        if packet.is_video:
            return packet.stream.codec == self.video.codec
        return self.audio is not None and packet.stream == self.audio

    def thumbnail(self, frame: ClipFrame, path: Path) -> None:
        if not self._closed:
            self._queue.put(Thumbnail(frame, path))

    def finish(self) -> None:
        """Write what is queued, close the file, then call on_done. Returns at once."""
        if not self._closed:
            self._closed = True
            self._queue.put(_FINISH)

    def abort(self) -> None:
        """Stop and delete the file (an event that turned out too short)."""
        if not self._closed:
            self._closed = True
            self._queue.put(_ABORT)

    def run(self) -> None:
        container: av.container.OutputContainer | None = None
        tracks: dict[str, Track] = {}
        zero_t = 0.0
        while True:
            item = self._queue.get()
            if item is _FINISH or item is _ABORT:
                break
            if isinstance(item, Thumbnail):
                self._try(item.write)
                continue
            assert isinstance(item, EncodedPacket)
            if self.result.error is not None:
                continue  # failed: drain without writing
            started = time.perf_counter()
            try:
                if container is None:
                    if not (item.is_video and item.keyframe):
                        continue  # a clip starts on a keyframe
                    container, tracks = self._open()
                    zero_t = item.t
                    self.result.first_captured_at = item.captured_at
                self._mux(container, tracks, item, zero_t)
            except (OSError, av.FFmpegError) as e:
                self._fail(e)
            self.result.encode_seconds += time.perf_counter() - started
        self._close(container, tracks, abort=item is _ABORT)
        self._try(lambda: self._on_done(self.result))

    def _open(self) -> tuple[av.container.OutputContainer, dict[str, Track]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # without SPS/PPS out of band, delay_moov also takes them from the first keyframe
        container = av.open(str(self.path), mode="w", format="mp4", options=MP4_OPTIONS)
        tracks: dict[str, Track] = {
            "video": _Track(self.video, add_copy_stream(container, self.video))
        }
        if self.audio is not None and self.audio.codec in COPIED:
            tracks["audio"] = _Track(self.audio, add_copy_stream(container, self.audio))
        elif self.audio is not None:
            tracks["audio"] = AacTranscoder(self.audio, container)
        return container, tracks

    def _mux(
        self,
        container: av.container.OutputContainer,
        tracks: dict[str, Track],
        item: EncodedPacket,
        zero_t: float,
    ) -> None:
        track = tracks.get(item.stream.kind)
        packets = track.packets(item, zero_t) if track is not None else []
        if not packets:
            return
        container.mux(packets)
        if item.is_video:
            self.result.frames += 1
            self.result.last_captured_at = item.captured_at
        else:
            self.result.audio_packets += len(packets)

    def _close(
        self,
        container: av.container.OutputContainer | None,
        tracks: dict[str, Track],
        *,
        abort: bool,
    ) -> None:
        if container is not None:
            try:
                for track in tracks.values():
                    if not abort and self.result.error is None:
                        container.mux(track.flush())
            except (OSError, av.FFmpegError) as e:
                self._fail(e)
            try:  # also when the flush failed (a full disk): the file must not stay open
                container.close()
            except (OSError, av.FFmpegError) as e:
                self._fail(e)
        self.result.settle(abort=abort)

    def _fail(self, error: Exception) -> None:
        self.result.fail(error)

    def _try(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("clip %s: error", self.path.name)
