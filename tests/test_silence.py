"""silent_frame: AAC-LC silence a track's own decoder configuration decodes, none for HE-AAC."""

from __future__ import annotations

import av
import numpy as np

from camwatch.recording.silence import SAMPLES_PER_FRAME, silent_frame

LC_16K_MONO = bytes([0x14, 0x08])  # as cameras send it: object type 2, 16 kHz, 1 channel
HE_16K_MONO = bytes([0x2C, 0x08])  # object type 5 (SBR)


def decoded(frame: bytes, extradata: bytes, rate: int, layout: str) -> np.ndarray:
    decoder = av.CodecContext.create("aac", "r")
    assert isinstance(decoder, av.AudioCodecContext)
    decoder.extradata, decoder.sample_rate, decoder.layout = extradata, rate, layout
    out = [f.to_ndarray() for f in decoder.decode(av.Packet(frame))]
    return np.concatenate(out, axis=1)


def test_a_silent_frame_decodes_to_one_frame_of_zeros_with_a_cameras_config():
    frame = silent_frame(LC_16K_MONO, 16000, "mono")
    assert frame is not None
    samples = decoded(frame, LC_16K_MONO, 16000, "mono")
    assert samples.shape == (1, SAMPLES_PER_FRAME) and not samples.any()


def test_stereo_at_48_khz_has_its_own_frame():
    config = bytes([0x11, 0x90])  # object type 2, 48 kHz, 2 channels
    frame = silent_frame(config, 48000, "stereo")
    assert frame is not None
    assert decoded(frame, config, 48000, "stereo").shape == (2, SAMPLES_PER_FRAME)


def test_no_frame_for_he_aac_or_another_rate():
    assert silent_frame(HE_16K_MONO, 16000, "mono") is None
    assert silent_frame(LC_16K_MONO, 48000, "mono") is None
    assert silent_frame(None, 16000, "mono") is None
