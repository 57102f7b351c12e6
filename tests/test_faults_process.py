"""The real `python3 -m camwatch` stopped mid-event: SIGTERM/SIGINT finish the clip and exit within
5 s; kill -9 leaves a clip that plays up to its last fragment and is listed once after restart."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camwatch.recording.index import DB_NAME
from tests.helpers.event_files import whole_fragments
from tests.helpers.media import probe
from tests.helpers.processes import camwatch_env, free_port, stop_process, wait_for_health
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow
WIDTH, HEIGHT, FPS = 320, 240, 10


def motion_video(path: Path, seconds: float = 6.0) -> Path:
    """A block crossing a still scene the whole time: looped, the event never ends by itself."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(int(seconds * FPS)):
        image = np.full((HEIGHT, WIDTH, 3), 70, np.uint8)
        x = (i * 7) % (WIDTH - 40)
        cv2.rectangle(image, (x, 60), (x + 40, 180), (230, 230, 230), -1)
        writer.write(image)
    writer.release()
    return path


class Camwatch:
    """One camwatch process on a free port with a looping motion file as its camera."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.port = free_port()
        video = motion_video(tmp_path / "motion.mp4")
        self.config = tmp_path / "camwatch.toml"
        self.config.write_text(f"""
[server]
host = "127.0.0.1"
port = {self.port}
data_dir = "{self.data_dir}"

[[cameras]]
name = "cam"
source = "{video}"
loop = true
fps = {FPS}
width = {WIDTH}
height = {HEIGHT}

[cameras.motion]
min_motion_frames = 3
pre_roll_seconds = 1.0
""")
        self.log = tmp_path / "camwatch.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Camwatch:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "camwatch", "--config", str(self.config)],
                env=camwatch_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for_health(self.port, self.process)
        return self

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    def recording_event(self) -> dict[str, Any]:
        """Wait for an event that is confirmed and still recording."""
        found = wait_until(
            lambda: [e for e in self.get("/api/events") if e["ended_at"] is None],
            timeout=40,
            interval=0.2,
            message="an event in progress",
        )
        event: dict[str, Any] = found[0]
        return event

    def clip_of(self, event: dict[str, Any]) -> Path:
        """The event's clip file, from the index the running process writes."""
        [row] = [r for r in rows(self.data_dir) if r["id"] == event["id"]]
        return self.data_dir / row["video_path"]

    def signal(self, number: int, timeout: float = 5.0) -> tuple[int, float]:
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(number)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def rows(data_dir: Path) -> list[dict[str, Any]]:
    """The index as SQLite has it, after checking the database is intact."""
    with sqlite3.connect(data_dir / DB_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM events")]


def clip_files(data_dir: Path) -> set[str]:
    return {str(p.relative_to(data_dir)) for p in (data_dir / "clips").rglob("*.mp4")}


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_signal_mid_event_finishes_the_clip_and_exits_promptly(tmp_path, signal_number):
    camwatch = Camwatch(tmp_path).start()
    try:
        event = camwatch.recording_event()
        wait_until(
            lambda: whole_fragments(camwatch.clip_of(event)) >= 1,
            timeout=20,
            message="a fragment of the clip on disk",
        )
        code, seconds = camwatch.signal(signal_number)
    finally:
        camwatch.stop()
    print(f"{signal_number.name}: exit {code} after {seconds:.2f} s")
    assert code == 0 and seconds < 5.0, (code, seconds)
    [row] = [r for r in rows(camwatch.data_dir) if r["id"] == event["id"]]
    assert row["status"] == "complete" and row["ended_at"] is not None and row["frames"] > 20
    assert probe(camwatch.data_dir / row["video_path"])["frames"] == row["frames"]
    assert (camwatch.data_dir / row["thumbnail_path"]).stat().st_size > 0
    assert all(r["status"] != "recording" for r in rows(camwatch.data_dir))
    assert clip_files(camwatch.data_dir) == {r["video_path"] for r in rows(camwatch.data_dir)}


def test_kill_9_mid_event_keeps_the_clip_up_to_its_last_fragment(tmp_path):
    camwatch = Camwatch(tmp_path).start()
    try:
        event = camwatch.recording_event()
        wait_until(
            lambda: whole_fragments(camwatch.clip_of(event)) >= 2,
            timeout=20,
            message="two fragments of the clip on disk",
        )
        code, _ = camwatch.signal(signal.SIGKILL)
        assert code == -signal.SIGKILL
        [row] = [r for r in rows(camwatch.data_dir) if r["id"] == event["id"]]
        assert row["status"] == "recording"  # as the crash left it

        camwatch.start()  # the restart reconciles the index with the files
        listed = [e for e in camwatch.get("/api/events?limit=500") if e["id"] == event["id"]]
        assert len(listed) == 1, listed
        [after] = listed
        assert after["status"] == "truncated" and after["ended_at"] is not None
        assert after["duration_s"] >= 2.0
        facts = probe(camwatch.data_dir / row["video_path"])
        assert facts["codec_name"] == "h264" and facts["frames"] >= 20
        assert facts["frames"] == after["frames"]
        print(f"kill -9: {after['frames']} frames, {after['duration_s']} s kept")
        code, _ = camwatch.signal(signal.SIGTERM)
        assert code == 0
    finally:
        camwatch.stop()
    final = rows(camwatch.data_dir)
    assert len({r["id"] for r in final}) == len(final)
    assert all(r["status"] != "recording" for r in final)
    assert clip_files(camwatch.data_dir) == {r["video_path"] for r in final}  # no orphans
