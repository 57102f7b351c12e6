"""CommandQueue: MQTT ON/OFF commands applied to real switches, floods folded, bad ones logged."""

from __future__ import annotations

import logging
import threading

import pytest

from camwatch.config import MotionConfig
from camwatch.integrations.commands import CommandQueue, payload_kind
from camwatch.recording.switches import CameraSwitches, MotionOverrides, Switches, SwitchState
from tests.helpers.support import wait_until

TOPIC = "camwatch/cam/recordings/set"


@pytest.fixture
def switches() -> Switches:
    return Switches({"cam": MotionConfig(), "yard": MotionConfig()})


def running(switches: Switches, interval: float = 0.5) -> CommandQueue:
    queue = CommandQueue(switches, min_interval_s=interval)
    queue.start()
    return queue


def test_commands_are_applied_to_the_switches(switches):
    queue = running(switches)
    try:
        queue.receive(TOPIC, "cam", "recordings", b"OFF", retain=False)
        wait_until(lambda: not switches.recordings("cam"), message="recordings off")
        queue.receive("camwatch/yard/detect/set", "yard", "detect", b"OFF", retain=False)
        wait_until(lambda: not switches.state("yard").detect, message="detection off")
    finally:
        queue.stop(5)
    assert switches.state("cam") == SwitchState("cam", True, False)
    assert switches.state("yard") == SwitchState("yard", False, True)


def test_a_burst_is_folded_into_a_few_changes_ending_on_the_latest(switches):
    heard: list[SwitchState] = []
    switches.watch(heard.append)
    queue = running(switches, interval=60)  # the turn after the first waits for stop()
    try:
        queue.receive(TOPIC, "cam", "recordings", b"OFF", retain=False)
        wait_until(lambda: heard, message="the first command, at once")
        for i in range(1000):
            queue.receive(TOPIC, "cam", "recordings", b"ON" if i % 2 else b"OFF", retain=False)
        queue.receive(TOPIC, "cam", "recordings", b"ON", retain=False)
        assert len(heard) == 1  # the rest waits out the interval
    finally:
        queue.stop(5)  # cuts the wait short and applies what waits
    assert [state.recordings for state in heard] == [False, True]
    assert switches.recordings("cam") is True


@pytest.mark.parametrize(
    "payload,retain,kind",
    [
        (b"", False, "an empty payload (expected ON or OFF)"),
        (b"on", False, "a payload other than ON or OFF"),
        (b"ON ", False, "a payload other than ON or OFF"),
        (b"\xff\xfe", False, "a payload other than ON or OFF"),
        (b"OFF", True, "a retained command left on the broker (publish commands without retain)"),
    ],
)
def test_what_is_not_a_command(payload, retain, kind):
    assert payload_kind(payload, retain) == kind


def test_bad_messages_change_nothing_and_are_logged_once_per_topic_and_kind(switches, caplog):
    caplog.set_level(logging.WARNING, logger="camwatch.integrations.commands")
    queue = running(switches)
    try:
        threads = [
            threading.Thread(
                target=lambda: [
                    queue.receive(TOPIC, "cam", "recordings", payload, retain=False)
                    for payload in (b"", b"off", b"TOGGLE") * 100
                ]
            )
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        queue.receive(TOPIC, "cam", "recordings", b"OFF", retain=True)
    finally:
        queue.stop(5)
    assert queue.ignored == 901
    assert switches.state("cam") == SwitchState("cam", True, True)
    assert sorted(r.getMessage() for r in caplog.records) == [
        f"mqtt: ignoring a payload other than ON or OFF on {TOPIC} (logged once per topic)",
        f"mqtt: ignoring a retained command left on the broker (publish commands without retain)"
        f" on {TOPIC} (logged once per topic)",
        f"mqtt: ignoring an empty payload (expected ON or OFF) on {TOPIC} (logged once per topic)",
    ]


def test_a_switch_that_cannot_be_saved_is_reported_and_later_commands_still_work(caplog):
    class FullDisk:
        """An index that cannot write: what a full disk does to the switches' store."""

        def __init__(self) -> None:
            self.full = True

        def motion_overrides(self, camera: str) -> MotionOverrides:
            return MotionOverrides()

        def save_motion_overrides(self, camera: str, overrides: MotionOverrides) -> None:
            if self.full:
                raise OSError(28, "No space left on device")

        def camera_switches(self, camera: str) -> CameraSwitches:
            return CameraSwitches()

        def save_camera_switches(self, camera: str, switches: CameraSwitches) -> None:
            if self.full:
                raise OSError(28, "No space left on device")

    store = FullDisk()
    switches = Switches({"cam": MotionConfig()}, store)
    queue = running(switches, interval=0)
    try:
        queue.receive("camwatch/cam/detect/set", "cam", "detect", b"OFF", retain=False)
        wait_until(lambda: "cannot turn detect OFF" in caplog.text, message="the error logged")
        assert switches.state("cam").detect is True  # not applied: it would not survive
        store.full = False
        queue.receive("camwatch/cam/detect/set", "cam", "detect", b"OFF", retain=False)
        wait_until(lambda: not switches.state("cam").detect, message="applied once it saves")
    finally:
        queue.stop(5)
