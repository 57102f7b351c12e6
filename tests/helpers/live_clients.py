"""Real live-stream clients for tests: websocket readers and raw sockets that stop reading."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import http.client
import os
import socket
import struct
import termios
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import tornado.websocket

from tests.helpers.support import wait_until

WS_KEY = base64.b64encode(os.urandom(16)).decode()


def decode_jpeg(data: bytes) -> np.ndarray:
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "JPEG does not decode"
    return image


@dataclass
class Reception:
    """What a websocket viewer received in its counting window."""

    messages: list[str | bytes] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def fps(self) -> float:
        return len(self.messages) / self.seconds if self.seconds else 0.0


async def receive(url: str, seconds: float, *, keep: bool = True) -> Reception:
    """Connect, wait for the first frame, then collect frames for `seconds`."""
    connection = await tornado.websocket.websocket_connect(url, connect_timeout=10)
    try:
        first = await asyncio.wait_for(connection.read_message(), 10)
        assert first is not None, "closed before the first frame"
        reception = Reception()
        started = time.monotonic()
        deadline = started + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(connection.read_message(), left)
            except TimeoutError:
                break
            assert message is not None, "closed while streaming"
            reception.messages.append(message if keep else b"")
        reception.seconds = time.monotonic() - started
        return reception
    finally:
        connection.close()


async def read_messages(url: str, count: int) -> list[str | bytes]:
    """The first `count` messages of a websocket, text or binary."""
    connection = await tornado.websocket.websocket_connect(url)
    messages: list[str | bytes] = []
    try:
        while len(messages) < count:
            message = await asyncio.wait_for(connection.read_message(), 10)
            assert message is not None, "socket closed early"
            messages.append(message)
    finally:
        connection.close()
    return messages


async def websocket_binaries(url: str, count: int) -> list[bytes]:
    """The binary ones among the first `count` messages of a websocket."""
    return [m for m in await read_messages(url, count) if isinstance(m, bytes)]


def receive_sync(url: str, seconds: float, *, keep: bool = True) -> Reception:
    return asyncio.run(receive(url, seconds, keep=keep))


def stuck_socket(port: int, request: bytes) -> socket.socket:
    """A client that sends a request and then never reads, with a small receive buffer."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", port))
    client.sendall(request)
    return client


def stuck_mjpeg_client(port: int, path: str = "/stream.mjpg") -> socket.socket:
    return stuck_socket(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())


def stuck_websocket_client(port: int, path: str = "/webcam") -> socket.socket:
    """Completes the websocket handshake, then never reads a frame."""
    client = stuck_socket(
        port,
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {WS_KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    client.settimeout(10)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(1)  # byte by byte: read the handshake and nothing more
        assert chunk, "closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return client


def bytes_waiting(client: socket.socket) -> int:
    """Bytes the server sent that the client has not read yet (its receive queue)."""
    return int(struct.unpack("i", fcntl.ioctl(client, termios.FIONREAD, b"\0" * 4))[0])


def wait_until_stalled(clients: list[socket.socket], timeout: float = 20.0) -> None:
    """Until every client that stopped reading has been sent something and nothing more
    arrives: its receive buffer is full and the server's writes to it are blocked."""
    last: list[int] = []

    def stalled() -> bool:
        nonlocal last
        now = [bytes_waiting(client) for client in clients]
        settled, last = now == last and all(now), now
        return settled

    wait_until(stalled, timeout=timeout, interval=0.25, message="the stuck clients' buffers fill")


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def read_mjpeg_parts(port: int, path: str, count: int) -> list[tuple[dict[str, str], bytes]]:
    """(part headers, JPEG bytes) of the first `count` parts of an MJPEG stream."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    boundary = response.getheader("Content-Type", "").split("boundary=")[1].encode()
    parts = []
    try:
        while len(parts) < count:
            line = response.readline()
            if line.strip() != b"--" + boundary:
                continue
            headers = {}
            while line := response.readline().strip():
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            parts.append((headers, response.read(int(headers["content-length"]))))
    finally:
        connection.close()
    return parts
