"""Packet timing: the camera's timestamps become capture times, broken ones are repaired."""

from __future__ import annotations

import itertools
import logging
from fractions import Fraction

from camwatch.capture.packets import SourceClock, StreamClock, StreamInfo

TB = Fraction(1, 90000)


def test_capture_times_follow_the_cameras_timestamps_not_arrival_jitter():
    clock = StreamClock("cam video", TB, SourceClock())
    times = []
    for i in range(50):
        jitter = 0.03 if i % 3 == 1 else 0.0  # late packets
        _, _, t, _ = clock.place(i * 9000, i * 9000, 100.0 + i / 10 + jitter, 1e9 + i / 10)
        times.append(t)
    steps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert steps == {0.1}
    assert times[0] == 100.0


def test_a_burst_of_buffered_packets_does_not_stretch_the_timeline():
    clock = StreamClock("cam video", TB, SourceClock())
    # ten packets buffered while the stream was probed arrive at once, then real time
    placed = [clock.place(i * 9000, i * 9000, 101.0, 0.0)[2] for i in range(10)]
    placed += [
        clock.place(i * 9000, i * 9000, 100.0 + i / 10 + 0.01, 0.0)[2] for i in range(10, 20)
    ]
    assert all(a <= b for a, b in itertools.pairwise(placed))
    assert abs(placed[-1] - (100.0 + 1.9 + 0.01)) < 1e-6


def test_broken_timestamps_are_retimed_by_arrival_and_logged_once(caplog):
    clock = StreamClock("cam video", TB, SourceClock())
    stamps = [0, 9000, 18000, None, 9000, 5_000_000_000, 27000, 36000]
    with caplog.at_level(logging.WARNING):
        dts = [clock.place(s, s, 100.0 + i / 10, 0.0)[0] for i, s in enumerate(stamps)]
    assert all(a < b for a, b in itertools.pairwise(dts)), dts
    assert dts[3] - dts[2] == 9000  # retimed from its arrival, 0.1 s later
    warnings = [r for r in caplog.records if "broken timestamps" in r.getMessage()]
    assert len(warnings) == 1


def test_streams_of_one_source_share_the_cameras_timeline():
    shared = SourceClock()
    video = StreamClock("v", TB, shared)
    audio = StreamClock("a", Fraction(1, 48000), shared)
    _, _, tv, _ = video.place(90000, 90000, 50.0, 0.0)  # video at camera second 1.0
    _, _, ta, _ = audio.place(48000 * 2, 48000 * 2, 51.0, 0.0)  # audio at second 2.0
    assert ta - tv == 1.0


def test_mse_codec_string_from_avcc_or_annexb_extradata():
    avcc = StreamInfo("video", "h264", TB, bytes([1, 0x64, 0x00, 0x1F, 0xFF]))
    assert avcc.mse_codec() == "avc1.64001f"
    annexb = StreamInfo("video", "h264", TB, b"\x00\x00\x00\x01\x67\x42\xc0\x1e\x00\x00\x01\x68")
    assert annexb.mse_codec() == "avc1.42c01e"


def test_mse_codec_string_of_aac_from_its_audio_specific_config():
    def aac(config: bytes | None) -> StreamInfo:
        return StreamInfo("audio", "aac", Fraction(1, 48000), config, sample_rate=48000)

    assert aac(bytes([0x11, 0x90])).mse_codec() == "mp4a.40.2"  # AAC-LC, 48 kHz, mono
    assert aac(bytes([0x2B, 0x92, 0x08, 0x00])).mse_codec() == "mp4a.40.5"  # HE-AAC
    assert aac(None).mse_codec() == "mp4a.40.2"  # no config: LC, what cameras send
    assert aac(None).browser_playable
    assert not StreamInfo("audio", "pcm_alaw", Fraction(1, 8000)).browser_playable


def test_timestamps_become_the_same_seconds_as_exact_rational_arithmetic():
    for time_base in (TB, Fraction(1, 48000), Fraction(1001, 30000), Fraction(1, 1000)):
        clock = StreamClock("cam", time_base, SourceClock())
        for ticks in (0, 1, 3003, 9000, 123_456_789, 2**40 + 7):
            assert clock.seconds(ticks) == float(ticks * time_base)
        assert clock.ticks(float(9000 * time_base)) == 9000
