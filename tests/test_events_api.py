"""The events API and motion-settings PATCH, against a real server over real HTTP."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from camwatch.config import MotionConfig
from camwatch.recording.index import EventRecord, EventStore
from tests.helpers.clips import write_clip
from tests.helpers.event_files import add_event
from tests.helpers.http_client import request
from tests.helpers.media import probe
from tests.helpers.support import (
    ServerThread,
    demo_config,
    events_only,
    slow_demo,
    store_of,
    wait_until,
)

T0 = 1_790_000_000.0
FIELDS = {
    "id",
    "camera",
    "started_at",
    "ended_at",
    "duration_s",
    "frames",
    "motion_frames",
    "peak_delta",
    "video_url",
    "thumbnail_url",
    "size_bytes",
    "status",
    "has_audio",  # second round
}


@pytest.fixture
def server(tmp_path):
    with ServerThread(slow_demo(tmp_path / "data"), factory=events_only) as server:
        yield server


def ids(response) -> list[str]:
    assert response.status == 200, response.body
    return [event["id"] for event in response.json()]


def seed(store: EventStore) -> list[EventRecord]:
    """Six events, a minute apart, on two cameras; e5 is the newest."""
    return [
        add_event(store, f"e{i}", T0 + 60 * i, camera="yard" if i % 2 else "cam", frames=5)
        for i in range(6)
    ]


# -- GET /api/events ----------------------------------------------------------------------------


def test_list_is_newest_first_with_exactly_the_record_fields(server):
    records = seed(store_of(server))
    response = request(server.port, "GET", "/api/events")
    assert response.headers["Content-Type"].startswith("application/json")
    events = response.json()
    assert [e["id"] for e in events] == ["e5", "e4", "e3", "e2", "e1", "e0"]
    assert events[0] == records[5].to_json()
    assert set(events[0]) == FIELDS
    assert events[0]["started_at"] == "2026-09-21T14:18:20.000Z"
    assert events[0]["video_url"] == "/media/e5.mp4"


def test_list_filters_by_camera_and_limits(server):
    seed(store_of(server))
    assert ids(request(server.port, "GET", "/api/events?camera=yard")) == ["e5", "e3", "e1"]
    assert ids(request(server.port, "GET", "/api/events?camera=porch")) == []
    assert ids(request(server.port, "GET", "/api/events?limit=2")) == ["e5", "e4"]
    assert ids(request(server.port, "GET", "/api/events?camera=cam&limit=1")) == ["e4"]


def test_paging_with_before_as_an_id_or_a_time(server):
    store = store_of(server)
    seed(store)
    add_event(store, "e4b", T0 + 240, frames=5)  # same start as e4
    first = ids(request(server.port, "GET", "/api/events?limit=3"))
    assert first == ["e5", "e4b", "e4"]
    second = ids(request(server.port, "GET", f"/api/events?limit=3&before={first[-1]}"))
    assert second == ["e3", "e2", "e1"]
    events = request(server.port, "GET", "/api/events?limit=2").json()
    by_time = ids(request(server.port, "GET", f"/api/events?before={events[-1]['started_at']}"))
    assert by_time == ["e3", "e2", "e1", "e0"]
    assert ids(request(server.port, "GET", "/api/events?before=2026-09-21T14:15:00%2B00:00")) == [
        "e1",
        "e0",
    ]
    assert ids(request(server.port, "GET", "/api/events?before=2026-09-21T14:15:00+00:00")) == [
        "e1",
        "e0",
    ]
    assert ids(request(server.port, "GET", "/api/events?before=2026-09-21T14:15:00")) == [
        "e1",
        "e0",
    ]


@pytest.mark.parametrize(
    "query, key",
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("before=yesterday", "before"),
        ("before=2026-13-01T00:00:00Z", "before"),
        ("camera=Front%20Door", "camera"),
    ],
)
def test_bad_query_values_are_400_naming_the_key(server, query, key):
    response = request(server.port, "GET", f"/api/events?{query}")
    assert response.status == 400
    assert response.json()["error"].startswith(f"{key}: ")


def test_limit_bounds_are_accepted(server):
    seed(store_of(server))
    assert len(ids(request(server.port, "GET", "/api/events?limit=1"))) == 1
    assert len(ids(request(server.port, "GET", "/api/events?limit=500"))) == 6


# -- GET / DELETE /api/events/{id} --------------------------------------------------------------


def test_get_one_event_and_404_for_unknown(server):
    records = seed(store_of(server))
    response = request(server.port, "GET", "/api/events/e2")
    assert response.status == 200 and response.json() == records[2].to_json()
    missing = request(server.port, "GET", "/api/events/nope")
    assert missing.status == 404 and "nope" in missing.json()["error"]


def test_delete_removes_the_event_and_its_files(server):
    store = store_of(server)
    record = seed(store)[2]
    files = [store.data_dir / record.video_path, store.data_dir / record.thumbnail_path]
    assert all(f.exists() for f in files)
    assert request(server.port, "DELETE", "/api/events/e2").status == 204
    assert not any(f.exists() for f in files)
    assert request(server.port, "GET", "/api/events/e2").status == 404
    assert "e2" not in ids(request(server.port, "GET", "/api/events"))
    again = request(server.port, "DELETE", "/api/events/e2")
    assert again.status == 404 and again.json()["error"]


def test_delete_of_a_recording_event_is_409_and_keeps_it(server):
    store = store_of(server)
    record = add_event(store, "live", T0, status="recording")
    response = request(server.port, "DELETE", "/api/events/live")
    assert response.status == 409 and "recording" in response.json()["error"]
    assert store.get("live") is not None
    assert (store.data_dir / record.video_path).exists()


# -- PATCH /api/cameras/{name}/motion -----------------------------------------------------------


def motion_of(server: ServerThread) -> MotionConfig:
    assert server.service is not None
    return server.service.context.cameras["cam"].config.motion


def test_patch_applies_to_the_live_settings_and_returns_them(server):
    response = request(
        server.port,
        "PATCH",
        "/api/cameras/cam/motion",
        {"threshold": 1.25, "stable_frames": 12, "enabled": False},
    )
    assert response.status == 200
    live = motion_of(server)
    assert (live.threshold, live.stable_frames, live.enabled) == (1.25, 12, False)
    assert response.json() == asdict(live)
    camera = request(server.port, "GET", "/api/cameras/cam").json()
    assert camera["motion"]["threshold"] == 1.25
    assert store_of(server).motion_overrides("cam").settings == {
        "threshold": 1.25,
        "stable_frames": 12,
        "enabled": False,
    }


def test_patch_rejects_bad_values_all_or_nothing(server):
    before = asdict(motion_of(server))
    response = request(server.port, "PATCH", "/api/cameras/cam/motion", {"threshold": 300})
    assert response.status == 400
    assert response.json() == {"error": "threshold: expected a number from 0 to 100, got 300"}
    mixed = request(
        server.port, "PATCH", "/api/cameras/cam/motion", {"threshold": 2.0, "pixel_threshold": 0}
    )
    assert mixed.status == 400 and mixed.json()["error"].startswith("pixel_threshold: ")
    for body in ({"colour": 1}, {"enabled": "yes"}, {"stable_frames": 2.5}):
        bad = request(server.port, "PATCH", "/api/cameras/cam/motion", body)
        assert bad.status == 400, body
        assert bad.json()["error"].startswith(next(iter(body)) + ": ")
    assert asdict(motion_of(server)) == before
    assert store_of(server).motion_overrides("cam").settings == {}


def test_patch_needs_a_json_object_and_a_known_camera(server):
    for raw in (b"{not json", b"[1, 2]"):
        response = request(server.port, "PATCH", "/api/cameras/cam/motion", raw_body=raw)
        assert response.status == 400 and response.json()["error"]
    unknown = request(server.port, "PATCH", "/api/cameras/porch/motion", {"threshold": 1})
    assert unknown.status == 404 and unknown.json()["error"]


def test_patched_settings_survive_a_restart_over_the_config_file(tmp_path):
    data_dir = tmp_path / "data"
    with ServerThread(slow_demo(data_dir)) as server:  # the real wiring
        response = request(server.port, "PATCH", "/api/cameras/cam/motion", {"threshold": 2.5})
        assert response.status == 200
        response = request(
            server.port, "PATCH", "/api/cameras/cam/motion", {"min_motion_frames": 9}
        )
        assert response.status == 200
    config = slow_demo(data_dir)
    config.cameras[0].motion.stable_frames = 33  # edited in the config file meanwhile
    with ServerThread(config) as server:
        motion = server.get_json("/api/cameras/cam")["motion"]
        assert motion["threshold"] == 2.5 and motion["min_motion_frames"] == 9
        assert motion["stable_frames"] == 33
        assert server.service.context.cameras["cam"].config.motion.threshold == 2.5


def test_a_recorded_event_is_listed_and_its_clip_served(tmp_path):
    """End to end with the real wiring: a file with motion, the recorder, the index, the API."""
    video = write_clip(tmp_path / "motion.mp4", 6.0, [(1.0, 3.5)], width=160, height=120)
    config = demo_config(str(tmp_path / "data"), fps=10, width=160, height=120)
    config.cameras[0].source = str(video)
    config.cameras[0].motion.pre_roll_seconds = 0.5
    config.cameras[0].motion.stable_frames = 5
    with ServerThread(config) as server:

        def finished_events():
            events = request(server.port, "GET", "/api/events").json()
            return [e for e in events if e["status"] == "complete"]

        events = wait_until(finished_events, timeout=30, message="a finished event")
        event = events[0]
        assert event["camera"] == "cam" and event["frames"] > 20
        assert 2.0 < event["duration_s"] < 5.0
        clip = request(server.port, "GET", event["video_url"])
        assert clip.status == 200 and len(clip.body) == event["size_bytes"]
        copy = tmp_path / "copy.mp4"
        copy.write_bytes(clip.body)
        facts = probe(copy)
        assert (facts["codec_name"], facts["pix_fmt"]) == ("h264", "yuv420p")
        assert facts["frames"] == event["frames"]
        thumbnail = request(server.port, "GET", event["thumbnail_url"])
        assert thumbnail.status == 200 and thumbnail.body[:2] == b"\xff\xd8"
