"""Per-frame wire bytes (MJPEG parts, websocket messages), built once and shared by all viewers."""

from __future__ import annotations

import base64
import struct
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from camwatch.frame import Frame

BOUNDARY = b"camwatchframe"
OPCODE_TEXT, OPCODE_BINARY = 0x1, 0x2


@dataclass
class WireBytes:
    """One frame's bytes as each kind of viewer gets them."""

    mjpeg: dict[bool, bytes] = field(default_factory=dict)  # by chunked
    websocket: dict[tuple[bool, bool], bytes] = field(default_factory=dict)  # by (text, meta)


class WireCache:
    """The wire bytes of the frames viewers are being sent, built on the event loop by the
    first viewer that needs each kind and shared by the rest: every viewer of a frame gets
    the same bytes object, written straight to its socket (no per-viewer formatting, joining
    or chunk copies). Entries go with their frames (weak keys): nothing outlives its frame."""

    def __init__(self) -> None:
        self._frames: weakref.WeakKeyDictionary[Frame, WireBytes] = weakref.WeakKeyDictionary()

    def __len__(self) -> int:
        return len(self._frames)

    def _of(self, frame: Frame) -> WireBytes:
        entry = self._frames.get(frame)
        if entry is None:
            entry = self._frames[frame] = WireBytes()
        return entry

    def mjpeg_part(self, frame: Frame, data: bytes, *, chunked: bool) -> bytes:
        """One multipart part holding the frame's JPEG `data`, framed as an HTTP/1.1 chunk
        if `chunked`."""
        parts = self._of(frame).mjpeg
        cached = parts.get(chunked)
        if cached is None:
            cached = parts[chunked] = mjpeg_part(frame, data, chunked=chunked)
        return cached

    def websocket_messages(
        self, frame: Frame, data: bytes, *, as_text: bool, meta: Callable[[], str] | None
    ) -> bytes:
        """The websocket frame(s) for one video frame (see websocket_messages); the meta
        describes the frame as its first viewer saw it."""
        messages = self._of(frame).websocket
        key = (as_text, meta is not None)
        cached = messages.get(key)
        if cached is None:
            cached = messages[key] = websocket_messages(data, as_text=as_text, meta=meta)
        return cached


def mjpeg_part(frame: Frame, data: bytes, *, chunked: bool) -> bytes:
    """One multipart part holding the frame's JPEG, framed as an HTTP/1.1 chunk if `chunked`."""
    head = (
        b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n"
        b"X-Timestamp: %.6f\r\nX-Sequence: %d\r\n\r\n"
        % (BOUNDARY, len(data), frame.captured_at, frame.seq)
    )
    if chunked:
        size = len(head) + len(data) + 2
        return b"".join((b"%x\r\n" % size, head, data, b"\r\n\r\n"))
    return b"".join((head, data, b"\r\n"))


def websocket_frame(opcode: int, payload: bytes) -> bytes:
    """A final, unmasked server-to-client websocket frame (RFC 6455 section 5.2)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length <= 0xFFFF:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def websocket_messages(data: bytes, *, as_text: bool, meta: Callable[[], str] | None) -> bytes:
    """The optional meta text message, then the JPEG as binary or base64 text."""
    picture = (
        websocket_frame(OPCODE_TEXT, base64.b64encode(data))
        if as_text
        else websocket_frame(OPCODE_BINARY, data)
    )
    return picture if meta is None else websocket_frame(OPCODE_TEXT, meta().encode()) + picture
