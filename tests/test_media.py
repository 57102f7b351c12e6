"""/media/{id}.mp4|jpg: files found through the index only, with Range support, never outside."""

from __future__ import annotations

import http.client
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from camwatch.recording.index import EventRecord, EventStore
from tests.helpers.event_files import add_event
from tests.helpers.http_client import request
from tests.helpers.media import probe
from tests.helpers.support import ServerThread, events_only, slow_demo, store_of

T0 = 1_790_000_000.0


@pytest.fixture
def server(tmp_path):
    with ServerThread(slow_demo(tmp_path / "data"), factory=events_only) as server:
        yield server


@pytest.fixture
def clip(server) -> tuple[EventRecord, bytes]:
    store = store_of(server)
    record = add_event(store, "clip1", T0, frames=30)
    return record, (store.data_dir / record.video_path).read_bytes()


def register(store: EventStore, event_id: str, video_path: str) -> None:
    """An index row pointing wherever a (buggy or tampered) row might point."""
    store.add(
        EventRecord(
            event_id,
            "cam",
            T0,
            T0 + 1,
            1,
            1,
            1.0,
            video_path,
            video_path.replace(".mp4", ".jpg"),
            10,
            "complete",
        )
    )


def test_whole_clip_is_served_as_video_mp4(server, clip, tmp_path):
    _, data = clip
    response = request(server.port, "GET", "/media/clip1.mp4")
    assert response.status == 200
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert int(response.headers["Content-Length"]) == len(data)
    assert response.body == data
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(response.body)
    facts = probe(copy)
    assert (facts["codec_name"], facts["pix_fmt"], facts["frames"]) == ("h264", "yuv420p", 30)


def test_thumbnail_is_a_jpeg(server, clip):
    response = request(server.port, "GET", "/media/clip1.jpg")
    assert response.status == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.body, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (48, 64)


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=100-199", 100, 200),
        ("bytes=0-0", 0, 1),
        ("bytes=-50", -50, None),
        ("bytes=500-", 500, None),
    ],
)
def test_range_requests_get_206_and_exactly_those_bytes(server, clip, header, start, end):
    _, data = clip
    response = request(server.port, "GET", "/media/clip1.mp4", headers={"Range": header})
    expected = data[start:end]
    first = start % len(data)
    assert response.status == 206
    assert response.body == expected
    assert response.headers["Content-Range"] == (
        f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    )
    assert response.headers["Content-Type"] == "video/mp4"


def test_range_past_the_end_is_416(server, clip):
    _, data = clip
    response = request(
        server.port, "GET", "/media/clip1.mp4", headers={"Range": f"bytes={len(data)}-"}
    )
    assert response.status == 416
    assert response.headers["Content-Range"] == f"bytes */{len(data)}"


def test_head_and_if_modified_since(server, clip):
    _, data = clip
    head = request(server.port, "HEAD", "/media/clip1.mp4")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["Content-Length"]) == len(data)
    again = request(
        server.port,
        "GET",
        "/media/clip1.mp4",
        headers={"If-Modified-Since": head.headers["Last-Modified"]},
    )
    assert again.status == 304 and again.body == b""
    etag = request(
        server.port, "GET", "/media/clip1.mp4", headers={"If-None-Match": head.headers["Etag"]}
    )
    assert etag.status == 304


def test_a_clip_that_grows_while_served_is_sent_as_announced(server, tmp_path):
    """A clip being recorded grows: the response must stop at its Content-Length and leave
    the connection usable (bigger than the socket buffers, so the server is still reading
    the file when it grows)."""
    store = store_of(server)
    register(store, "growing", "clips/cam/2026-09-21/cam-20260921-141320-growing.mp4")
    path = store.data_dir / "clips/cam/2026-09-21/cam-20260921-141320-growing.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    first_part = os.urandom(24 * 2**20)
    path.write_bytes(first_part)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        connection.request("GET", "/media/growing.mp4")
        response = connection.getresponse()
        assert int(response.headers["Content-Length"]) == len(first_part)
        with open(path, "ab") as file:
            file.write(os.urandom(2**20))
        assert response.read() == first_part
        connection.request("GET", "/media/growing.mp4", headers={"Range": "bytes=0-9"})
        second = connection.getresponse()
        assert second.status == 206 and second.read() == first_part[:10]
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path",
    [
        "/media/../camwatch.db",
        "/media/%2e%2e/camwatch.db",
        "/media/%2E%2E%2Fcamwatch.db",
        "/media/..%2fcamwatch.db",
        "/media/camwatch.db",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/unknown.mp4",
        "/media/clip1.png",
        "/media/clip1",
        "/media/clip1.mp4/",
        "/media/clip1.mp4%00.jpg",
        "/media/",
        "/media/clips/cam",
    ],
)
def test_anything_but_a_known_id_is_404_json(server, clip, path):
    response = request(server.port, "GET", path)
    assert response.status == 404, path
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]


def test_index_rows_that_point_outside_the_data_dir_are_404(server, tmp_path):
    store = store_of(server)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"secret bytes")
    clips = store.data_dir / "clips" / "cam" / "2026-09-21"
    clips.mkdir(parents=True)
    (clips / "escape.mp4").symlink_to(secret)
    (clips / "dirlink.mp4").symlink_to(tmp_path)
    register(store, "symlinked", "clips/cam/2026-09-21/escape.mp4")
    register(store, "dotdot", "../secret.mp4")
    register(store, "absolute", str(secret))
    register(store, "directory", "clips/cam")
    register(store, "dirlink", "clips/cam/2026-09-21/dirlink.mp4")
    register(store, "database", "camwatch.db.mp4")
    for event_id in ("symlinked", "dotdot", "absolute", "directory", "dirlink", "database"):
        response = request(server.port, "GET", f"/media/{event_id}.mp4")
        assert response.status == 404, event_id
        assert b"secret" not in response.body
        assert response.json()["error"]


def test_a_symlink_that_stays_inside_the_data_dir_is_served(server, clip):
    record, data = clip
    store = store_of(server)
    link = Path(store.data_dir / record.video_path).with_name("alias.mp4")
    link.symlink_to(store.data_dir / record.video_path)
    register(store, "alias", str(link.relative_to(store.data_dir)))
    response = request(server.port, "GET", "/media/alias.mp4")
    assert response.status == 200 and response.body == data
