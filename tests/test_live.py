"""Live streaming end to end: websocket, MJPEG (OpenCV, ffmpeg, our reader) and snapshots against
a real server on a loopback port, including clients that stop reading."""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import logging
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest
import tornado.httpclient
import tornado.iostream
import tornado.websocket

from camwatch.capture.mjpeg_client import MjpegReader
from camwatch.config import CameraConfig
from camwatch.server import live
from tests.helpers.http_client import request
from tests.helpers.live_clients import (
    decode_jpeg,
    receive_sync,
    rss_bytes,
    stuck_mjpeg_client,
    stuck_websocket_client,
    wait_until_stalled,
)
from tests.helpers.support import ServerThread, demo_config, wait_until

WIDTH, HEIGHT, FPS = 320, 240, 10
# The machine is shared: a generous band around the configured 10 fps.
FPS_BAND = (6.0, 14.0)


def quiet_camera(name: str, width: int = WIDTH, height: int = HEIGHT) -> CameraConfig:
    """A demo camera with motion recording off, so the tests measure streaming alone."""
    camera = CameraConfig(name=name, source="demo", fps=FPS, width=width, height=height)
    camera.motion.enabled = False
    return camera


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = demo_config(
        str(tmp_path_factory.mktemp("live")),
        cameras=[quiet_camera("cam"), quiet_camera("small", 160, 120)],
    )
    with ServerThread(config) as running:
        wait_until(lambda: running.get("/snapshot.jpg")[0] == 200, message="first frame")
        yield running


def ws_url(server: ServerThread, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def viewers(server: ServerThread, name: str = "cam") -> int:
    return int(server.call(lambda: server.service.context.cameras[name].hub.viewer_count))


def test_websocket_sends_binary_jpegs_at_the_configured_rate(server: ServerThread) -> None:
    reception = receive_sync(ws_url(server, "/webcam"), 3.0)
    assert FPS_BAND[0] <= reception.fps <= FPS_BAND[1], reception.fps
    for message in reception.messages:
        assert isinstance(message, bytes)
        assert decode_jpeg(message).shape == (HEIGHT, WIDTH, 3)


def test_websocket_base64_sends_text_jpegs(server: ServerThread) -> None:
    reception = receive_sync(ws_url(server, "/webcam?format=base64"), 1.0)
    assert len(reception.messages) >= 3
    for message in reception.messages:
        assert isinstance(message, str)
        assert decode_jpeg(base64.b64decode(message)).shape == (HEIGHT, WIDTH, 3)


def test_websocket_format_jpeg_is_the_default_binary_jpegs(server: ServerThread) -> None:
    reception = receive_sync(ws_url(server, "/webcam?format=jpeg"), 1.0)
    assert len(reception.messages) >= 3
    assert all(isinstance(m, bytes) and decode_jpeg(m) is not None for m in reception.messages)


def test_an_unknown_websocket_format_is_refused_before_the_upgrade(server: ServerThread) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(b"0123456789abcdef").decode(),
    }
    response = request(server.port, "GET", "/cameras/cam/ws?format=png", headers=upgrade)
    assert response.status == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "error": "format: expected one of jpeg, binary, base64, mp4, got 'png'"
    }

    async def connect() -> None:
        await tornado.websocket.websocket_connect(ws_url(server, "/webcam?format=h265"))

    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        asyncio.run(connect())
    assert error.value.code == 400


def test_named_camera_websocket(server: ServerThread) -> None:
    reception = receive_sync(ws_url(server, "/cameras/small/ws"), 1.0)
    assert len(reception.messages) >= 3
    assert decode_jpeg(reception.messages[0]).shape == (120, 160, 3)  # type: ignore[arg-type]


def test_unknown_camera_websocket_is_404(server: ServerThread) -> None:
    async def connect() -> None:
        await tornado.websocket.websocket_connect(ws_url(server, "/cameras/nope/ws"))

    with pytest.raises(tornado.httpclient.HTTPClientError) as error:
        asyncio.run(connect())
    assert error.value.code == 404


def test_opencv_reads_the_mjpeg_stream(server: ServerThread) -> None:
    capture = cv2.VideoCapture(
        server.url + "/stream.mjpg",
        cv2.CAP_FFMPEG,
        [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 10000],
    )
    try:
        assert capture.isOpened()
        shapes = []
        for _ in range(5):
            ok, image = capture.read()
            assert ok
            shapes.append(image.shape)
    finally:
        capture.release()
    assert shapes == [(HEIGHT, WIDTH, 3)] * 5


def test_ffmpeg_reads_the_mjpeg_stream(server: ServerThread, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-rw_timeout",
            "10000000",
            "-i",
            server.url + "/cameras/cam/stream.mjpg",
            "-frames:v",
            "5",
            str(tmp_path / "frame%d.jpg"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    frames = sorted(tmp_path.glob("frame*.jpg"))
    assert len(frames) == 5
    for path in frames:
        assert decode_jpeg(path.read_bytes()).shape == (HEIGHT, WIDTH, 3)


def test_mjpeg_stream_headers_and_parts(server: ServerThread) -> None:
    reader = MjpegReader(server.url + "/stream.mjpg", timeout=10)
    try:
        content_type = reader._response.getheader("Content-Type", "")
        parts = [reader.read_frame() for _ in range(3)]
    finally:
        reader.close()
    assert content_type.startswith("multipart/x-mixed-replace; boundary=")
    for data, width, height in parts:
        assert (width, height) == (WIDTH, HEIGHT)
        assert decode_jpeg(data).shape == (HEIGHT, WIDTH, 3)
    assert len({data for data, _, _ in parts}) == 3  # three different frames


def test_snapshot_is_a_jpeg_of_the_configured_size(server: ServerThread) -> None:
    for path, shape in [
        ("/snapshot.jpg", (HEIGHT, WIDTH, 3)),
        ("/cameras/small/snapshot.jpg", (120, 160, 3)),
    ]:
        status, headers, body = server.get(path)
        assert status == 200
        assert headers["Content-Type"] == "image/jpeg"
        assert decode_jpeg(body).shape == shape


@pytest.mark.parametrize(
    "path",
    [
        "/cameras/nope/snapshot.jpg",
        "/cameras/nope/stream.mjpg",
        "/cameras/nope/ws",
        "/api/cameras/nope",
        "/no/such/page",
    ],
)
def test_unknown_paths_are_404_json(server: ServerThread, path: str) -> None:
    status, headers, body = server.get(path)
    assert status == 404
    assert headers["Content-Type"].startswith("application/json")
    assert "error" in json.loads(body)


def test_a_client_error_is_logged_once_with_its_reason(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tornado")

    def lines() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name.startswith("tornado") and "/api/events/nosuch" in r.getMessage()
        ]

    assert server.get("/api/events/nosuch")[0] == 404
    wait_until(lambda: any("ms" in line for line in lines()), message="the access log line")
    assert len(lines()) == 1, lines()
    assert re.fullmatch(
        r"404 GET /api/events/nosuch \(127\.0\.0\.1\) [\d.]+ms: no event with id nosuch",
        lines()[0],
    )


def test_api_cameras_reports_measured_rate_and_size(server: ServerThread) -> None:
    cameras = {camera["name"]: camera for camera in server.get_json("/api/cameras")}
    assert set(cameras) == {"cam", "small"}
    cam = cameras["cam"]
    assert cam["online"] is True
    assert (cam["width"], cam["height"]) == (WIDTH, HEIGHT)
    assert FPS_BAND[0] <= cam["fps"] <= FPS_BAND[1]
    assert set(cam["motion"]) >= {"threshold", "pixel_threshold", "stable_frames"}


def test_clients_that_leave_are_unsubscribed(server: ServerThread) -> None:
    wait_until(lambda: viewers(server) == 0, message="no viewers")
    receive_sync(ws_url(server, "/webcam"), 0.3)
    reader = MjpegReader(server.url + "/stream.mjpg", timeout=10)
    reader.read_frame()
    assert viewers(server) == 1
    reader.close()
    wait_until(lambda: viewers(server) == 0, message="viewers to leave")


def test_stuck_clients_do_not_slow_others_and_memory_stays_bounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At 1280x720, a raw MJPEG socket and a websocket that never read stay one subscriber each,
    another viewer keeps the full rate, and the process does not grow while they hang."""
    config = demo_config(str(tmp_path), cameras=[quiet_camera("cam", 1280, 720)])
    with ServerThread(config) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        stuck = [
            stuck_mjpeg_client(server.port),
            stuck_websocket_client(server.port),
            stuck_mjpeg_client(server.port, "/cameras/cam/stream.mjpg"),
        ]
        try:
            wait_until(lambda: viewers(server) == 3, message="three stuck viewers")
            wait_until_stalled(stuck)  # every buffer on the way is full
            rss_before = rss_bytes()
            rates = [receive_sync(ws_url(server, "/webcam"), 3.0, keep=False).fps for _ in range(3)]
            rss_growth = rss_bytes() - rss_before
            wait_until(lambda: viewers(server) == 3, message="the measuring viewer to leave")
            for client in stuck:  # they were sent something and are now blocked on it
                assert client.recv(1, 0x40) != b""  # MSG_DONTWAIT
        finally:
            for client in stuck:
                client.close()
        assert all(FPS_BAND[0] <= rate <= FPS_BAND[1] for rate in rates), rates
        assert rss_growth < 40 * 2**20, f"RSS grew by {rss_growth / 2**20:.1f} MB"
        wait_until(lambda: viewers(server) == 0, timeout=15, message="stuck viewers to go")
    gc.collect()  # abandoned writes report unretrieved errors when collected
    assert not [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name != "tornado.access"
    ]


def test_stopping_the_server_closes_websocket_viewers(tmp_path: Path) -> None:
    config = demo_config(str(tmp_path), cameras=[quiet_camera("cam")])
    server = ServerThread(config).start()
    closed_at: list[float] = []

    async def watch_until_closed() -> None:
        connection = await tornado.websocket.websocket_connect(ws_url(server, "/webcam"))
        assert await connection.read_message() is not None
        stop = asyncio.get_running_loop().run_in_executor(None, server.stop)
        while await asyncio.wait_for(connection.read_message(), 15) is not None:
            pass
        closed_at.append(time.monotonic())
        await stop

    started = time.monotonic()
    asyncio.run(watch_until_closed())
    assert closed_at and closed_at[0] - started < 10


def test_a_client_stalled_past_the_write_timeout_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A viewer that stops reading is disconnected once a frame has waited too long to drain,
    so stuck connections do not pile up (each holds a subscription and a frame)."""
    monkeypatch.setattr(live, "WRITE_STALL_TIMEOUT_S", 1.5)
    config = demo_config(str(tmp_path), cameras=[quiet_camera("cam", 1280, 720)])
    with ServerThread(config) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        stuck = [stuck_mjpeg_client(server.port), stuck_websocket_client(server.port)]
        try:
            wait_until(lambda: viewers(server) == 2, message="two stuck viewers")
            wait_until(lambda: viewers(server) == 0, timeout=20, message="stuck viewers dropped")
            for client in stuck:
                client.settimeout(10)
                while client.recv(1 << 20):  # what was sent, then the end of the stream
                    pass
        finally:
            for client in stuck:
                client.close()


def receive_exactly(sock: socket.socket, count: int) -> bytes:
    received = bytearray()
    while len(received) < count:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        received += chunk
    return bytes(received)


def test_write_now_sends_at_once_and_queues_what_the_socket_does_not_take() -> None:
    async def scenario() -> None:
        ours, theirs = socket.socketpair()
        stream = tornado.iostream.IOStream(ours)
        try:
            assert live.write_now(stream, b"small") is None  # taken at once: nothing queued
            assert theirs.recv(16) == b"small"
            big = bytes(range(256)) * 40_000  # 10 MB: more than the socket's buffers hold
            pending = live.write_now(stream, big)
            assert pending is not None and stream.writing()
            after = live.write_now(stream, b"after")  # behind what is queued, not before it
            assert after is not None
            reading = asyncio.get_running_loop().run_in_executor(
                None, receive_exactly, theirs, len(big) + 5
            )
            assert await live.drained(pending) and await live.drained(after)
            assert await asyncio.wait_for(reading, 30) == big + b"after"
        finally:
            stream.close()
            theirs.close()

    asyncio.run(scenario())
