"""A tiny MJPEG-over-HTTP camera for tests: stoppable and restartable on the same loopback port."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Callable
from typing import Self

import cv2
import numpy as np

PartMaker = Callable[[int], bytes]
BOUNDARY = "testframe"


def jpeg_frame(index: int, width: int = 160, height: int = 120) -> bytes:
    """A small JPEG whose brightness changes with the index."""
    image = np.full((height, width, 3), (index * 37) % 200 + 20, np.uint8)
    cv2.putText(
        image, str(index), (5, height - 10), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2
    )
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


class MjpegTestServer:
    """Serves `make_part(i)` as multipart JPEG parts at `fps` to every client.

    `chunked` sends HTTP/1.1 chunked encoding with chunks that cut through parts;
    `content_length=False` leaves the per-part Content-Length out; `content_type`
    replaces the multipart header (to pose as something that is not MJPEG).
    """

    def __init__(
        self,
        make_part: PartMaker = jpeg_frame,
        *,
        fps: float = 10.0,
        chunked: bool = False,
        content_length: bool = True,
        content_type: str | None = None,
        status: int = 200,
        raw: bool = False,
    ) -> None:
        self.make_part, self.fps = make_part, fps
        self.chunked, self.content_length = chunked, content_length
        self.content_type = content_type or f"multipart/x-mixed-replace; boundary={BOUNDARY}"
        self.status, self.raw = status, raw
        self.port = 0
        self.connections = 0
        self.parts_sent = 0
        self.request_headers: list[dict[str, str]] = []
        self._stopping = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video"

    def start(self) -> MjpegTestServer:
        """Listen (on the previous port after a stop, so a camera can come back)."""
        self._stopping.clear()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="mjpeg-test-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every client, like a camera that lost power."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[http.server.BaseHTTPRequestHandler]:
        version = "HTTP/1.1" if self.chunked else "HTTP/1.0"
        return type("Handler", (_Handler,), {"owner": self, "protocol_version": version})


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves the owning MjpegTestServer's parts; `owner` is set on a subclass per server."""

    owner: MjpegTestServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.owner.request_headers.append(dict(self.headers))
        with self.owner._lock:
            self.owner.connections += 1
            self.owner._clients.add(self.connection)
        try:
            self._serve()
        except OSError:
            pass
        finally:
            with self.owner._lock:
                self.owner._clients.discard(self.connection)

    def _serve(self) -> None:
        self.send_response(self.owner.status)
        self.send_header("Content-Type", self.owner.content_type)
        if self.owner.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        index = 0
        while not self.owner._stopping.is_set():
            self._send(self._part(self.owner.make_part(index)))
            self.owner.parts_sent += 1
            index += 1
            self.owner._stopping.wait(1.0 / self.owner.fps)
        if self.owner.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _part(self, data: bytes) -> bytes:
        if self.owner.raw:
            return data
        head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
        if self.owner.content_length:
            head += f"Content-Length: {len(data)}\r\n"
        return head.encode() + b"\r\n" + data + b"\r\n"

    def _send(self, payload: bytes) -> None:
        if not self.owner.chunked:
            self.wfile.write(payload)
            return
        for start in range(0, len(payload), 777):  # chunks that cut through parts
            piece = payload[start : start + 777]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.flush()


def lying_frame(index: int, width: int = 30000, height: int = 30000) -> bytes:
    """A small JPEG whose frame header claims `width` x `height` (a camera that lies)."""
    data = bytearray(jpeg_frame(index))
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "jpeg_frame makes baseline JPEGs"
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)
