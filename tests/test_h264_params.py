"""keyframe_extradata: a keyframe's SPS/PPS as the stream's extradata, in its framing: Annex B
for MPEG-TS and RTSP, the avcC record FFmpeg itself writes for MP4; decoders accept both."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av

from camwatch.capture.h264_params import keyframe_extradata


def encode(path: Path, fmt: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x240:r=10", "-t", "1",
         "-c:v", "libx264", "-profile:v", "baseline", "-pix_fmt", "yuv420p", "-f", fmt, str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def keyframe(path: Path) -> tuple[bytes, bytes | None]:
    """The first keyframe's bytes and the stream's own extradata."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        extradata = stream.codec_context.extradata
        packet = next(p for p in container.demux(stream) if p.size and p.is_keyframe)
        return bytes(packet), bytes(extradata) if extradata else None


def avcc_units(avcc: bytes) -> list[bytes]:
    """The SPS then the PPS of an avcC record of one of each (what x264 writes)."""
    sps_end = 8 + int.from_bytes(avcc[6:8], "big")
    pps_start = sps_end + 3  # the PPS count, then its 2-byte length
    pps_end = pps_start + int.from_bytes(avcc[sps_end + 1 : pps_start], "big")
    return [avcc[8:sps_end], avcc[pps_start:pps_end]]


def decodes_with(extradata: bytes, data: bytes) -> tuple[int, int]:
    codec = av.CodecContext.create("h264", "r")
    codec.extradata = extradata
    frames = codec.decode(av.Packet(data)) + codec.decode(None)
    return frames[0].width, frames[0].height


def test_an_annex_b_keyframe_gives_start_coded_sps_and_pps(tmp_path):
    data, _ = keyframe(encode(tmp_path / "cam.ts", "mpegts"))
    extradata = keyframe_extradata(data, None)
    assert extradata is not None
    units = extradata.split(b"\x00\x00\x00\x01")[1:]
    assert [unit[0] & 0x1F for unit in units] == [7, 8]  # SPS, PPS
    assert all(unit in data for unit in units)
    assert decodes_with(extradata, data) == (320, 240)


def test_an_mp4_keyframe_gives_the_avcc_record_ffmpeg_writes(tmp_path):
    data, own = keyframe(encode(tmp_path / "cam.mp4", "mp4"))
    assert own is not None and own[0] == 1  # avcC
    # x264 repeats no SPS in an MP4's packets: put them in band as a camera would
    in_band = b"".join(len(unit).to_bytes(4, "big") + unit for unit in avcc_units(own)) + data
    assert keyframe_extradata(in_band, own) == own
    assert decodes_with(own, in_band) == (320, 240)


def test_a_keyframe_without_a_pps_gives_nothing(tmp_path):
    data, _ = keyframe(encode(tmp_path / "cam.ts", "mpegts"))
    start = data.find(b"\x00\x00\x01\x68")  # the PPS (nal_ref_idc 3, type 8)
    assert start > 0
    assert keyframe_extradata(data[:start] + b"\x00\x00\x01\x65\x88", None) is None
