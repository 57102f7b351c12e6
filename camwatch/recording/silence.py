"""Silent AAC-LC frames that a copied AAC track's own decoder configuration plays."""

from __future__ import annotations

import logging

import av
import numpy as np

log = logging.getLogger(__name__)

AAC_LC = 2
SAMPLES_PER_FRAME = 1024
# FFmpeg's encoder primes with one frame and marks its first real one: later ones are plain
_STEADY_FRAME = 3


def silent_frame(extradata: bytes | None, sample_rate: int, layout: str) -> bytes | None:
    """One AAC frame of silence for a track whose AudioSpecificConfig is `extradata`; None when
    the track is not AAC-LC at this rate and layout as FFmpeg's encoder makes it (HE-AAC, or
    a configuration ours would not match: its frames might not decode there)."""
    try:
        encoder = av.CodecContext.create("aac", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate, encoder.layout, encoder.format = sample_rate, layout, "fltp"
        encoder.open()
        if not _same_config(extradata or b"", encoder.extradata or b""):
            return None
        return _encode_silence(encoder, len(encoder.layout.channels))
    except (av.FFmpegError, ValueError) as e:
        log.debug("no silent AAC for %d Hz %s: %s", sample_rate, layout, e)
        return None


def _same_config(track: bytes, ours: bytes) -> bool:
    """Same object type (AAC-LC), sampling rate and channels (the first 13 bits), and either
    no extension or the same one (ours says "no SBR")."""
    if len(track) < 2 or len(ours) < 2 or track[0] >> 3 != AAC_LC:
        return False
    head = (track[0], track[1] & 0xF8) == (ours[0], ours[1] & 0xF8)
    return head and (len(track) == 2 or track[2:] == ours[2:])


def _encode_silence(encoder: av.AudioCodecContext, channels: int) -> bytes | None:
    zeros = np.zeros((channels, SAMPLES_PER_FRAME), np.float32)
    packets = []
    for i in range(_STEADY_FRAME + 1):
        frame = av.AudioFrame.from_ndarray(zeros, "fltp", encoder.layout.name)
        frame.sample_rate, frame.pts = encoder.sample_rate, i * SAMPLES_PER_FRAME
        packets += encoder.encode(frame)
    return bytes(packets[-1]) if len(packets) >= _STEADY_FRAME else None
