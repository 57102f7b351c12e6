"""The websocket's ?format=mp4 from a real RTSP camera: an init segment, then fMP4 fragments of
the camera's own packets; Chromium's live tile plays it through MSE; a slow viewer skips ahead
instead of queueing; a JPEG camera refuses it so the page falls back to JPEG."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import tornado.websocket

from tests.helpers.camera_files import packets, walking_figure
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.live_clients import bytes_waiting, stuck_websocket_client
from tests.helpers.processes import free_port
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("footage")
    return walking_figure(folder / "cam.mp4", seconds=120, walks=((3.0, 8.0),), gop=10)


@pytest.fixture(scope="module")
def camwatch(tmp_path_factory: pytest.TempPathFactory, footage: Path) -> Any:
    rtsp = RtspCamera(free_port(), {"cam": footage}).start()
    cameras = f"""
[[cameras]]
name = "cam"
source = "{rtsp.url("cam")}"
[[cameras]]
name = "jpeg"
source = "demo"
width = 320
height = 240
"""
    process = CamwatchProcess(tmp_path_factory.mktemp("camwatch"), cameras=cameras).start()
    wait_until(
        lambda: _camera(process, "cam")["online"], timeout=30, message="the RTSP camera online"
    )
    yield process
    process.kill()
    rtsp.stop()


def _camera(process: CamwatchProcess, name: str) -> dict[str, Any]:
    cameras: list[dict[str, Any]] = process.get_json("/api/cameras")
    return next(c for c in cameras if c["name"] == name)


async def _messages(url: str, binary: int) -> list[str | bytes]:
    connection = await tornado.websocket.websocket_connect(url)
    received: list[str | bytes] = []
    try:
        while sum(isinstance(m, bytes) for m in received) < binary:
            message = await asyncio.wait_for(connection.read_message(), 15)
            assert message is not None, f"closed after {received[:1]}"
            received.append(message)
    finally:
        connection.close()
    return received


def test_mp4_socket_sends_init_then_fragments_of_the_cameras_packets(camwatch, footage, tmp_path):
    assert _camera(camwatch, "cam")["codec"] == "h264"
    url = f"ws://127.0.0.1:{camwatch.port}/cameras/cam/ws?format=mp4"
    received = asyncio.run(_messages(url, 41))
    init = json.loads(received[0])
    assert init["type"] == "init" and init["mime"].startswith('video/mp4; codecs="avc1.')
    binary = [m for m in received if isinstance(m, bytes)]
    assert binary[0][4:8] == b"ftyp" and b"moov" in binary[0]
    assert all(m[4:8] == b"moof" for m in binary[1:])
    stream = tmp_path / "live.mp4"
    stream.write_bytes(b"".join(binary))
    ours = packets(stream)
    theirs = {p["data_hash"] for p in packets(footage)}
    assert len(ours) == 40 and ours[0]["flags"].startswith("K")
    assert all(p["data_hash"] in theirs for p in ours)  # the camera's bytes, not re-encoded
    decoded = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(stream), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr


def test_a_jpeg_camera_refuses_mp4_with_a_fallback_message(camwatch):
    async def first_message_and_close() -> tuple[Any, int | None]:
        url = f"ws://127.0.0.1:{camwatch.port}/cameras/jpeg/ws?format=mp4"
        connection = await tornado.websocket.websocket_connect(url)
        first = await asyncio.wait_for(connection.read_message(), 10)
        closed = await asyncio.wait_for(connection.read_message(), 10)
        assert closed is None
        return first, connection.close_code

    first, code = asyncio.run(first_message_and_close())
    message = json.loads(first)
    assert message["type"] == "error" and message["fallback"] == "jpeg"
    assert code == 1003


def test_a_viewer_that_stops_reading_gets_nothing_queued_and_others_go_on(camwatch):
    stuck = stuck_websocket_client(camwatch.port, "/cameras/cam/ws?format=mp4")
    try:
        url = f"ws://127.0.0.1:{camwatch.port}/cameras/cam/ws?format=mp4"
        started = time.monotonic()
        received = asyncio.run(_messages(url, 31))  # 3 s of video while the other is stuck
        assert time.monotonic() - started < 15
        assert len(received) >= 31
        # what the stuck one was sent is bounded by the socket buffers, not a server queue
        assert bytes_waiting(stuck) < 16 * 1024 * 1024
    finally:
        stuck.close()


def test_live_tile_plays_the_cameras_h264_through_mse_in_chromium(camwatch, open_page):
    watched = open_page()
    page = watched.page
    page.goto(f"http://127.0.0.1:{camwatch.port}/")
    page.wait_for_selector('article[data-camera="cam"][data-stream="mp4"]')
    page.wait_for_selector('article[data-camera="jpeg"][data-stream="jpeg"]')
    played = page.wait_for_function(
        """() => {
            const v = document.querySelector('article[data-camera="cam"] video');
            return v && v.readyState >= 2 && v.currentTime > 1 && v.videoWidth > 0 &&
                   v.webkitVideoDecodedByteCount > 0 &&
                   [v.videoWidth, v.currentTime, v.webkitVideoDecodedByteCount];
        }""",
        timeout=30000,
    ).json_value()
    print("MSE live view:", played)
    assert played[0] == 480
    first = played[1]
    later = page.wait_for_function(
        """(t) => {
            const v = document.querySelector('article[data-camera="cam"] video');
            return v.currentTime > t + 2 && v.currentTime;
        }""",
        arg=first,
        timeout=20000,
    ).json_value()
    assert later > first + 2  # it keeps playing, near the live edge
    watched.assert_no_errors()


# the tile shows the camera's JPEG frames (the MP4 socket never gets that far)
JPEG_LIVE = 'article[data-camera="jpeg"][data-stream="jpeg"][data-connection="live"]'


def test_a_camera_refusing_mp4_falls_back_to_jpeg_and_mse_is_tried_again_once_it_is_back(
    camwatch, open_page
):
    """The demo camera sends no H.264: a camera list that says it does (as for an H.264
    camera at the moment it drops) gets the server's refusal, and the tile shows JPEG without
    asking again every poll; once the list says it is not H.264 and then that it is again (the
    camera came back), MSE is tried again."""
    watched = open_page()
    page = watched.page
    claim = {"h264": True}

    def cameras(route: Any) -> None:
        response = route.fetch()
        listed = response.json()
        for camera in listed:
            if camera["name"] == "jpeg" and claim["h264"]:
                camera["codec"] = "h264"
        route.fulfill(response=response, json=listed)

    def polls(count: int) -> None:
        for _ in range(count):
            with page.expect_request(lambda r: r.url.endswith("/api/cameras"), timeout=15000):
                pass

    def mp4_socket(ws: Any) -> bool:
        return "/cameras/jpeg/ws?format=mp4" in ws.url

    attempts: list[str] = []
    page.on("websocket", lambda ws: mp4_socket(ws) and attempts.append(ws.url))
    page.route("**/api/cameras", cameras)
    with page.expect_websocket(mp4_socket, timeout=15000):
        page.goto(f"http://127.0.0.1:{camwatch.port}/")
    page.wait_for_selector(JPEG_LIVE)
    polls(3)  # the list still says H.264: no new attempt each poll
    assert len(attempts) == 1
    claim["h264"] = False  # the camera is offline or sends no H.264, and the list says so
    polls(2)
    claim["h264"] = True  # back with H.264
    with page.expect_websocket(mp4_socket, timeout=15000):
        pass
    page.wait_for_selector(JPEG_LIVE)
    polls(2)
    assert len(attempts) == 2
    watched.assert_no_errors()
