"""A blocking reader for MJPEG over HTTP (multipart/x-mixed-replace) keeping the camera's JPEGs."""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.parse

from camwatch import jpeg
from camwatch.capture.body_reader import Body, SocketBody
from camwatch.frame import MAX_FRAME_PIXELS, check_frame_size

MAX_PART_BYTES = 20 * 1024 * 1024
MAX_HEADER_LINES = 32


class NotMjpeg(Exception):
    """The URL answered, but not with a multipart MJPEG stream (let FFmpeg try it)."""


def is_complete_jpeg(data: bytes) -> bool:
    """Starts with SOI and ends with EOI (allowing padding), so a cut-off frame is caught."""
    return data.startswith(b"\xff\xd8") and b"\xff\xd9" in data[-16:]


class MjpegReader:
    """Reads one JPEG per multipart part; corrupt parts are skipped, not fatal."""

    def __init__(
        self, url: str, *, timeout: float = 10.0, max_pixels: int = MAX_FRAME_PIXELS
    ) -> None:
        self.max_pixels = max_pixels
        parts = urllib.parse.urlsplit(url)
        self._connection: http.client.HTTPConnection
        if parts.scheme == "https":
            self._connection = http.client.HTTPSConnection(
                parts.hostname or "",
                parts.port,
                timeout=timeout,
                context=ssl.create_default_context(),
            )
        else:
            self._connection = http.client.HTTPConnection(
                parts.hostname or "", parts.port, timeout=timeout
            )
        headers = {"User-Agent": "camwatch"}
        if parts.username is not None:
            credentials = (
                f"{urllib.parse.unquote(parts.username)}:"
                f"{urllib.parse.unquote(parts.password or '')}"
            )
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        self._response: http.client.HTTPResponse | None = None
        try:
            self._connection.connect()
            # kept: http.client lets go of a socket that a response without a length reads to
            # its end (the response's file holds it open), and the body is read from it
            self._sock = self._connection.sock
            self._connection.request("GET", path, headers=headers)
            response = self._response = self._connection.getresponse()
        except http.client.HTTPException as e:  # not HTTP at all: as unreachable as a refusal
            self.close()
            raise ConnectionError(f"bad HTTP response: {e!r}") from None
        content_type = response.getheader("Content-Type", "")
        if response.status != 200:
            self.close()
            raise OSError(f"HTTP {response.status}")
        if not content_type.lower().startswith("multipart/"):
            self.close()
            raise NotMjpeg(content_type)
        self._boundary = self._parse_boundary(content_type)
        self._body = self._body_of(response)

    def _body_of(self, response: http.client.HTTPResponse) -> Body:
        """The body read straight from the socket, unless http.client has to undo a chunked
        transfer coding or keep to a length given for the whole response."""
        plain = response.getheader("Transfer-Encoding", "").lower() != "chunked"
        if plain and response.getheader("Content-Length") is None:
            return SocketBody(response, self._sock)
        return response

    @staticmethod
    def _parse_boundary(content_type: str) -> bytes:
        for param in content_type.split(";")[1:]:
            key, _, value = param.strip().partition("=")
            if key.lower() == "boundary":
                # Many cameras put the dashes in the parameter; accept both spellings.
                return b"--" + value.strip('"').lstrip("-").encode()
        raise NotMjpeg(content_type)

    def _is_boundary(self, line: bytes) -> bool:
        line = line.strip()
        return line.startswith(b"--") and line.strip(b"-") == self._boundary.strip(b"-")

    def _readline(self) -> bytes:
        line = self._body.readline(8192)
        if not line:
            raise ConnectionError("stream ended")
        return line

    def _read_part(self) -> bytes:
        line = self._readline()
        for _ in range(MAX_HEADER_LINES):  # skip to the boundary (tolerates extra CRLFs)
            if self._is_boundary(line):
                break
            line = self._readline()
        else:
            raise ConnectionError("no multipart boundary in stream")
        length = None
        for _ in range(MAX_HEADER_LINES):
            line = self._readline().strip()
            if not line:
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is not None:
            if length > MAX_PART_BYTES:
                raise ConnectionError("part too large")
            data = self._body.read(length)
            if len(data) < length:
                raise ConnectionError("stream ended mid-frame")
            return data
        if isinstance(self._body, SocketBody):
            return self._body.read_jpeg(MAX_PART_BYTES)
        return self._read_until_jpeg_end()

    def _read_until_jpeg_end(self) -> bytes:
        """A part without Content-Length through a chunked body: lines until one ends the
        JPEG."""
        chunks = bytearray()
        while len(chunks) < MAX_PART_BYTES:
            chunk = self._readline()
            chunks += chunk
            if chunks.rstrip(b"\r\n").endswith(b"\xff\xd9"):
                return bytes(chunks.rstrip(b"\r\n"))
        raise ConnectionError("part too large")

    def read_frame(self) -> tuple[bytes, int, int]:
        """(jpeg bytes, width, height) of the next good frame; FrameTooLarge if its header
        declares more than `max_pixels`."""
        for _ in range(100):
            try:
                data = self._read_part()
            except (http.client.HTTPException, ValueError) as e:  # broken framing or coding
                raise ConnectionError(f"bad MJPEG stream: {e!r}") from None
            if not is_complete_jpeg(data):
                continue  # a corrupt or truncated part: skip it and read the next
            try:
                width, height = jpeg.dimensions(data)
            except jpeg.JpegError:
                continue
            check_frame_size(width, height, self.max_pixels)  # on the header: nothing decoded
            return data, width, height
        raise ConnectionError("100 corrupt frames in a row")

    def close(self) -> None:
        self._connection.close()
        if self._response is not None:
            self._response.close()  # the connection may have let go of it (see __init__)
