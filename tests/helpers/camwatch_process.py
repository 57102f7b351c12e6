"""camwatch as a real child process: a config written from TOML text, its log kept in a file,
optionally under a file-descriptor limit (`ulimit -n`), stopped by its own pid."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Self

from tests.helpers.processes import camwatch_env, free_port, stop_process, wait_for_health

DEMO_CAMERA = """
[[cameras]]
name = "cam"
source = "demo"
fps = 5
width = 320
height = 240
"""


class CamwatchProcess:
    """`python -m camwatch --config FILE` on a free loopback port with `cameras` as its cameras."""

    def __init__(
        self,
        tmp_path: Path,
        *,
        cameras: str = DEMO_CAMERA,
        server: str = "",
        extra: str = "",
        password: str | None = None,
        nofile: int | None = None,
        pythonpath: Path | None = None,
    ) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.data_dir = tmp_path / "data"
        self.config = tmp_path / "camwatch.toml"
        self.config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {self.port}\n'
            f'data_dir = "{self.data_dir}"\n{server}\n{cameras}\n{extra}\n'
        )
        self.log = tmp_path / "camwatch.log"
        self.password, self.nofile = password, nofile
        self.pythonpath = pythonpath  # searched first: modules that stand in for installed ones
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "camwatch", "--config", str(self.config)]
        if self.nofile is None:
            return command
        return ["bash", "-c", f"ulimit -n {self.nofile} && exec {shlex.join(command)}"]

    def start(self, *, wait: bool = True) -> Self:
        env = camwatch_env()
        if self.pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.pythonpath), env["PYTHONPATH"]])
        if self.password is not None:
            env["CAMWATCH_PASSWORD"] = self.password
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if wait:
            wait_for_health(self.port, self.process, timeout=60)
        return self

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                stop_process(self.process)
        return self.process.returncode

    def kill(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def get_json(self, path: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", headers=headers or {}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
