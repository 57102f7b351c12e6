"""/media behind the login, and never a file the index was not meant to hand out."""

from __future__ import annotations

import json
import os

import pytest

from camwatch.recording.index import EventRecord, EventStore
from camwatch.server.auth import SECRET_FILE
from tests.helpers.event_files import add_event
from tests.helpers.security_client import basic_header, request, session_cookie
from tests.helpers.support import ServerThread, events_only, slow_demo, store_of

PASSWORD = "media-password"
T0 = 1_790_000_000.0


@pytest.fixture
def server(tmp_path):
    config = slow_demo(tmp_path / "data")
    config.server.password = PASSWORD
    with ServerThread(config, factory=events_only) as running:
        yield running


def point(store: EventStore, event_id: str, video_path: str, thumbnail_path: str) -> None:
    """An index row aimed wherever a tampered database might aim it."""
    store.add(
        EventRecord(
            event_id, "cam", T0, T0 + 1, 1, 1, 1.0, video_path, thumbnail_path, 10, "complete"
        )
    )


def test_media_needs_the_login(server):
    record = add_event(store_of(server), "clip1", T0, frames=20)
    data = (store_of(server).data_dir / record.video_path).read_bytes()
    for path in ("/media/clip1.mp4", "/media/clip1.jpg", "/media/../session.key"):
        response = request(server.port, "GET", path)
        assert response.status == 401 and response.json()["error"]
    cookie = session_cookie(
        request(
            server.port,
            "POST",
            "/login",
            headers={"Content-Type": "application/json"},
            body=json.dumps({"password": PASSWORD}),
        )
    )
    ranged = request(
        server.port, "GET", "/media/clip1.mp4", headers={"Cookie": cookie, "Range": "bytes=0-99"}
    )
    assert ranged.status == 206 and ranged.body == data[:100]
    basic = request(
        server.port,
        "GET",
        "/media/clip1.mp4",
        headers={"Authorization": basic_header("admin", PASSWORD)},
    )
    assert basic.status == 200 and basic.body == data


def test_rows_pointing_at_the_key_or_the_index_are_refused(server):
    store = store_of(server)
    data_dir = store.data_dir
    assert (data_dir / SECRET_FILE).is_file()
    databases = [name for name in os.listdir(data_dir) if name.endswith(".db")]
    assert databases, os.listdir(data_dir)
    (data_dir / "clips").mkdir(exist_ok=True)
    (data_dir / "clips" / "key.mp4").symlink_to(data_dir / SECRET_FILE)
    (data_dir / "clips" / "notes.txt").write_text("not media")
    point(store, "key", SECRET_FILE, SECRET_FILE)
    point(store, "db", databases[0], databases[0])
    point(store, "keylink", "clips/key.mp4", "clips/key.mp4")
    point(store, "wrongtype", "clips/notes.txt", "clips/notes.txt")
    point(store, "wal", databases[0] + "-wal", databases[0] + "-wal")
    auth = {"Authorization": basic_header("admin", PASSWORD)}
    for event_id in ("key", "db", "keylink", "wrongtype", "wal"):
        for kind in ("mp4", "jpg"):
            response = request(server.port, "GET", f"/media/{event_id}.{kind}", headers=auth)
            assert response.status == 404, (event_id, kind, response.status)
            assert response.json() == {"error": "no such media"}


def test_media_ids_that_are_not_ids_are_404(server):
    auth = {"Authorization": basic_header("admin", PASSWORD)}
    for path in (
        "/media/x'%20OR%201=1--.mp4",
        "/media/" + "a" * 5000 + ".mp4",
        "/media/%00.mp4",
        "/media/.mp4",
        "/media/clip1.MP4",
        "/media/clip1.mp4?x=/etc",
    ):
        response = request(server.port, "GET", path, headers=auth)
        assert response.status == 404, path
        assert response.json()["error"]
