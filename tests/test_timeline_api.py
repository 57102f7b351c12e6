"""Recordings, activity and export endpoints against a real server over real HTTP."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path

import pytest

from camwatch.recording.activity import ActivityLog
from camwatch.server.timeline_api import ExportSlots
from tests.helpers.event_files import add_event
from tests.helpers.http_client import request
from tests.helpers.media import probe
from tests.helpers.support import ServerThread, slow_demo, store_of, timeline_only, wait_until

T0 = 1_790_000_000.0  # 2026-09-21T14:13:20Z


@pytest.fixture
def server(tmp_path):
    config = slow_demo(tmp_path / "data")
    with ServerThread(config, factory=timeline_only) as server:
        yield server


def get(server: ServerThread, path: str, **params: object):
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    return request(server.port, "GET", f"{path}?{query}" if query else path)


def seed_back_to_back(server: ServerThread, camera: str = "cam") -> list[str]:
    """Three 3 s clips (30 frames at 10 fps), each starting as the previous ends."""
    store = store_of(server)
    return [add_event(store, f"e{i}", T0 + 3 * i, camera=camera, frames=30).id for i in range(3)]


def activity_of(server: ServerThread) -> ActivityLog:
    assert server.service is not None
    log = server.service.context.activity
    assert isinstance(log, ActivityLog)
    return log


# -- recordings -------------------------------------------------------------------------------


def test_recordings_lists_the_clips_in_the_range_oldest_first(server):
    seed_back_to_back(server)
    add_event(store_of(server), "other", T0 + 1, camera="yard", frames=10)
    add_event(store_of(server), "later", T0 + 3600, frames=10)
    response = get(server, "/api/cameras/cam/recordings", start=T0 + 1, end=T0 + 600)
    assert response.status == 200, response.body
    body = response.json()
    assert body["camera"] == "cam"
    assert [s["id"] for s in body["segments"]] == ["e0", "e1", "e2"]
    first = body["segments"][0]
    assert first["start"] == "2026-09-21T14:13:20.000Z"
    assert first["end"] == "2026-09-21T14:13:22.900Z"
    assert first["url"] == "/media/e0.mp4" and first["size_bytes"] > 0
    status, headers, data = server.get(first["url"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert data == (store_of(server).data_dir / store_of(server).get("e0").video_path).read_bytes()


def test_recordings_take_iso_times_too(server):
    seed_back_to_back(server)
    response = get(
        server,
        "/api/cameras/cam/recordings",
        start="2026-09-21T14:13:24Z",
        end="2026-09-21T14:13:25+00:00",
    )
    assert [s["id"] for s in response.json()["segments"]] == ["e1"]


def test_a_clip_deleted_behind_our_back_is_dropped_from_the_index(server, caplog):
    ids = seed_back_to_back(server)
    store = store_of(server)
    (store.data_dir / store.get(ids[1]).video_path).unlink()
    response = get(server, "/api/cameras/cam/recordings", start=T0, end=T0 + 60)
    assert response.status == 200
    assert [s["id"] for s in response.json()["segments"]] == ["e0", "e2"]
    assert store.get(ids[1]) is None
    assert request(server.port, "GET", "/media/e1.mp4").status == 404


@pytest.mark.parametrize(
    ("params", "status", "named"),
    [
        ({"start": "yesterday"}, 400, "start:"),
        ({"start": T0, "end": "soon"}, 400, "end:"),
        ({"start": T0 + 60, "end": T0}, 400, "end:"),
        ({"start": T0, "end": T0}, 400, "end:"),
        ({"start": time.time() + 3600}, 400, "start:"),
        ({"start": T0, "end": T0 + 40 * 86400}, 400, "end:"),
        ({"start": "nan"}, 400, "start:"),
    ],
)
def test_bad_ranges_are_json_errors_naming_the_parameter(server, params, status, named):
    for path in ("recordings", "activity", "export.mp4"):
        response = get(server, f"/api/cameras/cam/{path}", **params)
        assert response.status == status, (path, response.body)
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["error"].startswith(named), response.json()


def test_an_unknown_camera_is_404(server):
    for path in ("recordings", "activity", "export.mp4"):
        response = get(server, f"/api/cameras/nope/{path}", start=T0, end=T0 + 10)
        assert response.status == 404
        assert "nope" in response.json()["error"]


# -- activity ---------------------------------------------------------------------------------


def test_activity_gives_the_peak_of_each_step(server):
    log = activity_of(server)
    for second in range(180):
        log.add("cam", T0 + second, 0.5 if second != 130 else 7.25)
    log.flush()
    log.add("cam", T0 + 179.5, 2.0)  # still pending: shown too
    response = get(server, "/api/cameras/cam/activity", start=T0, end=T0 + 180)
    assert response.status == 200
    body = response.json()
    assert body["camera"] == "cam" and body["step_s"] == 60
    start_of_minute = int(T0) - int(T0) % 60
    assert body["points"] == [
        [start_of_minute, 0.5],
        [start_of_minute + 60, 0.5],
        [start_of_minute + 120, 7.25],
        [start_of_minute + 180, 2.0],
    ]
    fine = get(server, "/api/cameras/cam/activity", start=T0 + 129, end=T0 + 132, step=1)
    assert fine.json()["points"] == [[T0 + 129, 0.5], [T0 + 130, 7.25], [T0 + 131, 0.5]]


@pytest.mark.parametrize("step", ["0", "-5", "1.5", "abc", "86401", "²"])
def test_a_bad_step_is_400_naming_it(server, step):
    response = get(server, "/api/cameras/cam/activity", start=T0, end=T0 + 60, step=step)
    assert response.status == 400
    assert response.json()["error"].startswith("step:")


def test_too_many_points_is_400_naming_the_step(server):
    response = get(server, "/api/cameras/cam/activity", start=T0, end=T0 + 7 * 86400, step=1)
    assert response.status == 400
    assert response.json()["error"].startswith("step:")


# -- export -----------------------------------------------------------------------------------


def test_export_across_three_clips_downloads_one_playable_mp4(server, tmp_path):
    seed_back_to_back(server)
    response = get(server, "/api/cameras/cam/export.mp4", start=T0 + 1.5, end=T0 + 7.5)
    assert response.status == 200, response.body
    assert response.headers["Content-Type"] == "video/mp4"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and ".mp4" in disposition
    path = tmp_path / "export.mp4"
    path.write_bytes(response.body)
    info = probe(path)
    assert info["codec_name"] == "h264"
    assert 6.0 - 0.1 <= info["duration"] <= 6.0 + 1.0  # the asked 6 s, within one GOP (1 s)
    exports = store_of(server).data_dir / "exports"
    assert list(exports.iterdir()) == []  # the temporary file is gone


def test_export_of_a_range_without_footage_is_404(server):
    seed_back_to_back(server)
    response = get(server, "/api/cameras/cam/export.mp4", start=T0 + 100, end=T0 + 200)
    assert response.status == 404
    assert response.json()["error"].startswith("start:")


def test_export_over_24_hours_is_400(server):
    seed_back_to_back(server)
    response = get(server, "/api/cameras/cam/export.mp4", start=T0, end=T0 + 86400 + 1)
    assert response.status == 400
    assert "24 h" in response.json()["error"]


def test_export_needs_both_ends(server):
    response = get(server, "/api/cameras/cam/export.mp4", end=T0)
    assert response.status == 400
    assert response.json()["error"].startswith("start: required")


def test_export_when_every_file_is_gone_is_404_and_drops_the_rows(server):
    ids = seed_back_to_back(server)
    store = store_of(server)
    for event_id in ids:
        Path(store.data_dir / store.get(event_id).video_path).unlink()
    response = get(server, "/api/cameras/cam/export.mp4", start=T0, end=T0 + 9)
    assert response.status == 404
    assert store.records() == []


def test_the_running_camera_records_its_activity_every_second(tmp_path):
    with ServerThread(slow_demo(tmp_path / "data")) as server:  # the full wiring: a demo camera

        def seconds_recorded():
            now = time.time()
            points = get(server, "/api/cameras/cam/activity", start=now - 60, step=1).json()
            return len(points["points"]) >= 3 and points

        points = wait_until(seconds_recorded, timeout=30, message="three seconds of activity")
        assert all(peak >= 0 for _, peak in points["points"])
    day_files = list((tmp_path / "data" / "activity" / "cam").glob("*.u16"))
    assert day_files  # written at the latest on stop


def test_an_export_the_disk_refuses_is_a_json_500_without_a_traceback(server, caplog):
    seed_back_to_back(server)
    exports = store_of(server).data_dir / "exports"
    if exports.is_dir():
        exports.rmdir()
    exports.write_bytes(b"not a folder")  # mkdir of the exports folder fails, as on a full disk
    response = get(server, "/api/cameras/cam/export.mp4", start=T0 + 1.5, end=T0 + 7.5)
    assert response.status == 500
    assert response.json()["error"].startswith("cannot write the export:")
    # the handler's clean-up after the answer has run once the server answers again
    assert get(server, "/api/cameras").status == 200
    assert not [r for r in caplog.records if r.exc_info]  # logged as one line, no traceback
    exports.unlink()
    again = get(server, "/api/cameras/cam/export.mp4", start=T0 + 1.5, end=T0 + 7.5)
    assert again.status == 200  # the failed export gave its slot back


def test_only_a_few_exports_are_made_at_once():
    slots = ExportSlots(2)
    assert slots.take() and slots.take()
    assert not slots.take()
    slots.give_back()
    assert slots.take()
