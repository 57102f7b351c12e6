"""Audio for clips: AAC from the camera copied as is; G.711, PCM, Opus and whatever else FFmpeg
decodes transcoded to AAC once, placed by capture time."""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

import av
import numpy as np

from camwatch.capture.packets import EncodedPacket, StreamInfo

log = logging.getLogger(__name__)

COPIED = frozenset({"aac"})
# AAC below this rate (G.711 is 8 kHz) is resampled up: every browser plays 16 kHz AAC-LC
MIN_AAC_RATE = 16000


def recordable(info: StreamInfo) -> bool:
    """Audio we can put in a clip: AAC, or a codec FFmpeg decodes (it is transcoded)."""
    if info.codec in COPIED:
        return True
    try:
        av.CodecContext.create(info.codec, "r")
    except (av.FFmpegError, ValueError):
        return False
    return True


class AacTranscoder:
    """Decodes one audio stream and encodes it to AAC in `container` (one thread: the clip
    writer's). Timestamps count samples from the clip's start, the first at its capture time."""

    def __init__(self, info: StreamInfo, container: av.container.OutputContainer) -> None:
        self.info = info
        decoder = av.CodecContext.create(info.codec, "r")
        assert isinstance(decoder, av.AudioCodecContext)
        decoder.sample_rate = info.sample_rate or 8000
        decoder.layout = info.layout or ("stereo" if info.channels == 2 else "mono")
        if info.extradata:
            decoder.extradata = info.extradata
        self.decoder = decoder
        self.rate = max(MIN_AAC_RATE, info.sample_rate or 8000)
        layout = "stereo" if info.channels == 2 else "mono"
        stream = container.add_stream("aac", rate=self.rate)
        stream.layout = layout
        stream.bit_rate = 32000 * (2 if layout == "stereo" else 1)
        self.stream = stream
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)
        self.time_base = Fraction(1, self.rate)
        self.next_sample: int | None = None
        self._warned = False

    def packets(self, item: EncodedPacket, zero_t: float) -> list[av.Packet[Any]]:
        """AAC for `item`; of sound from before the clip's first frame, the samples from the
        frame's time on (decoded anyway: sound starts with the picture, not a packet late)."""
        at = round((item.t - zero_t) * self.rate) if self.next_sample is None else None
        try:
            decoded = self.decoder.decode(av.Packet(item.data))
        except av.FFmpegError as e:
            if not self._warned:
                self._warned = True
                log.warning("audio in %s: cannot decode a packet: %s", self.info.codec, e)
            return []
        out: list[av.Packet[Any]] = []
        for frame in decoded:
            for resampled in self.resampler.resample(frame):
                kept: av.AudioFrame | None = resampled
                if at is not None:  # nothing placed yet
                    kept = self._from_clip_start(resampled, at)
                    at = None if kept is not None else at + resampled.samples
                if kept is not None:
                    out += self._encode(kept)
        return out

    def _from_clip_start(self, frame: av.AudioFrame, at: int) -> av.AudioFrame | None:
        """The first sound placed: `frame` starts `at` samples after the clip's start (before
        it when negative), and what is before the start is cut off."""
        if at + frame.samples <= 0:
            return None
        self.next_sample = max(0, at)
        return frame if at >= 0 else _cut(frame, -at)

    def _encode(self, frame: av.AudioFrame | None) -> list[av.Packet[Any]]:
        if frame is not None:
            assert self.next_sample is not None
            frame.pts, frame.time_base = self.next_sample, self.time_base
            self.next_sample += frame.samples
        return list(self.stream.encode(frame))

    def flush(self) -> list[av.Packet[Any]]:
        return self._encode(None) if self.next_sample is not None else []


def _cut(frame: av.AudioFrame, skip: int) -> av.AudioFrame:
    """`frame` (planar float, as the resampler makes them) without its first `skip` samples."""
    kept = np.ascontiguousarray(frame.to_ndarray()[:, skip:], dtype=np.float32)
    out = av.AudioFrame.from_ndarray(kept, format=frame.format.name, layout=frame.layout.name)
    out.sample_rate = frame.sample_rate
    return out
