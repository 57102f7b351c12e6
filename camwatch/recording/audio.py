"""Audio for clips: AAC from the camera copied as is; G.711, PCM, Opus and whatever else FFmpeg
decodes transcoded to AAC once, placed by capture time."""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

import av

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
        if self.next_sample is None:
            start = round((item.t - zero_t) * self.rate)
            if start < 0:
                return []  # audio from before the clip's first keyframe
            self.next_sample = start
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
                out += self._encode(resampled)
        return out

    def _encode(self, frame: av.AudioFrame | None) -> list[av.Packet[Any]]:
        if frame is not None:
            assert self.next_sample is not None
            frame.pts, frame.time_base = self.next_sample, self.time_base
            self.next_sample += frame.samples
        return list(self.stream.encode(frame))

    def flush(self) -> list[av.Packet[Any]]:
        return self._encode(None) if self.next_sample is not None else []
