"""Pre-roll buffers kept by time: the last frames and their sound, or packets from a keyframe."""

from __future__ import annotations

from collections import deque
from typing import Generic, Protocol, TypeVar

from camwatch.capture.packets import EncodedPacket
from camwatch.recording.clip_writer import ClipFrame

MAX_PACKET_BYTES = 64 * 1024 * 1024  # a camera with a very long GOP keeps less pre-roll, not RAM
MAX_PACKET_SECONDS = 60.0
# sound kept a little longer than the frames, so the packet playing at the first frame is held
AUDIO_SLACK_S = 0.5


class _Timed(Protocol):
    @property
    def t(self) -> float: ...  # monotonic capture seconds


T = TypeVar("T", bound=_Timed)


class _TimeWindow(Generic[T]):
    """The items of the last `seconds` (and `slack`) by capture time, sized in time rather than
    in items."""

    slack = 0.0

    def __init__(self) -> None:
        self._items: deque[T] = deque()

    def push(self, item: T, seconds: float) -> None:
        self._items.append(item)
        cutoff = item.t - seconds - self.slack
        while self._items and self._items[0].t < cutoff:
            self._items.popleft()

    def drain(self) -> list[T]:
        items = list(self._items)
        self._items.clear()
        return items

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class PreRollBuffer(_TimeWindow[ClipFrame]):
    """The last `seconds` of frames."""


class AudioPreRoll(_TimeWindow[EncodedPacket]):
    """The last `seconds` of sound beside frames that are encoded (a webcam's microphone, or a
    camera's audio when its video is not copied), kept by capture time like the frames, so
    a clip's sound starts with its pre-roll rather than at its trigger."""

    slack = AUDIO_SLACK_S


class PacketBuffer:
    """The camera's packets (video and audio) back to the last video keyframe at or before
    `seconds` ago, so a clip can start `seconds` before its trigger on a keyframe: with a long
    GOP the pre-roll is longer, never a clip that starts on a frame it cannot decode.
    """

    def __init__(self) -> None:
        self._packets: deque[EncodedPacket] = deque()
        self._keyframes: deque[float] = deque()  # times of the video keyframes held
        self._bytes = 0

    def push(self, packet: EncodedPacket, seconds: float) -> None:
        self._packets.append(packet)
        self._bytes += len(packet)
        if packet.is_video and packet.keyframe:
            self._keyframes.append(packet.t)
        cutoff = packet.t - seconds
        # drop whole GOPs while the next keyframe is still at or before the cutoff
        while len(self._keyframes) > 1 and self._keyframes[1] <= cutoff:
            self._drop_gop()
        while self._bytes > MAX_PACKET_BYTES or (
            self._packets and self._packets[0].t < packet.t - MAX_PACKET_SECONDS
        ):
            if not self._drop_gop():
                break
        if not self._keyframes:  # nothing decodable yet: keep no packets
            self.clear()

    def _drop_gop(self) -> bool:
        """Drop packets up to the second keyframe; False if there is only one GOP."""
        if len(self._keyframes) < 2:
            return False
        self._keyframes.popleft()
        next_keyframe = self._keyframes[0]
        while self._packets and not (
            self._packets[0].is_video
            and self._packets[0].keyframe
            and self._packets[0].t >= next_keyframe
        ):
            self._bytes -= len(self._packets.popleft())
        return True

    def since(self, start: float) -> list[EncodedPacket]:
        """The packets from the last keyframe at or before `start` (or the first one held)."""
        keyframe = next((t for t in reversed(self._keyframes) if t <= start), None)
        if keyframe is None and self._keyframes:
            keyframe = self._keyframes[0]
        if keyframe is None:
            return []
        packets = list(self._packets)
        first = next(
            i for i, p in enumerate(packets) if p.is_video and p.keyframe and p.t >= keyframe
        )
        return packets[first:]

    def clear(self) -> None:
        self._packets.clear()
        self._keyframes.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._packets)
