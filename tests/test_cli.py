"""The command line: option parsing and merging, exit status 2 on bad input, start.py, signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camwatch import cli
from camwatch.config import MotionConfig
from tests.helpers.processes import (
    ROOT,
    camwatch_env,
    free_port,
    run_camwatch,
    stop_process,
    wait_for_health,
)


@pytest.mark.parametrize(
    "args,named",
    [
        (["--port", "70000"], "--port"),
        (["--fps", "abc"], "--fps"),
        (["--log-level", "loud"], "--log-level"),
    ],
)
def test_bad_options_exit_2_naming_the_option(tmp_path: Path, args: list[str], named: str) -> None:
    result = run_camwatch(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert named in result.stderr
    assert result.stderr.strip().count("\n") <= 2  # a message, not a traceback
    assert "Traceback" not in result.stderr


def test_a_bad_config_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[[cameras]]\nname = 'front'\nfps = 500\n")
    result = run_camwatch("--config", "bad.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "cameras[0].fps" in result.stderr and "0.5 to 120" in result.stderr


@pytest.mark.parametrize(
    "args,named",
    [
        (["--width", "99999"], "--width"),
        (["--height", "-5"], "--height"),
        (["--fps", "0"], "--fps"),
        (["--threshold", "101"], "--threshold"),
        (["--port", "http"], "--port"),
        (["--colour", "red"], "--colour"),
    ],
)
def test_main_returns_2_naming_the_option(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(args) == 2
    assert named in capsys.readouterr().err


@pytest.mark.parametrize(
    "text,named",
    [
        ("[server]\nprot = 1\n", "server.prot: unknown key"),
        ("[[cameras]]\nname = 'a'\n[[cameras]]\nname = 'a'\n", "cameras[1].name"),
        ("[[cameras]]\nloop = 'yes'\n", "cameras[0].loop"),
        ("[server\n", "not valid TOML"),
    ],
)
def test_main_returns_2_for_a_bad_config(
    tmp_path: Path, text: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "camwatch.toml"
    path.write_text(text)
    assert cli.main(["--config", str(path)]) == 2
    assert named in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "--source" in capsys.readouterr().out


def test_options_override_the_config_file_for_the_first_camera(tmp_path: Path) -> None:
    path = tmp_path / "camwatch.toml"
    path.write_text(
        '[server]\nport = 9000\nhost = "127.0.0.1"\n'
        '[[cameras]]\nname = "front"\nsource = "demo"\nfps = 5\n'
        '[[cameras]]\nname = "back"\nsource = "demo"\nfps = 5\n'
    )
    args = cli.build_parser().parse_args(
        [
            "--config",
            str(path),
            "--fps",
            "7.5",
            "--width",
            "640",
            "--threshold",
            "1.5",
            "--log-level",
            "debug",
        ]
    )
    config = cli.config_from_args(args)
    assert (config.server.host, config.server.port, config.server.log_level) == (
        "127.0.0.1",
        9000,
        "debug",
    )
    front, back = config.cameras
    assert (front.name, front.fps, front.width, front.motion.threshold) == ("front", 7.5, 640, 1.5)
    assert (back.fps, back.width, back.motion.threshold) == (5.0, 1280, MotionConfig().threshold)


def test_without_a_config_file_there_is_one_camera_from_the_options() -> None:
    config = cli.config_from_args(cli.build_parser().parse_args(["--source", "demo"]))
    [camera] = config.cameras
    assert (camera.name, camera.source, camera.fps) == ("cam", "demo", 10.0)
    assert config.server.port == 8100


def start_py(port: int, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "start.py"), str(port)],
        cwd=cwd,
        env=camwatch_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_start_py_serves_on_the_given_port_and_stops_on_a_signal(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    process = start_py(port, tmp_path)
    try:
        wait_for_health(port, process)
        process.send_signal(stop_signal)
        started = time.monotonic()
        output, _ = process.communicate(timeout=10)
        assert process.returncode == 0, output.decode(errors="replace")
        assert time.monotonic() - started < 8
        assert f":{port}/".encode() in output  # it said where it serves
    finally:
        stop_process(process)


def test_a_port_in_use_exits_1_with_a_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_camwatch(
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--source",
            "demo",
            "--width",
            "320",
            "--height",
            "240",
            cwd=tmp_path,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_sigterm_with_stuck_and_live_viewers_exits_0_promptly(tmp_path: Path) -> None:
    from tests.helpers.live_clients import (
        stuck_mjpeg_client,
        stuck_websocket_client,
        wait_until_stalled,
    )

    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camwatch",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--source",
            "demo",
            "--width",
            "640",
            "--height",
            "480",
        ],
        cwd=tmp_path,
        env=camwatch_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_health(port, process)
        viewers = [stuck_mjpeg_client(port), stuck_websocket_client(port)]
        wait_until_stalled(viewers)
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        output, _ = process.communicate(timeout=15)
        assert process.returncode == 0, output.decode(errors="replace")
        assert time.monotonic() - started < 8
        assert b"Traceback" not in output
        for viewer in viewers:
            viewer.close()
    finally:
        stop_process(process)
