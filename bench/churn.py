"""Viewer churn against a camwatch server on loopback: many viewers connecting and leaving, one
steady viewer counting the frames it gets, and the server process's fds and RSS from /proc.

Used by bench/soak.py and tests/test_faults_viewers.py. Every loop is bounded by a deadline."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time
from dataclasses import dataclass, field

import tornado.httpclient
import tornado.websocket

KINDS = ("websocket", "websocket_base64", "mjpeg", "snapshot", "abort")


@dataclass
class ChurnStats:
    """What the churning viewers did (counts per kind; errors by message)."""

    connections: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    frames: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, e: BaseException) -> None:
        key = f"{type(e).__name__}: {e}"[:80]
        self.errors[key] = self.errors.get(key, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.connections.values())


@dataclass
class SteadyStats:
    """A viewer that stays: frames received against frames the camera sent meanwhile, the
    longest wait between two frames, the oldest frame on arrival, and whether a frame ever
    came older than (or the same as) one before it."""

    received: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    longest_gap_s: float = 0.0
    oldest_s: float = 0.0  # capture to arrival (wall clock), the worst one
    out_of_order: int = 0

    @property
    def sent(self) -> int:
        if self.first_seq is None or self.last_seq is None:
            return 0
        return self.last_seq - self.first_seq + 1

    @property
    def ratio(self) -> float:
        return self.received / self.sent if self.sent else 0.0


async def _websocket(port: int, stats: ChurnStats, rng: random.Random, *, text: bool) -> None:
    query = "?format=base64" if text else ""
    connection = await tornado.websocket.websocket_connect(
        f"ws://127.0.0.1:{port}/webcam{query}", connect_timeout=10
    )
    try:
        for _ in range(rng.randint(1, 3)):
            message = await asyncio.wait_for(connection.read_message(), 10)
            if message is None:
                break
            stats.frames += 1
    finally:
        connection.close()


async def _http(port: int, path: str, stats: ChurnStats, rng: random.Random, *, parts: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await writer.drain()
        received = b""
        while received.count(b"\xff\xd9") < parts:  # JPEG end markers: frames seen
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            received += chunk
        stats.frames += min(parts, received.count(b"\xff\xd9"))
    finally:
        writer.close()


async def _abort(port: int) -> None:
    """Open a websocket and reset the connection without a close handshake (a phone that
    lost its network)."""
    sock = socket.socket()
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(
        sock,
        (
            f"GET /webcam HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    await asyncio.wait_for(loop.sock_recv(sock, 4096), 10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST


async def _viewer(port: int, deadline: float, stats: ChurnStats, seed: int, pause: float) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        kind = rng.choice(KINDS)
        try:
            if kind in ("websocket", "websocket_base64"):
                await _websocket(port, stats, rng, text=kind == "websocket_base64")
            elif kind == "mjpeg":
                await _http(port, "/stream.mjpg", stats, rng, parts=rng.randint(1, 3))
            elif kind == "snapshot":
                await _http(port, "/snapshot.jpg", stats, rng, parts=1)
            else:
                await _abort(port)
            stats.connections[kind] += 1
        except (
            OSError,
            TimeoutError,
            tornado.websocket.WebSocketError,
            tornado.httpclient.HTTPClientError,
        ) as e:
            stats.error(e)
        await asyncio.sleep(rng.uniform(0, pause))


async def churn(
    port: int,
    viewers: int,
    seconds: float,
    *,
    pause: float = 0.3,
    seed: int = 1,
    stats: ChurnStats | None = None,
) -> ChurnStats:
    """`viewers` concurrent clients that connect, take 1-3 frames and leave, for `seconds`
    (counting into `stats` as they go, if given)."""
    stats = stats if stats is not None else ChurnStats()
    deadline = time.monotonic() + seconds
    await asyncio.gather(
        *(_viewer(port, deadline, stats, seed * 1000 + i, pause) for i in range(viewers))
    )
    return stats


async def steady(port: int, seconds: float) -> SteadyStats:
    """One websocket viewer with the ?meta=1 side channel: counts frames against sequence
    numbers (each frame is announced by a JSON message carrying its `seq`)."""
    stats = SteadyStats()
    connection = await tornado.websocket.websocket_connect(
        f"ws://127.0.0.1:{port}/webcam?meta=1", connect_timeout=10
    )
    deadline = time.monotonic() + seconds
    last_arrival = time.monotonic()
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(connection.read_message(), left)
            except TimeoutError:
                break
            if message is None:
                break
            if isinstance(message, str):
                _count_meta(stats, json.loads(message))
            else:
                stats.received += 1
                now = time.monotonic()
                stats.longest_gap_s = max(stats.longest_gap_s, now - last_arrival)
                last_arrival = now
    finally:
        connection.close()
    stats.longest_gap_s = max(stats.longest_gap_s, time.monotonic() - last_arrival)
    return stats


def _count_meta(stats: SteadyStats, meta: dict[str, float]) -> None:
    seq = int(meta["seq"])
    if stats.first_seq is None:
        stats.first_seq = seq
    if stats.last_seq is not None and seq <= stats.last_seq:
        stats.out_of_order += 1
    stats.last_seq = max(seq, stats.last_seq or seq)
    stats.oldest_s = max(stats.oldest_s, time.time() - meta["t"])
