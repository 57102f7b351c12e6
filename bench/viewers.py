"""Benchmark viewers: many websocket and MJPEG clients in one process, timing every frame they get.

Run as its own process: `python3 bench/viewers.py --base URL --ws N --mjpeg M --start T0 --end T1`.
Clients connect at once and stay until T1 plus a grace second (wall-clock times), then a JSON
summary goes to stdout. Frames are parsed incrementally with no copies of the JPEG payload:
the clients check each payload starts and ends like a JPEG, and note its sequence number and
capture time (`X-Sequence`/`X-Timestamp` part headers for MJPEG, the `?meta=1` message for
websockets) and when its last byte arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

GRACE_S = 1.0
RECEIVE_BUFFER = 256 * 1024


@dataclass
class Received:
    """What one viewer got: (seq or -1, captured_at or 0, arrival) per whole frame."""

    kind: str
    frames: list[tuple[int, float, float]] = field(default_factory=list)
    bad_frames: int = 0
    error: str = ""
    connected: bool = False


class Payload:
    """Counts a payload's bytes without keeping them; remembers its first and last two bytes."""

    def __init__(self, length: int) -> None:
        self.remaining = length
        self.head = b""
        self.tail = b""

    def feed(self, data: memoryview) -> int:
        """Consume up to `remaining` bytes of data; returns how many were taken."""
        taken = min(len(data), self.remaining)
        if taken:
            if len(self.head) < 2:
                self.head = (self.head + bytes(data[:2]))[:2]
            self.tail = (self.tail + bytes(data[max(0, taken - 2) : taken]))[-2:]
            self.remaining -= taken
        return taken

    def is_jpeg(self) -> bool:
        return self.head == b"\xff\xd8" and self.tail == b"\xff\xd9"


class HttpHead:
    """Collects a header block up to the blank line."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: memoryview) -> tuple[bytes | None, int]:
        """(the header block once complete, bytes of data consumed)."""
        before = len(self.buffer)
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > 65536:
                raise ValueError("header block too long")
            return None, len(data)
        block = bytes(self.buffer[:end])
        self.buffer.clear()
        return block, end + 4 - before


def header_fields(block: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return fields


class MultipartParser:
    """multipart/x-mixed-replace parts with Content-Length (camwatch, Motion and most cameras)."""

    def __init__(self, on_frame: Callable[[dict[str, str], Payload], None]) -> None:
        self._on_frame = on_frame
        self._head = HttpHead()
        self._fields: dict[str, str] = {}
        self._body: Payload | None = None

    def feed(self, data: memoryview) -> None:
        while len(data):
            if self._body is None:
                block, used = self._head.feed(data)
                data = data[used:]
                if block is None:
                    return
                block = block.lstrip(b"\r\n")
                self._fields = header_fields(block)
                self._body = Payload(int(self._fields.get("content-length", "0")))
            used = self._body.feed(data)
            data = data[used:]
            if self._body.remaining == 0:
                self._on_frame(self._fields, self._body)
                self._body = None


class Dechunker:
    """HTTP/1.1 chunked transfer decoding, passing chunk data on as memoryview slices."""

    def __init__(self, sink: Callable[[memoryview], None]) -> None:
        self._sink = sink
        self._line = bytearray()
        self._remaining = 0
        self._skip_crlf = 0

    def feed(self, data: memoryview) -> None:
        while len(data):
            if self._skip_crlf:
                used = min(self._skip_crlf, len(data))
                self._skip_crlf -= used
                data = data[used:]
            elif self._remaining:
                used = min(self._remaining, len(data))
                self._sink(data[:used])
                self._remaining -= used
                data = data[used:]
                if not self._remaining:
                    self._skip_crlf = 2
            else:
                end = bytes(data[:64]).find(b"\n")
                if end < 0:
                    self._line += data
                    return
                self._line += data[: end + 1]
                data = data[end + 1 :]
                size = self._line.strip().split(b";")[0]
                self._line.clear()
                if size:
                    self._remaining = int(size, 16)
                    if self._remaining == 0:
                        raise ConnectionError("stream ended")


class Viewer(asyncio.BufferedProtocol):
    """One client connection; subclasses parse the body after the HTTP response head."""

    kind = "viewer"

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = Received(self.kind)
        self._buffer = bytearray(RECEIVE_BUFFER)
        self._head: HttpHead | None = HttpHead()
        self.transport: asyncio.Transport | None = None
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._buffer)

    def buffer_updated(self, nbytes: int) -> None:
        data = memoryview(self._buffer)[:nbytes]
        try:
            if self._head is not None:
                block, used = self._head.feed(data)
                if block is None:
                    return
                self._head = None
                self.on_response(block)
                data = data[used:]
            self.on_body(data)
        except (ValueError, ConnectionError) as e:
            self.fail(str(e))

    def on_response(self, block: bytes) -> None:
        raise NotImplementedError

    def on_body(self, data: memoryview) -> None:
        raise NotImplementedError

    def frame_done(self, seq: int, captured_at: float, payload: Payload) -> None:
        if payload.is_jpeg():
            self.received.frames.append((seq, captured_at, time.time()))
        else:
            self.received.bad_frames += 1

    def fail(self, message: str) -> None:
        if not self.received.error:
            self.received.error = message
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class MjpegViewer(Viewer):
    kind = "mjpeg"

    def __init__(self, request: bytes) -> None:
        super().__init__(request)
        self._parts = MultipartParser(self._part)
        self._body_sink: Callable[[memoryview], None] = self._parts.feed

    def on_response(self, block: bytes) -> None:
        status = block.split(b"\r\n", 1)[0]
        if b" 200" not in status:
            raise ValueError(status.decode("latin-1"))
        self.received.connected = True
        if header_fields(block).get("transfer-encoding", "").lower() == "chunked":
            self._body_sink = Dechunker(self._parts.feed).feed

    def on_body(self, data: memoryview) -> None:
        self._body_sink(data)

    def _part(self, fields: dict[str, str], payload: Payload) -> None:
        self.frame_done(
            int(fields.get("x-sequence", "-1")), float(fields.get("x-timestamp", "0")), payload
        )


class WebSocketViewer(Viewer):
    """Reads server frames (never masked); answers pings; pairs each meta message with its JPEG."""

    kind = "ws"

    def __init__(self, request: bytes) -> None:
        super().__init__(request)
        self._header = bytearray()
        self._payload: Payload | None = None
        self._opcode = 0
        self._text = bytearray()
        self._meta: tuple[int, float] = (-1, 0.0)

    def on_response(self, block: bytes) -> None:
        if b" 101" not in block.split(b"\r\n", 1)[0]:
            raise ValueError(block.split(b"\r\n", 1)[0].decode("latin-1"))
        self.received.connected = True

    def on_body(self, data: memoryview) -> None:
        while len(data):
            if self._payload is None:
                need = self._header_length()
                take = min(len(data), need - len(self._header))
                self._header += data[:take]
                data = data[take:]
                if len(self._header) < self._header_length():
                    continue
                self._start_payload()
                if self._payload is None:
                    continue
            assert self._payload is not None
            if self._opcode != 2:
                self._text += data[: self._payload.remaining]
            used = self._payload.feed(data)
            data = data[used:]
            if self._payload.remaining == 0:
                self._end_payload()

    def _header_length(self) -> int:
        if len(self._header) < 2:
            return 2
        length = self._header[1] & 0x7F
        return 2 + (2 if length == 126 else 8 if length == 127 else 0)

    def _start_payload(self) -> None:
        header, self._header = bytes(self._header), bytearray()
        self._opcode = header[0] & 0x0F
        length = header[1] & 0x7F
        if length == 126:
            length = int.from_bytes(header[2:4], "big")
        elif length == 127:
            length = int.from_bytes(header[2:10], "big")
        self._payload = Payload(length)
        self._text.clear()
        if length == 0:
            self._end_payload()

    def _end_payload(self) -> None:
        payload, self._payload = self._payload, None
        assert payload is not None
        if self._opcode == 2:
            seq, captured_at = self._meta
            self._meta = (-1, 0.0)
            self.frame_done(seq, captured_at, payload)
        elif self._opcode == 1:
            message = json.loads(bytes(self._text))
            if message.get("type") == "meta":
                self._meta = (int(message["seq"]), float(message["t"]))
        elif self._opcode == 9:
            self._send(0xA, bytes(self._text))
        elif self._opcode == 8:
            self.fail("closed by server")

    def _send(self, opcode: int, data: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        if self.transport is not None:
            self.transport.write(bytes([0x80 | opcode, 0x80 | len(data)]) + mask + masked)


def request_for(url: str, websocket: bool) -> bytes:
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: camwatch-bench"]
    if websocket:
        key = base64.b64encode(os.urandom(16)).decode()
        lines += [
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def run_viewer(url: str, websocket: bool, end: float) -> Received:
    loop = asyncio.get_running_loop()
    parts = urllib.parse.urlsplit(url)
    request = request_for(url, websocket)
    factory: Callable[[], Viewer] = (
        (lambda: WebSocketViewer(request)) if websocket else (lambda: MjpegViewer(request))
    )
    try:
        _, viewer = await asyncio.wait_for(
            loop.create_connection(factory, parts.hostname or "127.0.0.1", parts.port or 80), 10
        )
    except (OSError, TimeoutError) as e:
        return Received("ws" if websocket else "mjpeg", error=f"connect: {e}")
    try:
        await asyncio.wait_for(asyncio.shield(viewer.done), max(0.0, end - time.time()))
        viewer.fail(viewer.received.error or "disconnected early")
    except TimeoutError:
        viewer.close()
    return viewer.received


async def run_all(args: argparse.Namespace) -> list[Received]:
    end = args.end + GRACE_S
    tasks = [run_viewer(url, True, end) for url in args.ws_url for _ in range(args.ws)]
    tasks += [run_viewer(url, False, end) for url in args.mjpeg_url for _ in range(args.mjpeg)]
    return list(await asyncio.gather(*tasks))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summarise(results: list[Received], start: float, end: float, fps: float) -> dict[str, object]:
    """Latency and share of frames for the frames captured (or, without timestamps, arrived)
    between start and end."""
    latencies: list[float] = []
    seqs: set[int] = set()
    counts: list[int] = []
    for received in results:
        in_window = [
            (seq, captured, arrived)
            for seq, captured, arrived in received.frames
            if start <= (captured or arrived) < end
        ]
        counts.append(len(in_window))
        latencies += [arrived - captured for _, captured, arrived in in_window if captured]
        seqs.update(seq for seq, _, _ in in_window if seq >= 0)
    captured_frames = (max(seqs) - min(seqs) + 1) if seqs else round((end - start) * fps)
    shares = [count / captured_frames for count in counts] if captured_frames else []

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "viewers": len(results),
        "connected": sum(r.connected for r in results),
        "errors": sorted({r.error for r in results if r.error}),
        "bad_frames": sum(r.bad_frames for r in results),
        "frames_captured": captured_frames,
        "capture_fps": round(captured_frames / (end - start), 2),
        "latency_p50_ms": ms(percentile(latencies, 50)),
        "latency_p99_ms": ms(percentile(latencies, 99)),
        "latency_max_ms": ms(max(latencies) if latencies else None),
        "share_min": round(min(shares), 4) if shares else None,
        "share_mean": round(sum(shares) / len(shares), 4) if shares else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--ws-url",
        action="append",
        default=[],
        help="websocket URL (repeatable), e.g. ws://127.0.0.1:8100/webcam?meta=1",
    )
    parser.add_argument("--mjpeg-url", action="append", default=[], help="MJPEG URL (repeatable)")
    parser.add_argument("--ws", type=int, default=0, help="websocket viewers per URL")
    parser.add_argument("--mjpeg", type=int, default=0, help="MJPEG viewers per URL")
    parser.add_argument("--start", type=float, required=True, help="window start (wall clock)")
    parser.add_argument("--end", type=float, required=True, help="window end (wall clock)")
    parser.add_argument(
        "--fps", type=float, default=10, help="nominal fps, for streams without sequence numbers"
    )
    args = parser.parse_args()
    results = asyncio.run(run_all(args))
    json.dump(summarise(results, args.start, args.end, args.fps), sys.stdout)
    print()


if __name__ == "__main__":
    main()
