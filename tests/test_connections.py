"""Connection limits: the budget from the descriptor limit, the gate's counting, pressure logged
once a minute, and the real process under `ulimit -n 1024` flooded with idle connections."""

from __future__ import annotations

import logging
import math
import resource
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from camwatch.server.connections import ConnectionBudget, ConnectionGate, PressureLog
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.media import motion_video, probe
from tests.helpers.security_client import idle_connections, request
from tests.helpers.support import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_leaves_a_reserve_below_the_descriptor_limit():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    budget = ConnectionBudget.plan(2, in_use=40)
    assert budget.descriptors == soft
    assert budget.reserved == 64 + 2 * 16 + soft // 8
    assert budget.total == soft - 40 - budget.reserved
    assert budget.per_client == min(128, budget.total // 4)
    assert budget.spare == min(32, budget.total // 8)
    safe = ConnectionBudget.plan(1, in_use=40, select_safe=True)  # MQTT's select() loop
    assert safe.total + safe.reserved + 40 <= 1024
    chosen = ConnectionBudget.plan(1, in_use=40, max_connections=50, max_client_connections=500)
    assert (chosen.total, chosen.per_client) == (50, 50)


def test_pressure_is_logged_once_then_once_a_minute_with_a_count(caplog):
    clock = Clock()
    pressure = PressureLog(60.0, clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(500):
            pressure.note("client", "refusing connections from 10.0.0.9")
            clock.now += 0.01
        assert len(caplog.records) == 1
        clock.now += 60
        pressure.flush()
        assert len(caplog.records) == 2 and "499 times" in caplog.records[1].getMessage()
        pressure.flush()
        clock.now += 600
        pressure.note("client", "refusing connections from 10.0.0.9")  # a new episode
        assert len(caplog.records) == 3


class FakeStream:
    def __init__(self) -> None:
        self.is_closed = False

    def closed(self) -> bool:
        return self.is_closed


def test_the_gate_counts_by_address_and_keeps_spare_slots_for_light_clients():
    budget = ConnectionBudget(descriptors=1024, reserved=200, total=40, per_client=30, spare=8)
    gate = ConnectionGate(budget, PressureLog(60.0, Clock()))
    streams = []
    for i in range(40):
        address = "10.0.0.1" if i < 30 else f"10.0.0.{i}"
        assert gate.admit(address), i
        streams.append(FakeStream())
        gate.opened(streams[-1], address)  # type: ignore[arg-type]
    assert not gate.admit("10.0.0.1")  # its own limit, and the shared slots are used
    assert not gate.admit("10.0.0.200")  # now full for everyone
    streams[0].is_closed = True
    gate.http_ended(streams[0])  # type: ignore[arg-type]
    assert gate.total == 39 and gate.admit("10.0.0.200")
    websocket = streams[1]
    gate.http_ended(websocket)  # type: ignore[arg-type]  # HTTP is over, the socket is not
    assert gate.total == 39
    websocket.is_closed = True
    gate.sweep()
    assert gate.total == 38


# -- the real process under a 1024 descriptor limit --------------------------------------------

FLOOD = 1100


def raise_own_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"the test needs {needed} descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def started(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["started_at"].replace("Z", "+00:00")).timestamp()


def clip_after(camwatch: CamwatchProcess, moment: float, tmp_path: Path, name: str) -> Path:
    """Wait for a clip that started after `moment` and was finished; download it."""
    events = wait_until(
        lambda: [
            e for e in camwatch.get_json("/api/events") if e["ended_at"] and started(e) > moment
        ],
        timeout=90,
        interval=0.5,
        message="a clip recorded during the flood",
    )
    path = tmp_path / name
    url = f"http://127.0.0.1:{camwatch.port}{events[0]['video_url']}"
    if not url.startswith("http://127.0.0.1:" + str(camwatch.port) + "/"):
        url = f"http://127.0.0.1:{camwatch.port}/{events[0]['video_url'].lstrip('/')}"
    with urllib.request.urlopen(url, timeout=30) as reply:
        path.write_bytes(reply.read())
    return path


def assert_playable(path: Path) -> None:
    info = probe(path)
    assert info["codec_name"] == "h264" and info["frames"] >= 30 and info["duration"] >= 3, info


@pytest.mark.slow
def test_idle_connections_do_not_take_the_descriptors_of_recording(tmp_path):
    raise_own_limit(4096)
    video = motion_video(tmp_path / "motion.mp4")
    cameras = f"""
[[cameras]]
name = "cam"
source = "{video}"
loop = true
fps = 10
width = 320
height = 240

[cameras.motion]
min_motion_frames = 3
pre_roll_seconds = 1.0
max_event_seconds = 5
"""
    with CamwatchProcess(tmp_path, cameras=cameras, nofile=1024) as camwatch:
        wait_until(
            lambda: any(e["ended_at"] is None for e in camwatch.get_json("/api/events")),
            timeout=60,
            message="an event being recorded",
        )
        flood_started = time.time()
        with idle_connections(camwatch.port, ["127.0.0.2"], FLOOD):
            for _ in range(3):  # another address is served while one address floods
                assert request(camwatch.port, "GET", "/healthz", timeout=5).status == 200
            assert_playable(clip_after(camwatch, flood_started, tmp_path, "during.mp4"))
            # Many addresses: the total limit holds and recording still has its descriptors.
            second_wave = time.time()
            with idle_connections(camwatch.port, [f"127.0.0.{i}" for i in range(3, 13)], 110):
                assert_playable(clip_after(camwatch, second_wave, tmp_path, "full.mp4"))
                assert camwatch.get_json("/api/cameras")[0]["online"]
        wait_until(
            lambda: request(camwatch.port, "GET", "/healthz", timeout=5).status == 200,
            timeout=30,
            message="/healthz once the connections are gone",
        )
    flood_seconds = time.time() - flood_started
    log = camwatch.log_text()
    assert "Traceback" not in log and "Too many open files" not in log
    assert len(log) < 50_000, len(log)
    # once when it starts, then at most once a minute (with a count) while it lasts
    once_a_minute = 1 + math.ceil(flood_seconds / 60)
    assert 1 <= log.count("refusing connections from 127.0.0.2") <= once_a_minute
    assert 1 <= log.count("refusing connections: ") <= once_a_minute
    assert "serving at most" in log and "of 1024 file descriptors kept for recording" in log
