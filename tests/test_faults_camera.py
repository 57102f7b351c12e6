"""Faults of a network camera mid-event: it goes away (the clip is finished and indexed, the camera
shows offline, recovery is automatic), and it sends corrupt or truncated frames (skipped)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camwatch.config import CameraConfig
from tests.helpers.event_files import whole_fragments
from tests.helpers.media import probe
from tests.helpers.mjpeg_server import MjpegTestServer
from tests.helpers.support import ServerThread, demo_config, wait_until

WIDTH, HEIGHT, FPS = 160, 120, 10

pytestmark = pytest.mark.slow


def scene(index: int, moving: bool) -> bytes:
    """A still background; while `moving`, a bright block crosses it (lots of motion)."""
    image = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
    cv2.rectangle(image, (0, HEIGHT - 20), (WIDTH, HEIGHT), (90, 110, 90), -1)
    if moving:
        x = (index * 9) % (WIDTH - 30)
        cv2.rectangle(image, (x, 30), (x + 30, 90), (240, 240, 240), -1)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def corrupted(data: bytes, how: int) -> bytes:
    if how == 0:  # truncated mid-scan
        return data[: len(data) // 2]
    if how == 1:  # garbage in the entropy-coded data, markers intact
        middle = len(data) // 2
        return data[:middle] + bytes(range(256))[: len(data) // 4] + data[middle + 64 :]
    if how == 2:  # not a JPEG at all
        return b"\x00garbage" * 50
    return b"\xff\xd8\xff\xd9"  # SOI, EOI and nothing between


def camera_config(url: str) -> CameraConfig:
    camera = CameraConfig(name="net", source=url, fps=FPS, width=WIDTH, height=HEIGHT)
    camera.motion.min_motion_frames = 3
    camera.motion.stable_frames = 10
    camera.motion.pre_roll_seconds = 1.0
    return camera


def events(server: ServerThread) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = server.get_json("/api/events")
    return result


def camera_state(server: ServerThread) -> dict[str, Any]:
    state: dict[str, Any] = server.get_json("/api/cameras")[0]
    return state


def clip_path(server: ServerThread, event: dict[str, Any]) -> Path:
    assert server.service is not None
    store = server.service.context.events
    record = store.get(event["id"])
    return Path(store.data_dir) / record.video_path


def run_with(
    make_part: Callable[[int], bytes], tmp_path: Path
) -> tuple[MjpegTestServer, ServerThread]:
    source = MjpegTestServer(make_part, fps=FPS).start()
    config = demo_config(str(tmp_path / "data"), cameras=[camera_config(source.url)])
    return source, ServerThread(config).start()


def test_camera_gone_mid_event_finishes_the_clip_and_recovers(tmp_path):
    source, server = run_with(lambda i: scene(i, moving=True), tmp_path)
    try:
        first = wait_until(lambda: events(server), timeout=30, message="an event")[0]
        assert first["ended_at"] is None and camera_state(server)["recording"]
        wait_until(
            lambda: whole_fragments(clip_path(server, first)) >= 1,
            timeout=20,
            message="a fragment of the clip on disk",
        )
        source.stop()  # the camera loses power mid-event
        wait_until(lambda: not camera_state(server)["online"], timeout=15, message="camera offline")
        ended = wait_until(
            lambda: [
                e for e in events(server) if e["id"] == first["id"] and e["ended_at"] is not None
            ],
            timeout=15,
            message="the event ended",
        )[0]
        assert ended["status"] == "complete" and ended["frames"] >= 20
        assert not camera_state(server)["recording"]
        facts = probe(clip_path(server, ended))
        assert facts["codec_name"] == "h264" and facts["frames"] == ended["frames"]
        status, _, placeholder = server.get("/snapshot.jpg")  # viewers see the offline card
        assert status == 200 and placeholder[:2] == b"\xff\xd8"

        source.start()  # back on the same address
        wait_until(lambda: camera_state(server)["online"], timeout=40, message="camera back online")
        wait_until(
            lambda: any(e["id"] != first["id"] for e in events(server)),
            timeout=30,
            message="recording resumes with a new event",
        )
    finally:
        server.stop()
        source.stop()
    records = stored_events(server)  # after the stop: every clip finished, once each
    assert len(records) >= 2 and len({r.id for r in records}) == len(records)
    assert all(r.status == "complete" and r.ended_at is not None for r in records)


def stored_events(server: ServerThread) -> list[Any]:
    assert server.service is not None
    return list(server.service.context.events.list(limit=100))


def test_corrupt_frames_mid_event_are_skipped(tmp_path):
    def make_part(index: int) -> bytes:
        data = scene(index, moving=10 <= index < 70)
        if 25 <= index < 60 and index % 4 == 0:
            return corrupted(data, index // 4 % 4)
        return data

    source, server = run_with(make_part, tmp_path)
    went_offline = []
    try:
        wait_until(lambda: camera_state(server)["online"], message="camera online")

        def ended_event() -> list[dict[str, Any]]:
            if not camera_state(server)["online"]:
                went_offline.append(time.monotonic())
            return [e for e in events(server) if e["ended_at"] is not None]

        event = wait_until(ended_event, timeout=40, interval=0.2, message="the event ended")[0]
        assert source.parts_sent >= 70
        assert event["status"] == "complete", event
        facts = probe(clip_path(server, event))
        assert facts["frames"] == event["frames"] >= 40
        assert not went_offline  # a bad frame is not a lost camera
        assert camera_state(server)["online"]
        status, _, snapshot = server.get("/snapshot.jpg")
        assert (
            status == 200
            and cv2.imdecode(np.frombuffer(snapshot, np.uint8), cv2.IMREAD_COLOR) is not None
        )
    finally:
        server.stop()
        source.stop()
