"""sps_sizes: the picture size of each SPS in a packet, as FFmpeg reads it, for x264's profiles,
Annex B and MP4 framing; a crafted huge SPS is read as huge, a cut one as nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from camwatch.capture.h264_sps import sps_sizes

AVCC = bytes([1, 0x42, 0xC0, 0x1E, 0xFF])  # an avcC box's first bytes: 4-byte NAL lengths


def first_packet(path: Path, size: str, options: list[str]) -> tuple[bytes, tuple[int, int]]:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=s={size}:r=10", "-t", "1",
         "-c:v", "libx264", *options, "-f", "mpegts", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packet = next(p for p in container.demux(stream) if p.size)
        return bytes(packet), (stream.width, stream.height)


@pytest.mark.parametrize(
    ("size", "options"),
    [
        ("480x360", ["-profile:v", "baseline", "-pix_fmt", "yuv420p"]),
        ("1920x1080", ["-profile:v", "high", "-pix_fmt", "yuv420p"]),  # cropped from 1088
        ("642x364", ["-pix_fmt", "yuv420p", "-flags", "+ildct+ilme", "-x264opts", "tff=1"]),
        ("300x200", ["-profile:v", "high444", "-pix_fmt", "yuv444p"]),
        ("322x202", ["-profile:v", "high422", "-pix_fmt", "yuv422p"]),
        ("1280x720", ["-pix_fmt", "yuv420p", "-x264opts", "cqm=jvt"]),  # scaling lists
    ],
)
def test_the_size_is_the_one_ffmpeg_reads(tmp_path, size, options):
    data, declared = first_packet(tmp_path / "s.ts", size, options)
    assert list(sps_sizes(data, None)) == [declared]
    assert f"{declared[0]}x{declared[1]}" == size


def test_mp4_framing_and_packets_without_sps(tmp_path):
    data, declared = first_packet(tmp_path / "s.ts", "480x360", ["-pix_fmt", "yuv420p"])
    units = [u.rstrip(b"\x00") for u in data.split(b"\x00\x00\x01")[1:]]
    framed = b"".join(len(u).to_bytes(4, "big") + u for u in units)
    assert list(sps_sizes(framed, AVCC)) == [declared]
    slices = b"".join(len(u).to_bytes(4, "big") + u for u in units if u[0] & 0x1F != 7)
    assert list(sps_sizes(slices, AVCC)) == []


def test_an_mp4_packet_that_begins_like_a_start_code_is_read_as_mp4(tmp_path):
    path = tmp_path / "small.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "cellauto=s=160x120:r=10", "-t", "60",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = stream.codec_context.extradata
        packets = [bytes(p) for p in container.demux(stream) if p.size]
    # a first unit 256-511 bytes long: its length's bytes are 00 00 01 and a "NAL header"
    assert any(p.startswith(b"\x00\x00\x01") for p in packets)
    assert [size for p in packets for size in sps_sizes(p, extradata)] == []
    p_slice = bytes([0x41]) + bytes(range(1, 255)) + bytes(range(1, 9))  # 263 bytes: 00 00 01 07
    assert list(sps_sizes(len(p_slice).to_bytes(4, "big") + p_slice, AVCC)) == []


def exp_golomb(value: int) -> str:
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


def baseline_sps(width_mbs: int, height_mbs: int) -> bytes:
    """An SPS NAL unit (Annex B) of a Baseline stream, width_mbs x height_mbs macroblocks."""
    bits = "01000010" + "0" * 16  # profile 66, constraints, level
    bits += exp_golomb(0) + exp_golomb(0) + exp_golomb(0) + exp_golomb(0)  # id, frame_num, poc
    bits += exp_golomb(1) + "0"  # refs, gaps
    bits += exp_golomb(width_mbs - 1) + exp_golomb(height_mbs - 1) + "1" + "1" + "0" + "0" + "1"
    bits += "0" * (-len(bits) % 8)
    payload = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return b"\x00\x00\x00\x01\x67" + payload.replace(b"\x00\x00", b"\x00\x00\x03")


def test_a_crafted_huge_sps_is_read_as_huge_and_a_cut_one_as_nothing():
    sps = baseline_sps(2000, 2000)
    assert list(sps_sizes(sps, None)) == [(32000, 32000)]
    assert list(sps_sizes(baseline_sps(30, 17), None)) == [(480, 272)]
    assert list(sps_sizes(sps[:9], None)) == []
