"""Detection and recordings switches: saved like the motion settings, watchers told in order,
and `PATCH /api/cameras/{name}` over real HTTP with the real wiring."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from camwatch.config import ConfigError, MotionConfig
from camwatch.recording.index import EventStore
from camwatch.recording.switches import (
    CameraSwitches,
    MotionOverrides,
    Switches,
    SwitchState,
    validated_switches,
)
from tests.helpers.http_client import request
from tests.helpers.support import ServerThread, slow_demo, store_of


@pytest.fixture
def store(tmp_path: Path):
    store = EventStore(tmp_path / "data")
    yield store
    store.close()


def switches_over(store: EventStore | None, *names: str) -> Switches:
    switches = Switches({name: MotionConfig() for name in names or ("cam",)})
    if store is not None:
        switches.use_store(store)
    return switches


def test_changes_are_saved_and_read_back_by_the_next_start(store):
    store.save_motion_overrides("cam", MotionOverrides({"threshold": 1.5}))
    switches = switches_over(store, "cam", "yard")
    assert switches.set("cam", detect=False, recordings=False) == SwitchState("cam", False, False)
    # detection is saved exactly as PATCH .../motion {"enabled": false} saves it
    assert store.motion_overrides("cam") == MotionOverrides({"threshold": 1.5, "enabled": False})
    assert store.camera_switches("cam") == CameraSwitches(recordings=False)
    assert store.camera_switches("yard") == CameraSwitches(recordings=None)
    later = switches_over(store, "cam", "yard")
    assert later.state("cam").recordings is False and later.recordings("yard") is True
    switches.set("cam", recordings=True)
    assert switches_over(store, "cam").recordings("cam") is True


def test_detection_is_the_live_motion_setting_the_detector_reads(store):
    motion = MotionConfig()
    switches = Switches({"cam": motion})
    switches.use_store(store)
    switches.set("cam", detect=False)
    assert motion.enabled is False
    motion.enabled = True  # as the config file or a saved override would have it
    assert switches.state("cam").detect is True


def test_watchers_hear_every_set_and_only_detection_changes_of_motion_settings(store):
    switches = switches_over(store)
    heard: list[SwitchState] = []
    switches.watch(heard.append)
    switches.set("cam", recordings=False)
    switches.set("cam", recordings=False)  # unchanged: still answered
    switches.change_motion("cam", {"threshold": 2.0})  # not a switch: no one told
    switches.change_motion("cam", {"enabled": False, "stable_frames": 9})
    assert heard == [
        SwitchState("cam", True, False),
        SwitchState("cam", True, False),
        SwitchState("cam", False, False),
    ]
    assert store.motion_overrides("cam").settings == {
        "threshold": 2.0,
        "enabled": False,
        "stable_frames": 9,
    }


def test_concurrent_changes_reach_watchers_in_the_order_they_were_made(store):
    switches = switches_over(store)
    heard: list[bool] = []
    switches.watch(lambda state: heard.append(state.recordings))

    def flip(value: bool) -> None:
        for _ in range(50):
            switches.set("cam", recordings=value)

    threads = [threading.Thread(target=flip, args=(v,)) for v in (True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(heard) == 100
    assert heard[-1] == switches.recordings("cam") == store.camera_switches("cam").recordings


def test_a_failing_watcher_does_not_stop_the_others_or_the_change(store):
    switches = switches_over(store)
    heard: list[SwitchState] = []

    def broken(state: SwitchState) -> None:
        raise RuntimeError("listener bug")

    switches.watch(broken)
    switches.watch(heard.append)
    switches.set("cam", detect=False)
    assert heard == [SwitchState("cam", False, True)]


def test_without_a_store_changes_apply_but_are_not_kept():
    switches = switches_over(None)
    switches.set("cam", recordings=False)
    assert switches.recordings("cam") is False


@pytest.mark.parametrize(
    "body,message",
    [
        ({"record": True}, "record: unknown key (expected one of: detect, recordings)"),
        ({"detect": "off"}, "detect: expected true or false, got 'off'"),
        ({"recordings": 0}, "recordings: expected true or false, got 0"),
    ],
)
def test_bad_switch_changes_name_the_key(body, message):
    with pytest.raises(ConfigError) as error:
        validated_switches(body)
    assert str(error.value) == message


# -- PATCH /api/cameras/{name} ----------------------------------------------------------------


def test_patch_camera_sets_the_switches_and_get_shows_them(tmp_path):
    with ServerThread(slow_demo(tmp_path / "data")) as server:
        [camera] = request(server.port, "GET", "/api/cameras").json()
        assert (camera["detect"], camera["recordings"]) == (True, True)
        response = request(server.port, "PATCH", "/api/cameras/cam", {"recordings": False})
        assert response.status == 200
        assert (response.json()["detect"], response.json()["recordings"]) == (True, False)
        assert response.json()["name"] == "cam" and "motion" in response.json()
        request(server.port, "PATCH", "/api/cameras/cam", {"detect": False})
        [camera] = request(server.port, "GET", "/api/cameras").json()
        assert (camera["detect"], camera["recordings"]) == (False, False)
        assert camera["motion"]["enabled"] is False
        # PATCH .../motion is the same switch
        request(server.port, "PATCH", "/api/cameras/cam/motion", {"enabled": True})
        assert request(server.port, "GET", "/api/cameras/cam").json()["detect"] is True
        assert store_of(server).camera_switches("cam") == CameraSwitches(recordings=False)
    with ServerThread(slow_demo(tmp_path / "data")) as server:
        camera = request(server.port, "GET", "/api/cameras/cam").json()
        assert (camera["detect"], camera["recordings"]) == (True, False)


def test_patch_camera_rejects_bad_bodies_and_unknown_cameras(tmp_path):
    with ServerThread(slow_demo(tmp_path / "data")) as server:
        for body, key in (({"recording": False}, "recording"), ({"detect": "no"}, "detect")):
            response = request(server.port, "PATCH", "/api/cameras/cam", body)
            assert response.status == 400 and response.json()["error"].startswith(f"{key}: ")
        mixed = request(server.port, "PATCH", "/api/cameras/cam", {"detect": False, "x": 1})
        assert mixed.status == 400
        raw = request(server.port, "PATCH", "/api/cameras/cam", raw_body=b"[true]")
        assert raw.status == 400 and raw.json()["error"]
        missing = request(server.port, "PATCH", "/api/cameras/porch", {"detect": False})
        assert missing.status == 404
        camera = request(server.port, "GET", "/api/cameras/cam").json()
        assert (camera["detect"], camera["recordings"]) == (True, True)  # nothing half-applied
