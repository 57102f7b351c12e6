"""Deferred imports: PyAV stays out of a process whose cameras record nothing, loads whole and
once for the first clip, and a missing library is still named at startup."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from camwatch.deferred import (
    BrokenLibrary,
    MissingLibrary,
    after_load,
    defer_import,
    is_loaded,
    require,
)
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.mjpeg_server import MjpegTestServer
from tests.helpers.processes import camwatch_env

PYAV_DIR = str(Path(importlib.util.find_spec("av").origin).parent)  # type: ignore[arg-type, union-attr]


@pytest.fixture
def module_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for modules written by the test; they are forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write_module(folder: Path, name: str, code: str) -> None:
    (folder / f"{name}.py").write_text(code)
    importlib.invalidate_caches()


def test_threads_that_first_use_a_deferred_module_together_all_see_it_whole(module_dir):
    runs = module_dir / "runs"
    write_module(
        module_dir,
        "slow_library",
        f"import time\nopen({str(runs)!r}, 'a').write('ran\\n')\ntime.sleep(0.3)\nVALUE = 42\n",
    )
    defer_import("slow_library", "slow-library")
    import slow_library

    assert not is_loaded("slow_library") and not runs.exists()
    start, seen = threading.Barrier(8), []

    def use() -> None:
        start.wait()
        seen.append(slow_library.VALUE)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [42] * 8
    assert runs.read_text() == "ran\n"  # its code ran once
    assert is_loaded("slow_library")


SUBMODULE_RACE = """
import os, sys, threading, types
hooks = types.ModuleType("deferred_hooks")
hooks.running, hooks.sub_running = threading.Event(), threading.Event()
sys.modules["deferred_hooks"] = hooks
from camwatch.deferred import defer_import, is_loaded
defer_import("slow_package", "slow-package")
import slow_package
seen = []

def use_the_package():
    seen.append(slow_package.VALUE)

def import_the_submodule():
    assert hooks.running.wait(10)
    import slow_package.sub
    seen.append(slow_package.sub.VALUE)

runs = (use_the_package, import_the_submodule)
threads = [threading.Thread(target=run, daemon=True) for run in runs]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(10)
hung = any(thread.is_alive() for thread in threads)
print("hung" if hung else "done", sorted(seen), is_loaded("slow_package"), flush=True)
os._exit(0)  # a hung thread holds import locks that the interpreter's exit would wait for
"""


def test_importing_a_submodule_while_another_thread_runs_the_package_does_not_hang(tmp_path):
    package = tmp_path / "slow_package"
    package.mkdir()
    # The package's code waits for its submodule's to have started on the other thread, which
    # then holds the import system's lock for it: the order that hung both threads for ever.
    (package / "__init__.py").write_text(
        "import deferred_hooks\ndeferred_hooks.running.set()\n"
        "deferred_hooks.sub_running.wait(10)\nfrom slow_package import sub\nVALUE = sub.VALUE\n"
    )
    (package / "sub.py").write_text(
        "import deferred_hooks\ndeferred_hooks.sub_running.set()\nVALUE = 7\n"
    )
    env = camwatch_env()
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    result = subprocess.run(
        [sys.executable, "-c", SUBMODULE_RACE], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "done [7, 7] True", result.stdout + result.stderr


def test_a_module_that_fails_to_load_is_not_run_again_and_says_so_each_time(module_dir):
    runs, flag = module_dir / "runs", module_dir / "broken"
    flag.write_text("yes")
    write_module(
        module_dir,
        "flaky_library",
        f"import pathlib\nopen({str(runs)!r}, 'a').write('ran\\n')\n"
        f"if pathlib.Path({str(flag)!r}).read_text() == 'yes':\n"
        "    raise ImportError('libfoo.so: cannot open shared object file')\nVALUE = 1\n",
    )
    defer_import("flaky_library", "flaky-library")
    import flaky_library

    for _ in range(3):  # the real error each time, not an AttributeError on a half module
        with pytest.raises(BrokenLibrary, match=r"needs flaky-library.*libfoo\.so"):
            _ = flaky_library.VALUE
        flag.write_text("no")  # a later use would load it: the failure is remembered instead
    with pytest.raises(MissingLibrary):
        require("flaky_library")
    assert runs.read_text() == "ran\n"
    assert not is_loaded("flaky_library")


def test_after_load_runs_before_the_first_use_or_at_once_when_loaded(module_dir):
    write_module(module_dir, "configured_library", "LEVEL = 'info'\n")
    defer_import("configured_library", "configured-library")
    import configured_library

    def quieten() -> None:
        configured_library.LEVEL = "error"

    after_load("configured_library", quieten)
    assert not is_loaded("configured_library")
    assert configured_library.LEVEL == "error"  # the first use already sees it configured
    configured_library.LEVEL = "debug"
    after_load("configured_library", quieten)
    assert configured_library.LEVEL == "error"


def test_a_missing_library_is_named_with_its_package():
    with pytest.raises(MissingLibrary, match="camwatch needs no-such-package: pip install"):
        defer_import("no_such_library_here", "no-such-package")


def test_camwatch_without_pyav_says_so_at_startup():
    hide_pyav = "import sys; sys.modules['av'] = None; import camwatch.cli"
    result = subprocess.run(
        [sys.executable, "-c", hide_pyav],
        env=camwatch_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "camwatch needs av: pip install av" in result.stderr


def scene(moving: threading.Event, index: int) -> bytes:
    """A still textured picture; once `moving` is set, a dark block crosses it."""
    image = np.random.default_rng(5).integers(60, 190, (240, 320, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)
    if moving.is_set():
        x = (index * 12) % 280
        image[60:200, x : x + 40] = 20
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def maps_pyav(pid: int) -> bool:
    return PYAV_DIR in Path(f"/proc/{pid}/maps").read_text()


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_an_mjpeg_camera_loads_pyav_with_its_first_clip_not_before(tmp_path):
    moving = threading.Event()
    with MjpegTestServer(lambda i: scene(moving, i), fps=10) as camera:
        cameras = f"""
[[cameras]]
name = "yard"
source = "{camera.url}"
fps = 10

[cameras.motion]
threshold = 1.0
min_motion_frames = 3
stable_frames = 10
pre_roll_seconds = 0.5
"""
        with CamwatchProcess(tmp_path, cameras=cameras) as server:
            assert server.process is not None
            pid, base = server.process.pid, f"http://127.0.0.1:{server.port}"
            assert wait_until(lambda: server.get_json("/api/cameras")[0]["online"], 20)
            for path in ("/snapshot.jpg", "/api/events", "/metrics", "/"):
                with urllib.request.urlopen(base + path, timeout=10) as reply:
                    assert reply.status == 200
            time.sleep(2)  # frames detected, shown and not recorded
            assert not maps_pyav(pid), "PyAV was loaded for a camera that recorded nothing"
            moving.set()
            assert wait_until(lambda: server.get_json("/api/events"), 30), server.log_text()
            assert maps_pyav(pid)
            moving.clear()
            assert wait_until(lambda: server.get_json("/api/events")[0]["ended_at"], 30)
            event = server.get_json("/api/events")[0]
            assert event["motion_frames"] >= 3 and event["size_bytes"] > 0


def broken_pyav(tmp_path: Path) -> Path:
    """A folder to put first on PYTHONPATH: an `av` that is installed but does not load."""
    broken = tmp_path / "broken" / "av"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        "raise ImportError('libavformat.so.61: cannot open shared object file')\n"
    )
    return broken.parent


@pytest.mark.slow
def test_a_pyav_that_does_not_load_leaves_the_camera_streaming_and_detecting_unrecorded(
    tmp_path,
):
    broken = broken_pyav(tmp_path)
    moving = threading.Event()
    moving.set()
    with MjpegTestServer(lambda i: scene(moving, i), fps=10) as camera:
        cameras = f"""
[[cameras]]
name = "yard"
source = "{camera.url}"
fps = 10

[cameras.motion]
threshold = 1.0
min_motion_frames = 3
stable_frames = 10
pre_roll_seconds = 0.5
"""
        with CamwatchProcess(tmp_path, cameras=cameras, pythonpath=broken) as server:
            yard = lambda: server.get_json("/api/cameras")[0]  # noqa: E731
            assert wait_until(lambda: yard()["recording_error"], 30), server.log_text()
            moving.clear()  # the event ends; the next motion would start another clip
            assert wait_until(lambda: yard()["delta"] < 1.0, 20)  # still detecting
            moving.set()
            assert wait_until(lambda: yard()["delta"] > 1.0, 20)
            snapshot = f"http://127.0.0.1:{server.port}/snapshot.jpg"
            with urllib.request.urlopen(snapshot, timeout=10) as reply:
                assert reply.status == 200 and reply.read(2) == b"\xff\xd8"  # still streaming
            assert "libavformat.so.61" in yard()["recording_error"]
            assert server.get_json("/api/events") == []
            log = server.log_text()
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "camera yard: recording is unavailable" in errors[0], log
    assert "needs av, which is installed but does not load" in errors[0]
    assert "Traceback" not in log


@pytest.mark.slow
def test_a_pyav_that_does_not_load_shows_an_rtsp_camera_offline_with_the_reason(tmp_path):
    """An RTSP camera is read with PyAV: without it the camera is offline and says why, in
    the API and in one log line, and is not retried in a loop of tracebacks."""
    cameras = """
[[cameras]]
name = "door"
source = "rtsp://127.0.0.1:9/stream"
"""
    with CamwatchProcess(tmp_path, cameras=cameras, pythonpath=broken_pyav(tmp_path)) as server:
        door = lambda: server.get_json("/api/cameras")[0]  # noqa: E731
        assert wait_until(lambda: "does not load" in door()["status"], 30), door()
        assert not door()["online"]
        time.sleep(3)  # a few retries
        log = server.log_text()
    lines = [line for line in log.splitlines() if "camera door" in line]
    assert len(lines) == 1 and "needs av, which is installed but does not load" in lines[0], log
    assert "Traceback" not in log
