"""Several [[cameras]] from one TOML file run independently: a broken one does not hurt another."""

from __future__ import annotations

import asyncio
import urllib.request

import cv2
import numpy as np
import tornado.websocket

from camwatch.config import load_file
from tests.helpers.support import ServerThread, wait_until

CONFIG = """
[server]
host = "127.0.0.1"
data_dir = "{data_dir}"

[[cameras]]
name = "yard"
source = "demo"
width = 320
height = 240
fps = 10

[[cameras]]
name = "broken"
source = "http://127.0.0.1:1/"
width = 320
height = 240
"""


def decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


async def websocket_frames(url: str, count: int) -> list[bytes]:
    connection = await tornado.websocket.websocket_connect(url)
    try:
        frames = []
        for _ in range(count):
            message = await asyncio.wait_for(connection.read_message(), 10)
            assert isinstance(message, bytes)
            frames.append(message)
        return frames
    finally:
        connection.close()


def first_mjpeg_part(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        while True:
            line = response.readline()
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
                break
        while response.readline() not in (b"\r\n", b""):
            pass
        return bytes(response.read(length))


def test_a_broken_camera_goes_offline_while_the_other_streams(tmp_path):
    config_file = tmp_path / "camwatch.toml"
    config_file.write_text(CONFIG.format(data_dir=tmp_path / "data"))
    config = load_file(config_file)
    config.server.port = 0  # a free port; the config file itself only accepts 1-65535

    with ServerThread(config) as server:

        def states() -> dict[str, dict[str, object]]:
            return {c["name"]: c for c in server.get_json("/api/cameras")}

        wait_until(lambda: states()["yard"]["online"], message="yard online")
        wait_until(
            lambda: "cannot open" in str(states()["broken"]["status"]),
            message="broken camera reported",
        )
        frames = asyncio.run(websocket_frames(f"ws://127.0.0.1:{server.port}/cameras/yard/ws", 5))
        mjpeg = first_mjpeg_part(server.url + "/cameras/yard/stream.mjpg")
        status, _, placeholder = server.get("/cameras/broken/snapshot.jpg")
        cameras = states()

    assert cameras["yard"]["online"] is True and cameras["broken"]["online"] is False
    assert cameras["yard"]["fps"] > 0 and cameras["broken"]["fps"] == 0
    assert all(decode(frame).shape == (240, 320, 3) for frame in frames)
    assert decode(frames[-1]).mean() > 80  # the demo scene is much brighter than the placeholder
    assert decode(mjpeg).shape == (240, 320, 3)
    assert status == 200
    offline = decode(placeholder)
    assert offline.shape == (240, 320, 3)
    assert offline.mean() < 60  # the dark "offline" placeholder, not a scene


def test_a_camera_records_events_while_the_other_is_broken(tmp_path):
    from tests.helpers.clips import write_clip

    clip = write_clip(tmp_path / "walk.mp4", 9, [(2.0, 5.0)])
    config_file = tmp_path / "camwatch.toml"
    config_file.write_text(
        CONFIG.replace('source = "demo"', f'source = "{clip}"').format(data_dir=tmp_path / "data")
    )
    config = load_file(config_file)
    config.server.port = 0

    with ServerThread(config) as server:
        event = wait_until(
            lambda: next(
                (e for e in server.get_json("/api/events") if e["status"] == "complete"), None
            ),
            timeout=30,
            message="a finished event",
        )
        assert event["camera"] == "yard"
        assert event["motion_frames"] >= 20
        cameras = {c["name"]: c for c in server.get_json("/api/cameras")}
        assert cameras["broken"]["online"] is False
        assert server.get_json("/api/events?camera=broken") == []
        status, headers, body = server.get(event["video_url"])
        assert status == 200 and headers["Content-Type"] == "video/mp4" and len(body) > 1000
