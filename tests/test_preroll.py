"""Pre-roll buffers: frames by time; packets from the keyframe at or before the pre-roll start."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.recording import preroll
from camwatch.recording.preroll import PacketBuffer

VIDEO = StreamInfo("video", "h264", Fraction(1, 90000), width=320, height=240)
AUDIO = StreamInfo("audio", "aac", Fraction(1, 48000), sample_rate=48000, channels=1)


def video(t: float, *, keyframe: bool, size: int = 100) -> EncodedPacket:
    ticks = round(t * 90000)
    return EncodedPacket(VIDEO, bytes(size), ticks, ticks, t, 1e9 + t, keyframe)


def audio(t: float) -> EncodedPacket:
    ticks = round(t * 48000)
    return EncodedPacket(AUDIO, bytes(10), ticks, ticks, t, 1e9 + t, True)


def camera(buffer: PacketBuffer, seconds: float, gop_s: float, pre_roll: float) -> None:
    """10 fps video with a keyframe every gop_s, and audio packets between the frames."""
    for i in range(round(seconds * 10)):
        t = i / 10
        buffer.push(video(t, keyframe=(i % round(gop_s * 10)) == 0), pre_roll)
        buffer.push(audio(t + 0.05), pre_roll)


def test_clip_starts_at_the_keyframe_at_or_before_the_pre_roll_start():
    buffer = PacketBuffer()
    camera(buffer, seconds=10, gop_s=1.0, pre_roll=2.0)
    packets = buffer.since(9.9 - 2.0)  # trigger at 9.9 s
    assert packets[0].is_video and packets[0].keyframe and packets[0].t == 7.0
    assert round(packets[-1].t, 6) == 9.95
    assert all(a.t <= b.t for a, b in itertools.pairwise(packets))


def test_a_long_gop_makes_a_longer_pre_roll_never_a_non_keyframe_start():
    buffer = PacketBuffer()
    camera(buffer, seconds=20, gop_s=8.0, pre_roll=2.0)  # keyframes at 0, 8, 16 s
    packets = buffer.since(19.9 - 2.0)
    assert packets[0].keyframe and packets[0].t == 16.0
    buffer = PacketBuffer()
    camera(buffer, seconds=17.5, gop_s=8.0, pre_roll=2.0)
    packets = buffer.since(17.4 - 2.0)  # the pre-roll starts before the keyframe at 16 s
    assert packets[0].keyframe and packets[0].t == 8.0


def test_packets_before_the_first_keyframe_are_not_kept():
    buffer = PacketBuffer()
    for i in range(5):
        buffer.push(video(i / 10, keyframe=False), 2.0)
    assert len(buffer) == 0 and buffer.since(0.0) == []
    buffer.push(video(0.5, keyframe=True), 2.0)
    assert [p.t for p in buffer.since(0.0)] == [0.5]


def test_memory_is_bounded_even_with_an_endless_gop(monkeypatch):
    monkeypatch.setattr(preroll, "MAX_PACKET_BYTES", 50_000)
    buffer = PacketBuffer()
    for i in range(2000):
        buffer.push(video(i / 10, keyframe=i % 100 == 0, size=1000), 2.0)
    held = buffer.since(0.0)
    assert sum(len(p) for p in held) <= 150_000  # at most the last GOP over the bound
    assert held[0].keyframe


def test_sound_pre_roll_keeps_the_last_seconds_and_a_little_more():
    buffer = preroll.AudioPreRoll()
    for i in range(600):  # a minute of a microphone's 0.1 s packets
        buffer.push(audio(i / 10), 2.0)
    held = buffer.drain()
    # from 2 s (and the slack) before the newest packet on: sized in time, not a growing list
    assert held[0].t == pytest.approx(59.9 - 2.0 - preroll.AUDIO_SLACK_S, abs=1e-6)
    assert held[-1].t == pytest.approx(59.9)
    assert len(held) == round((2.0 + preroll.AUDIO_SLACK_S) * 10) + 1
    assert len(buffer) == 0  # drained for the clip
