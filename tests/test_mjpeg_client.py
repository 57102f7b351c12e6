"""MjpegReader against a real MJPEG server on loopback: framing variants, corrupt parts, errors."""

from __future__ import annotations

import base64

import pytest

from camwatch import jpeg
from camwatch.capture.mjpeg_client import MjpegReader, NotMjpeg
from camwatch.frame import FrameTooLarge
from tests.helpers.mjpeg_server import MjpegTestServer, jpeg_frame, lying_frame


def read_frames(url: str, count: int) -> list[tuple[bytes, int, int]]:
    reader = MjpegReader(url, timeout=5)
    try:
        return [reader.read_frame() for _ in range(count)]
    finally:
        reader.close()


@pytest.mark.parametrize(
    "chunked,content_length",
    [(False, True), (False, False), (True, True), (True, False)],
    ids=["plain", "no-content-length", "chunked", "chunked-no-content-length"],
)
def test_reads_the_camera_jpeg_bytes_untouched(chunked: bool, content_length: bool) -> None:
    with MjpegTestServer(fps=50, chunked=chunked, content_length=content_length) as server:
        frames = read_frames(server.url, 4)
    assert [data for data, _, _ in frames] == [jpeg_frame(i) for i in range(4)]
    assert {(width, height) for _, width, height in frames} == {(160, 120)}


def corrupt_at(bad: dict[int, bytes]):  # type: ignore[no-untyped-def]
    return lambda index: bad.get(index, jpeg_frame(index))


def test_corrupt_parts_are_skipped() -> None:
    truncated = jpeg_frame(2)[:-200]  # the header survives, the picture does not
    garbage = b"\x00not a jpeg at all\xff" * 20
    with MjpegTestServer(corrupt_at({1: garbage, 2: truncated}), fps=50) as server:
        frames = read_frames(server.url, 3)
    assert [data for data, _, _ in frames] == [jpeg_frame(0), jpeg_frame(3), jpeg_frame(4)]


def test_a_stream_of_only_corrupt_parts_is_an_error() -> None:
    with MjpegTestServer(lambda index: b"garbage" * 10, fps=500) as server:
        reader = MjpegReader(server.url, timeout=5)
        with pytest.raises(OSError):
            reader.read_frame()
        reader.close()


def test_something_that_is_not_mjpeg_is_reported_as_such() -> None:
    with MjpegTestServer(content_type="video/mp4") as server, pytest.raises(NotMjpeg):
        MjpegReader(server.url, timeout=5)


def test_an_http_error_status_is_an_os_error() -> None:
    with MjpegTestServer(status=404) as server, pytest.raises(OSError, match="404"):
        MjpegReader(server.url, timeout=5)


def test_credentials_in_the_url_are_sent_as_basic_auth() -> None:
    with MjpegTestServer(fps=50) as server:
        url = server.url.replace("http://", "http://user:p%40ss@")
        read_frames(url, 1)
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert server.request_headers[0]["Authorization"] == expected


def test_a_camera_that_goes_away_ends_the_stream_with_an_os_error() -> None:
    server = MjpegTestServer(fps=20).start()
    reader = MjpegReader(server.url, timeout=5)
    try:
        reader.read_frame()
        server.stop()
        with pytest.raises(OSError):
            for _ in range(100):  # what was already buffered, then the end
                reader.read_frame()
    finally:
        reader.close()
        server.stop()


def test_connection_refused_is_an_os_error() -> None:
    server = MjpegTestServer().start()
    url = server.url
    server.stop()
    with pytest.raises(OSError):
        MjpegReader(url, timeout=5)


def test_garbage_instead_of_http_is_an_os_error() -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer_garbage() -> None:
        client, _ = listener.accept()
        client.recv(1024)
        client.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
        client.close()

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    try:
        with pytest.raises(OSError):
            MjpegReader(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=5)
    finally:
        thread.join(5)
        listener.close()


def test_a_bad_content_length_is_an_os_error() -> None:
    def bad_part(index: int) -> bytes:
        return (
            b"--testframe\r\nContent-Type: image/jpeg\r\nContent-Length: lots\r\n\r\n"
            + jpeg_frame(index)
            + b"\r\n"
        )

    with MjpegTestServer(bad_part, fps=50, raw=True) as server:
        reader = MjpegReader(server.url, timeout=5)
        try:
            with pytest.raises(OSError):
                reader.read_frame()
        finally:
            reader.close()


@pytest.mark.parametrize("parameter", ['"testframe"', "--testframe"])
def test_boundary_parameter_spellings(parameter: str) -> None:
    content_type = f"multipart/x-mixed-replace;boundary={parameter}"
    with MjpegTestServer(fps=50, content_type=content_type) as server:
        frames = read_frames(server.url, 2)
    assert [data for data, _, _ in frames] == [jpeg_frame(0), jpeg_frame(1)]


def test_a_frame_header_over_the_limit_is_refused_before_decoding():
    assert jpeg.dimensions(lying_frame(0)) == (30000, 30000)  # read from the header only
    with MjpegTestServer(lying_frame) as server:
        reader = MjpegReader(server.url, timeout=5)
        try:
            with pytest.raises(FrameTooLarge, match="30000x30000"):
                reader.read_frame()
        finally:
            reader.close()
        reader = MjpegReader(server.url, timeout=5, max_pixels=30000 * 30000)
        try:
            assert reader.read_frame()[1:] == (30000, 30000)
        finally:
            reader.close()


def test_a_camera_that_goes_silent_is_a_timeout() -> None:
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    release = threading.Event()

    def send_one_frame_then_hold() -> None:
        client, _ = listener.accept()
        client.recv(1024)
        frame = jpeg_frame(0)
        client.sendall(
            b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=x\r\n\r\n"
            b"--x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
            % (len(frame), frame)
        )
        release.wait(30)  # silent, the connection open
        client.close()

    thread = threading.Thread(target=send_one_frame_then_hold, daemon=True)
    thread.start()
    reader = MjpegReader(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=0.5)
    try:
        assert reader.read_frame()[0] == jpeg_frame(0)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            reader.read_frame()
        assert time.monotonic() - started < 10
    finally:
        reader.close()
        release.set()
        thread.join(5)
        listener.close()
