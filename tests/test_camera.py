"""A camera with detect_source: the substream feeds detection and the JPEG views, the main
stream is recorded as the camera sent it (a real RTSP camera with two streams)."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest

from camwatch import jpeg
from camwatch.capture.camera import Camera
from camwatch.config import CameraConfig
from camwatch.frame import Frame
from tests.helpers.camera_files import decodes, packets, streams, walking_figure
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.processes import free_port
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow


def test_detect_source_substream_detects_while_the_main_stream_is_recorded(tmp_path):
    walk = ((4.0, 9.0),)
    main = walking_figure(tmp_path / "main.mp4", seconds=40, size="640x480", walks=walk)
    sub = walking_figure(tmp_path / "sub.mp4", seconds=40, size="320x240", walks=walk)
    rtsp = RtspCamera(free_port(), {"main": main, "sub": sub}).start()
    cameras = f"""
[[cameras]]
name = "cam"
source = "{rtsp.url("main")}"
detect_source = "{rtsp.url("sub")}"
[cameras.motion]
min_motion_frames = 3
"""
    camwatch = CamwatchProcess(tmp_path, cameras=cameras).start()
    try:
        events: list[dict[str, Any]] = wait_until(
            lambda: [e for e in camwatch.get_json("/api/events") if e["ended_at"]],
            timeout=60,
            message="an event",
        )
        camera = camwatch.get_json("/api/cameras")[0]
        snapshot = camwatch_snapshot(camwatch)
    finally:
        camwatch.kill()
        rtsp.stop()
    assert camera["codec"] == "h264" and camera["audio"] is True
    assert (camera["width"], camera["height"]) == (320, 240)  # what detection and JPEG see
    assert jpeg.dimensions(snapshot) == (320, 240)
    clip = next((camwatch.data_dir / "clips").rglob(f"*-{events[0]['id']}.mp4"))
    video = next(s for s in streams(clip) if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (640, 480)  # the main stream, recorded
    theirs = {p["data_hash"] for p in packets(main)}
    ours = packets(clip)
    assert len(ours) > 30 and sum(p["data_hash"] in theirs for p in ours) / len(ours) >= 0.9
    assert events[0]["has_audio"] is True and decodes(clip)
    assert "Traceback" not in camwatch.log_text()


def camwatch_snapshot(camwatch: CamwatchProcess) -> bytes:
    url = f"http://127.0.0.1:{camwatch.port}/snapshot.jpg"
    with urllib.request.urlopen(url, timeout=10) as reply:
        data: bytes = reply.read()
    return data


def test_a_failing_listener_costs_neither_the_others_nor_the_live_view_their_frames():
    camera = Camera(CameraConfig(name="cam", source="demo", width=160, height=120, fps=20))
    seen: list[int] = []

    def broken(frame: Frame) -> None:
        raise RuntimeError("a bug in one listener")

    camera.listeners.extend([broken, lambda frame: seen.append(frame.seq)])
    camera.start()
    try:
        assert wait_until(lambda: len(seen) >= 5, timeout=30)
        assert camera.hub.latest is not None and camera.hub.latest.seq >= seen[0]
    finally:
        camera.stop()
