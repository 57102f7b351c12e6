"""Per-frame wire bytes (MJPEG parts, websocket messages), built once and shared by all viewers."""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable

from camwatch.frame import Frame

BOUNDARY = b"camwatchframe"
OPCODE_TEXT, OPCODE_BINARY = 0x1, 0x2


def mjpeg_part(frame: Frame, data: bytes, *, chunked: bool) -> bytes:
    """One multipart part holding the frame's JPEG, framed as an HTTP/1.1 chunk if `chunked`.

    Cached on the frame: every MJPEG viewer of the frame gets the same bytes object, written
    straight to its socket (no per-viewer header formatting, joining or chunk copies).
    """
    key = "mjpeg-chunked" if chunked else "mjpeg"
    cached = frame.wire.get(key)
    if cached is None:
        head = (
            b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n"
            b"X-Timestamp: %.6f\r\nX-Sequence: %d\r\n\r\n"
            % (BOUNDARY, len(data), frame.captured_at, frame.seq)
        )
        if chunked:
            size = len(head) + len(data) + 2
            cached = b"".join((b"%x\r\n" % size, head, data, b"\r\n\r\n"))
        else:
            cached = b"".join((head, data, b"\r\n"))
        frame.wire[key] = cached
    return cached


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


def websocket_messages(
    frame: Frame, data: bytes, *, as_text: bool, meta: Callable[[], str] | None
) -> bytes:
    """The websocket frame(s) for one video frame: the optional meta text message, then the JPEG
    as binary or base64 text. Cached on the frame, so each variant is built once per frame
    (and the meta describes the frame as its first viewer saw it)."""
    key = ("ws-text" if as_text else "ws-binary") + ("-meta" if meta else "")
    cached = frame.wire.get(key)
    if cached is None:
        picture = (
            websocket_frame(OPCODE_TEXT, base64.b64encode(data))
            if as_text
            else websocket_frame(OPCODE_BINARY, data)
        )
        cached = (
            picture if meta is None else websocket_frame(OPCODE_TEXT, meta().encode()) + picture
        )
        frame.wire[key] = cached
    return cached
