"""A stream's H.264 extradata rebuilt from a keyframe's own SPS and PPS (a camera's new size)."""

from __future__ import annotations

from collections.abc import Iterator

from camwatch.capture.h264_sps import nal_length_size

SPS, PPS = 7, 8
START_CODE = b"\x00\x00\x00\x01"


def nal_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    """Every NAL unit of a packet: length-prefixed (`length_size` bytes) or Annex B (None)."""
    if length_size is None:
        for unit in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
            if unit.rstrip(b"\x00"):
                yield unit.rstrip(b"\x00")
        return
    offset = 0
    while offset + length_size < len(data):
        length = int.from_bytes(data[offset : offset + length_size], "big")
        yield data[offset + length_size : offset + length_size + length]
        offset += length_size + length


def keyframe_extradata(data: bytes, extradata: bytes | None) -> bytes | None:
    """The extradata of a stream that starts at this keyframe, framed as the stream's own
    `extradata` is (avcC for MP4-style packets, else Annex B start codes); None when the
    packet does not carry both an SPS and a PPS."""
    length_size = nal_length_size(extradata)
    units = list(nal_units(data, length_size))
    sps = [u for u in units if u and u[0] & 0x1F == SPS]
    pps = [u for u in units if u and u[0] & 0x1F == PPS]
    if not sps or not pps or len(sps[0]) < 4:
        return None
    if length_size is None:
        return b"".join(START_CODE + unit for unit in sps + pps)
    return _avcc(sps, pps, length_size)


def _avcc(sps: list[bytes], pps: list[bytes], length_size: int) -> bytes:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1)."""
    head = bytes([1, sps[0][1], sps[0][2], sps[0][3], 0xFC | (length_size - 1)])
    out = [head, bytes([0xE0 | len(sps)])]
    out += [len(unit).to_bytes(2, "big") + unit for unit in sps]
    out.append(bytes([len(pps)]))
    out += [len(unit).to_bytes(2, "big") + unit for unit in pps]
    return b"".join(out)
