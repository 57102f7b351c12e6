"""Helpers for running camwatch as a real process: free ports, environment, waiting for health."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def camwatch_env() -> dict[str, str]:
    """The environment for a child that imports camwatch from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("CAMWATCH_PASSWORD", None)
    return env


def run_camwatch(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`python3 -m camwatch ARGS` to completion (for commands that exit by themselves)."""
    return subprocess.run([sys.executable, "-m", "camwatch", *args], cwd=cwd, env=camwatch_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)


def wait_for_health(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Poll /healthz until it answers `ok`; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"camwatch exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"camwatch did not answer /healthz on port {port} within {timeout}s")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Kill a child that a failed test left running (by its own pid only)."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout)
