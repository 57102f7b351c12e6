"""The attacks of issue 15 against the real process, with the figures the issue quoted:
concurrent password guesses, idle connections under `ulimit -n 1024`, a camera lying about its
frame size, a corrupt looping video. `python3 -m bench.attacks` prints one line per attack."""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bench.procstat import fd_count
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.file_server import FileServer
from tests.helpers.media import corrupt_video
from tests.helpers.mjpeg_server import MjpegTestServer, lying_frame
from tests.helpers.security_client import (
    concurrently,
    concurrently_from,
    http_request,
    idle_connections,
    request,
    status_of,
)

JSON = {"Content-Type": "application/json"}


def login(password: str) -> bytes:
    body = json.dumps({"username": "admin", "password": password}).encode()
    return http_request("POST", "/login", JSON, body)


def counts(answers: list[bytes]) -> dict[int, int]:
    statuses = [status_of(a) for a in answers]
    return {status: statuses.count(status) for status in sorted(set(statuses))}


def guesses(folder: Path) -> None:
    many = "max_client_connections = 1000"
    with CamwatchProcess(folder, password="right", server=many) as camwatch:
        started = time.monotonic()
        answers = concurrently(camwatch.port, [login(f"guess {i}") for i in range(300)])
        print(
            f"300 concurrent guesses, one address: {counts(answers)} in "
            f"{time.monotonic() - started:.1f} s (401 = checked)"
        )
        sources = [f"127.0.{i // 250}.{i % 250 + 2}" for i in range(300)]
        started = time.monotonic()
        answers = concurrently_from(camwatch.port, [(s, login("x")) for s in sources])
        print(
            f"300 concurrent guesses, 300 addresses: {counts(answers)} in "
            f"{time.monotonic() - started:.1f} s"
        )


def idle(folder: Path) -> None:
    with CamwatchProcess(folder, nofile=1024) as camwatch:
        assert camwatch.process is not None
        size = camwatch.log.stat().st_size
        with idle_connections(camwatch.port, ["127.0.0.2"], 1100):
            times = []
            for _ in range(20):
                started = time.monotonic()
                assert request(camwatch.port, "GET", "/healthz", timeout=10).status == 200
                times.append(time.monotonic() - started)
            fds = fd_count(camwatch.process.pid)
        grown = camwatch.log.stat().st_size - size
        print(
            f"1100 idle connections, ulimit -n 1024: /healthz median "
            f"{1000 * statistics.median(times):.1f} ms (max {1000 * max(times):.0f} ms), "
            f"server holds {fds} descriptors, the log grew {grown} bytes"
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # clock ticks (USER_HZ)


def liar(folder: Path, seconds: float = 20.0) -> None:
    for extra in ("", "max_frame_pixels = 900000000"):
        with MjpegTestServer(lying_frame, fps=10) as camera:
            cameras = f'[[cameras]]\nname = "cam"\nsource = "{camera.url}"\nfps = 10\n{extra}\n'
            run = folder / ("raised" if extra else "default")
            run.mkdir()
            with CamwatchProcess(run, cameras=cameras) as camwatch:
                assert camwatch.process is not None
                time.sleep(3)
                before = cpu_seconds(camwatch.process.pid)
                time.sleep(seconds)
                used = cpu_seconds(camwatch.process.pid) - before
                [state] = camwatch.get_json("/api/cameras")
        print(
            f"camera claiming 30000x30000 ({extra or 'default limit'}): "
            f"{100 * used / seconds:.1f}% of a core, online {state['online']}, "
            f"fps {state['fps']}"
        )


def corrupt(folder: Path, seconds: float = 30.0) -> None:
    video = corrupt_video(folder)
    with FileServer(folder) as files:
        cameras = (
            f'[[cameras]]\nname = "file"\nsource = "{video}"\nloop = true\nfps = 10\n'
            f'[[cameras]]\nname = "web"\nsource = "{files.url("corrupt.mp4")}"\nfps = 10\n'
        )
        with CamwatchProcess(folder, cameras=cameras) as camwatch:
            time.sleep(seconds)
            lines = camwatch.log_text().splitlines()
    ffmpeg = sum(" camwatch.ffmpeg" in line for line in lines)
    print(
        f"corrupt video looping (PyAV) and over HTTP (OpenCV), {seconds:.0f} s: "
        f"{len(lines)} log lines, {ffmpeg} of them FFmpeg's"
    )


def main() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, attack in (("guess", guesses), ("idle", idle), ("liar", liar), ("bad", corrupt)):
            folder = root / name
            folder.mkdir()
            attack(folder)


if __name__ == "__main__":
    main()
