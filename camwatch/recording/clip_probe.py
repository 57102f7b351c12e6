"""Reading clips back: frames and duration of a cut-off fragmented MP4, and repairing it."""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I4s")


@dataclass(frozen=True)
class ClipProbe:
    """What a clip holds: whole frames, the time from the first to the last, and the first image."""

    frames: int
    duration_s: float
    first_image: np.ndarray  # BGR


def probe_clip(path: Path) -> ClipProbe | None:
    """Count the whole video packets (demuxing only; corrupt, i.e. cut-off, ones are skipped)
    and decode the first frame; None if the file holds no decodable video."""
    timestamps: list[int] = []
    first_image: np.ndarray | None = None
    time_base = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            time_base = stream.time_base
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_corrupt or packet.pts is None:
                    continue
                timestamps.append(packet.pts)
                if first_image is None:
                    first_image = _decode_first(packet)
    except (av.FFmpegError, OSError, EOFError) as e:
        log.debug("probing %s stopped: %s", path, e)
    if first_image is None or not timestamps or time_base is None:
        return None
    duration = float((max(timestamps) - min(timestamps)) * time_base)
    return ClipProbe(frames=len(timestamps), duration_s=duration, first_image=first_image)


def _decode_first(packet: av.Packet[Any]) -> np.ndarray | None:
    try:
        frames = packet.decode()
    except av.FFmpegError:
        return None
    for frame in frames:
        image: np.ndarray = frame.to_ndarray(format="bgr24")
        return image
    return None


def trim_partial_fragment(path: Path) -> int:
    """Cut a fragmented MP4 back to its last whole fragment (what a crash mid-write leaves)
    so players do not stumble at the end; returns the file's size afterwards.

    Only fragmented files (with a `moof`) are touched: anything else is left as it is.
    """
    size = path.stat().st_size
    boxes = _top_level_boxes(path, size)
    if not any(kind == b"moof" for _, kind, _ in boxes):
        return size
    keep = size
    for index, (offset, kind, length) in enumerate(boxes):
        if offset + length <= size:
            continue
        keep = offset  # this box runs past the end of the file
        if kind == b"mdat" and index > 0 and boxes[index - 1][1] == b"moof":
            keep = boxes[index - 1][0]  # a fragment header without its data is useless
        break
    else:
        last_offset, last_kind, _ = boxes[-1] if boxes else (0, b"", 0)
        if last_kind == b"moof":
            keep = last_offset
    if keep < size:
        os.truncate(path, keep)
        log.info("trimmed %s from %d to %d bytes (partial last fragment)", path.name, size, keep)
    return keep


def _top_level_boxes(path: Path, size: int) -> list[tuple[int, bytes, int]]:
    """(offset, type, length) of each top-level box; the last may claim more than the file holds."""
    boxes: list[tuple[int, bytes, int]] = []
    offset = 0
    with open(path, "rb") as file:
        while offset + _HEADER.size <= size:
            file.seek(offset)
            length, kind = _HEADER.unpack(file.read(_HEADER.size))
            if length == 1:
                large = file.read(8)
                cut_off = len(large) < 8  # the header itself: make the box run past the end
                length = size - offset + 1 if cut_off else struct.unpack(">Q", large)[0]
            elif length == 0:
                length = size - offset  # extends to the end of the file
            if length < _HEADER.size:
                break  # not a box: stop rather than guess
            boxes.append((offset, kind, length))
            offset += length
    if 0 < size - offset < _HEADER.size:
        boxes.append((offset, b"", _HEADER.size))  # a few stray bytes of a box header
    return boxes
