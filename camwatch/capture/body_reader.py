"""An unchunked HTTP body read straight from its socket into one buffer, for the MJPEG reader."""

from __future__ import annotations

import http.client
import socket
import struct
from typing import Protocol

RECV_BYTES = 1 << 16  # a 640x480 camera's frame arrives in one recv() or two
EOI = b"\xff\xd9"
NOT_A_LINE_END, UNDECIDED = -1, 0


class Body(Protocol):
    """What the MJPEG reader needs of a response body (HTTPResponse has it, chunked or not)."""

    def readline(self, limit: int = -1, /) -> bytes: ...

    def read(self, amt: int | None = None, /) -> bytes: ...


class SocketBody:
    """The body of an unchunked response, read from the socket into one buffer that lines,
    parts and JPEGs are cut from: one recv() a frame or two instead of http.client's layered
    readline and reads, and no poll() before each (the timeout is the socket's SO_RCVTIMEO
    where it can be set). The response's own buffer is taken over first.

    At the end of the stream `readline` and `read` return what is left (b"" once nothing is),
    as HTTPResponse does."""

    def __init__(self, response: http.client.HTTPResponse, sock: socket.socket) -> None:
        self._response: http.client.HTTPResponse | None = response
        self._sock = sock
        self._buf = bytearray()
        self._pos = 0  # bytes before it are consumed
        self._ended = False

    def readline(self, limit: int = -1, /) -> bytes:
        """The next line, newline included, or its first `limit` bytes."""
        while True:
            available = len(self._buf) - self._pos
            window = available if limit < 0 else min(available, limit)
            newline = self._buf.find(b"\n", self._pos, self._pos + window)
            if newline >= 0:
                return self._take(newline + 1 - self._pos)
            if window == limit or not self._fill():
                return self._take(window)

    def read(self, amt: int | None = None, /) -> bytes:
        """The next `amt` bytes (fewer at the end of the stream)."""
        assert amt is not None, "an MJPEG body is read a length at a time"
        while len(self._buf) - self._pos < amt and self._fill():
            pass
        return self._take(min(amt, len(self._buf) - self._pos))

    def read_jpeg(self, max_bytes: int) -> bytes:
        """Up to the first EOI marker that ends a line (a part without Content-Length: the
        camera's CRLF after its JPEG); the line's end is consumed, not returned."""
        offset = 0  # from self._pos: where the search goes on (a fill moves the buffer)
        while True:
            marker = self._buf.find(EOI, self._pos + offset)
            if marker < 0:  # an FF at the end may start an EOI
                offset = max(0, len(self._buf) - self._pos - 1)
            else:
                line_end = self._line_end(marker + 2)
                if line_end > 0:
                    data = self._take(marker + 2 - self._pos)
                    self._pos = line_end
                    return data
                if line_end == NOT_A_LINE_END:  # an EOI inside the data: search on
                    offset = marker + 1 - self._pos
                    continue
                offset = marker - self._pos  # the rest of the line is still to come
            if len(self._buf) - self._pos > max_bytes:
                raise ConnectionError("part too large")
            if not self._fill():
                raise ConnectionError("stream ended")

    def _line_end(self, index: int) -> int:
        """Just past the newline if the buffer from `index` is CRs then LF; NOT_A_LINE_END
        if another byte comes first; UNDECIDED if the buffer ends before either."""
        while index < len(self._buf) and self._buf[index] == 0x0D:  # \r
            index += 1
        if index == len(self._buf):
            return UNDECIDED
        return index + 1 if self._buf[index] == 0x0A else NOT_A_LINE_END

    def _take(self, count: int) -> bytes:
        start = self._pos
        self._pos += count
        with memoryview(self._buf) as view:
            return bytes(view[start : self._pos])

    def _fill(self) -> bool:
        """Read more into the buffer; False at the end of the stream."""
        if self._ended:
            return False
        if self._pos:
            del self._buf[: self._pos]  # what is left is at most part of the next frame
            self._pos = 0
        if self._response is not None:
            # what http.client read past the headers, or one read (it may wait, as any would)
            chunk = self._response.read1(RECV_BYTES)
            self._response = None
            _block_with_receive_timeout(self._sock)
        else:
            chunk = self._recv()
        if not chunk:
            self._ended = True
            return False
        self._buf += chunk
        return True

    def _recv(self) -> bytes:
        try:
            return self._sock.recv(RECV_BYTES)
        except BlockingIOError:  # SO_RCVTIMEO ran out, where a timeout would have
            raise TimeoutError("timed out") from None


def _block_with_receive_timeout(sock: socket.socket) -> None:
    """Turn the socket's timeout (Python polls before each recv for it) into the kernel's
    SO_RCVTIMEO on a blocking socket; TLS sockets keep theirs."""
    timeout = sock.gettimeout()
    if not timeout or type(sock) is not socket.socket:
        return
    seconds = int(timeout)
    try:
        sock.setsockopt(
            socket.SOL_SOCKET,
            socket.SO_RCVTIMEO,
            struct.pack("ll", seconds, int((timeout - seconds) * 1_000_000)),
        )
    except OSError:
        return
    sock.settimeout(None)
