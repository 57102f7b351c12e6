"""HookRunner with real shell commands: environment, time limit, bounded queue, failures."""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

from camwatch.config import HooksConfig
from camwatch.integrations.hooks import HookRunner
from camwatch.recording.index import EventRecord
from tests.helpers.support import wait_until

VARIABLES = (
    "CAMWATCH_EVENT",
    "CAMWATCH_CAMERA",
    "CAMWATCH_EVENT_ID",
    "CAMWATCH_CLIP_PATH",
    "CAMWATCH_THUMBNAIL_PATH",
    "CAMWATCH_STARTED_AT",
    "CAMWATCH_ENDED_AT",
)


def record(event_id: str = "ab12cd34ef56") -> EventRecord:
    return EventRecord(
        id=event_id,
        camera="front",
        started_at=1795512600.0,
        ended_at=None,
        frames=0,
        motion_frames=6,
        peak_delta=4.5,
        video_path=f"clips/front/2026-11-24/front-20261124-093000-{event_id}.mp4",
        thumbnail_path=f"clips/front/2026-11-24/front-20261124-093000-{event_id}.jpg",
    )


def dump_env_to(path: Path) -> str:
    """A hook that writes its CAMWATCH_* variables, one NAME=value per line, to path."""
    target = shlex.quote(str(path))
    return f"env | grep '^CAMWATCH_' | grep -v '^CAMWATCH_EVENT_JSON=' | sort > {target}"


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def group_alive(pgid: int) -> bool:
    """Whether a process group has a running (not zombie) member, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            return True
    return False


def test_start_and_end_hooks_get_the_event_in_their_environment(tmp_path):
    data_dir = tmp_path / "data"
    config = HooksConfig(
        on_event_start=dump_env_to(tmp_path / "start.env"),
        on_event_end=dump_env_to(tmp_path / "end.env"),
    )
    runner = HookRunner(config, data_dir)
    runner.start()
    event = record()
    runner.event_started(event)
    event.ended_at, event.status = event.started_at + 12.5, "complete"
    runner.event_ended(event)
    runner.motion_changed("front", False)  # hooks ignore it
    runner.stop()

    start, end = read_env(tmp_path / "start.env"), read_env(tmp_path / "end.env")
    assert sorted(start) == sorted(VARIABLES)
    assert start["CAMWATCH_EVENT"] == "start" and end["CAMWATCH_EVENT"] == "end"
    assert start["CAMWATCH_CAMERA"] == "front"
    assert start["CAMWATCH_EVENT_ID"] == "ab12cd34ef56"
    clip = Path(start["CAMWATCH_CLIP_PATH"])
    assert clip.is_absolute() and clip == data_dir.resolve() / event.video_path
    assert Path(end["CAMWATCH_THUMBNAIL_PATH"]) == data_dir.resolve() / event.thumbnail_path
    assert start["CAMWATCH_STARTED_AT"] == "2026-11-24T09:30:00.000Z"
    assert start["CAMWATCH_ENDED_AT"] == ""  # still recording when it started
    assert end["CAMWATCH_ENDED_AT"] == "2026-11-24T09:30:12.500Z"


def test_a_hook_running_past_the_timeout_has_its_process_group_killed(tmp_path, caplog):
    pid_file, finished = tmp_path / "pid", tmp_path / "finished"
    command = f"echo $$ > {pid_file}; sleep 30; touch {finished}"
    runner = HookRunner(HooksConfig(on_event_start=command, timeout_seconds=1.0), tmp_path)
    runner.start()
    with caplog.at_level(logging.WARNING, logger="camwatch.integrations.hooks"):
        runner.event_started(record())
        wait_until(
            lambda: pid_file.exists() and pid_file.read_text().strip(), message="the hook started"
        )
        pid = int(pid_file.read_text())
        assert group_alive(pid)  # the shell and its sleep, in their own process group
        wait_until(lambda: not group_alive(pid), timeout=10, message="the hook's group killed")
        runner.stop()
    assert not finished.exists()
    assert any("still running after 1s; killed" in r.getMessage() for r in caplog.records)


def test_reporting_events_never_waits_for_a_running_hook(tmp_path):
    release, started, ran = tmp_path / "release", tmp_path / "started", tmp_path / "ran"
    command = (
        f"echo $CAMWATCH_EVENT_ID >> {started}; "
        f"while [ ! -e {release} ]; do sleep 0.05; done; "
        f"echo $CAMWATCH_EVENT_ID >> {ran}"
    )
    runner = HookRunner(
        HooksConfig(on_event_start=command, timeout_seconds=30), tmp_path, max_queued=2
    )
    runner.start()
    runner.event_started(record("event0"))
    wait_until(started.exists, message="the first hook running")
    for i in range(1, 6):  # two wait, the rest are dropped: none of these calls block
        runner.event_started(record(f"event{i}"))
    assert not ran.exists()  # every call above returned while the first hook was still waiting
    release.touch()
    runner.stop()
    assert ran.read_text().split() == ["event0", "event1", "event2"]
    assert runner.runs == 3


def test_a_failing_hook_is_logged_and_later_hooks_still_run(tmp_path, caplog):
    marker = tmp_path / "second"
    runner = HookRunner(
        HooksConfig(on_event_start="echo oops >&2; exit 3", on_event_end=f"touch {marker}"),
        tmp_path,
    )
    runner.start()
    with caplog.at_level(logging.WARNING, logger="camwatch.integrations.hooks"):
        runner.event_started(record())
        runner.event_ended(record())
        runner.stop()
    assert marker.exists()
    assert runner.failures == 1
    failure = next(r.getMessage() for r in caplog.records if "status 3" in r.getMessage())
    assert "oops" in failure


def test_stop_kills_a_hook_that_outlives_the_grace_period(tmp_path):
    pid_file = tmp_path / "pid"
    runner = HookRunner(
        HooksConfig(on_event_end=f"echo $$ > {pid_file}; sleep 60", timeout_seconds=600), tmp_path
    )
    runner.start()
    runner.event_ended(record())
    runner.event_ended(record("never"))
    wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), message="hook ran")
    pid = int(pid_file.read_text())
    runner.stop(grace=0.5)
    # stop() returns once the hook's shell is gone; its `sleep`, sent SIGKILL too, may take a
    # moment longer to exit on a loaded machine (it would live on for 60 s if left alone)
    wait_until(lambda: not group_alive(pid), timeout=10, message="the hook's group gone")
    assert runner.runs == 1  # the queued one is abandoned on shutdown
