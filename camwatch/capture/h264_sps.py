"""The picture size an H.264 packet's SPS declares, read before anything decodes or allocates."""

from __future__ import annotations

from collections.abc import Iterator

SPS_NAL_TYPE = 7
MAX_SPS_BYTES = 1024  # an SPS is tens of bytes; a longer one is read this far (then: unknown)
# profiles whose SPS carries chroma format, bit depths and scaling lists (H.264 7.3.2.1.1)
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class _Truncated(Exception):
    """The SPS ends (or an Exp-Golomb code runs) past what it holds."""


class _Bits:
    """Big-endian bit reader over an RBSP (emulation prevention bytes removed)."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.left = len(data) * 8

    def read(self, count: int) -> int:
        if count > self.left:
            raise _Truncated
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
            if zeros > 31:
                raise _Truncated
        return (1 << zeros) - 1 + self.read(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def nal_length_size(extradata: bytes | None) -> int | None:
    """The length prefix of the stream's NAL units when its extradata is an avcC box (MP4,
    Matroska), else None: the packets are Annex B (start codes, as RTSP and MPEG-TS carry
    them). The framing must come from the stream: an MP4 packet whose first unit is 256-511
    bytes long begins with the bytes of a start code."""
    if extradata is not None and len(extradata) >= 5 and extradata[0] == 1:
        return (extradata[4] & 0x03) + 1
    return None


def sps_units(data: bytes, length_size: int | None) -> Iterator[bytes]:
    """The SPS NAL units of a packet framed as nal_length_size says. Only those are copied:
    this runs on every video packet."""
    if length_size is None:
        yield from _annex_b_sps_units(data)
        return
    offset = 0
    while offset + length_size < len(data):
        length = int.from_bytes(data[offset : offset + length_size], "big")
        if data[offset + length_size] & 0x1F == SPS_NAL_TYPE:
            yield data[offset + length_size : offset + length_size + length]
        offset += length_size + length


def _annex_b_sps_units(data: bytes) -> Iterator[bytes]:
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        start += 3
        end = data.find(b"\x00\x00\x01", start)
        if start < len(data) and data[start] & 0x1F == SPS_NAL_TYPE:
            yield data[start : len(data) if end < 0 else end].rstrip(b"\x00")
        start = end


def sps_sizes(data: bytes, extradata: bytes | None) -> Iterator[tuple[int, int]]:
    """(width, height) of each SPS that can be read in a packet of the stream whose extradata
    is `extradata` (it says how the packet is framed)."""
    for unit in sps_units(data, nal_length_size(extradata)):
        size = sps_size(unit)
        if size is not None:
            yield size


def sps_size(unit: bytes) -> tuple[int, int] | None:
    """The cropped picture size an SPS NAL unit declares; None if it cannot be read."""
    rbsp = unit[1 : 1 + MAX_SPS_BYTES].replace(b"\x00\x00\x03", b"\x00\x00")
    bits = _Bits(rbsp)
    try:
        profile = bits.read(8)
        bits.read(16)  # constraint flags, level
        bits.ue()  # seq_parameter_set_id
        chroma = _chroma_format(bits) if profile in HIGH_PROFILES else 1
        bits.ue()  # log2_max_frame_num_minus4
        _skip_picture_order(bits)
        bits.ue()  # max_num_ref_frames
        bits.read(1)  # gaps_in_frame_num_value_allowed_flag
        width_mbs, height_units = bits.ue() + 1, bits.ue() + 1
        frame_mbs_only = bits.read(1)
        if not frame_mbs_only:
            bits.read(1)  # mb_adaptive_frame_field_flag
        bits.read(1)  # direct_8x8_inference_flag
        width, height = width_mbs * 16, height_units * 16 * (2 - frame_mbs_only)
        if bits.read(1):  # frame_cropping_flag
            unit_x = 2 if chroma in (1, 2) else 1
            unit_y = (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
            left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
            width -= unit_x * (left + right)
            height -= unit_y * (top + bottom)
    except _Truncated:
        return None
    return (width, height) if width > 0 and height > 0 else None


def _chroma_format(bits: _Bits) -> int:
    chroma = bits.ue()
    if chroma == 3:
        bits.read(1)  # separate_colour_plane_flag
    bits.ue()  # bit_depth_luma_minus8
    bits.ue()  # bit_depth_chroma_minus8
    bits.read(1)  # qpprime_y_zero_transform_bypass_flag
    if bits.read(1):  # seq_scaling_matrix_present_flag
        for i in range(8 if chroma != 3 else 12):
            if bits.read(1):
                _skip_scaling_list(bits, 16 if i < 6 else 64)
    return chroma


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last, next_scale = 8, 8
    for _ in range(size):
        if next_scale != 0:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale if next_scale != 0 else last


def _skip_picture_order(bits: _Bits) -> None:
    kind = bits.ue()
    if kind == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif kind == 1:
        bits.read(1)  # delta_pic_order_always_zero_flag
        bits.se()  # offset_for_non_ref_pic
        bits.se()  # offset_for_top_to_bottom_field
        for _ in range(min(bits.ue(), 255)):  # num_ref_frames_in_pic_order_cnt_cycle
            bits.se()
