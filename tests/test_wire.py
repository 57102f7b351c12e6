"""Wire bytes: built once per frame and shared, framed correctly for MJPEG and websockets."""

from __future__ import annotations

import gc
import struct

from camwatch.frame import Frame
from camwatch.server import wire

JPEG = b"\xff\xd8" + bytes(range(256)) * 300 + b"\xff\xd9"


def frame() -> Frame:
    return Frame.from_jpeg(JPEG, 7, 64, 48, captured_at=1700000000.25, monotonic=1.0)


def test_mjpeg_part_is_built_once_per_frame_and_shared():
    cache, f = wire.WireCache(), frame()
    first = cache.mjpeg_part(f, JPEG, chunked=True)
    assert cache.mjpeg_part(f, JPEG, chunked=True) is first
    assert cache.mjpeg_part(f, JPEG, chunked=False) != first
    assert cache.mjpeg_part(frame(), JPEG, chunked=True) is not first


def test_the_cache_holds_no_frame_nobody_else_holds():
    cache, f = wire.WireCache(), frame()
    cache.mjpeg_part(f, JPEG, chunked=True)
    cache.websocket_messages(f, JPEG, as_text=True, meta=None)
    assert len(cache) == 1
    del f
    gc.collect()
    assert len(cache) == 0


def test_chunked_part_is_one_http_chunk_holding_one_multipart_part():
    data = wire.mjpeg_part(frame(), JPEG, chunked=True)
    size, _, rest = data.partition(b"\r\n")
    assert rest.endswith(b"\r\n") and len(rest) == int(size, 16) + 2
    part = rest[:-2]
    head, _, body = part.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"--camwatchframe",
        b"Content-Type: image/jpeg",
        b"Content-Length: %d" % len(JPEG),
        b"X-Timestamp: 1700000000.250000",
        b"X-Sequence: 7",
    ]
    assert body == JPEG + b"\r\n"


def test_plain_part_has_no_chunk_framing():
    data = wire.mjpeg_part(frame(), JPEG, chunked=False)
    assert data.startswith(b"--camwatchframe\r\n") and data.endswith(JPEG + b"\r\n")


def parse_websocket_frames(data: bytes) -> list[tuple[int, bytes]]:
    frames = []
    while data:
        first, second = data[0], data[1]
        assert first & 0x80 and not second & 0x80  # final, unmasked
        length, offset = second & 0x7F, 2
        if length == 126:
            length, offset = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            length, offset = struct.unpack("!Q", data[2:10])[0], 10
        frames.append((first & 0x0F, data[offset : offset + length]))
        data = data[offset + length :]
    return frames


def test_websocket_messages_meta_then_binary_jpeg_built_once():
    f = frame()
    calls = []

    def meta() -> str:
        calls.append(1)
        return '{"type": "meta", "seq": 7}'

    cache = wire.WireCache()
    data = cache.websocket_messages(f, JPEG, as_text=False, meta=meta)
    assert cache.websocket_messages(f, JPEG, as_text=False, meta=meta) is data
    assert len(calls) == 1
    plain = cache.websocket_messages(f, JPEG, as_text=False, meta=None)
    assert parse_websocket_frames(plain) == [(2, JPEG)]
    assert parse_websocket_frames(data) == [(1, b'{"type": "meta", "seq": 7}'), (2, JPEG)]


def test_websocket_frame_lengths_at_the_size_boundaries():
    for size in (0, 125, 126, 65535, 65536):
        payload = b"x" * size
        assert parse_websocket_frames(wire.websocket_frame(2, payload)) == [(2, payload)]
