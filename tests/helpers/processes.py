"""Helpers for running camwatch as a real process: free ports, environment, waiting for health."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.processes import free_port, wait_for_health  # one version for tests and benchmarks

__all__ = ["ROOT", "camwatch_env", "free_port", "run_camwatch", "stop_process", "wait_for_health"]

ROOT = Path(__file__).resolve().parents[2]  # the checkout, above tests/helpers/


def camwatch_env() -> dict[str, str]:
    """The environment for a child that imports camwatch from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("CAMWATCH_PASSWORD", None)
    return env


def run_camwatch(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`python3 -m camwatch ARGS` to completion (for commands that exit by themselves)."""
    return subprocess.run(
        [sys.executable, "-m", "camwatch", *args],
        cwd=cwd,
        env=camwatch_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Kill a child that a failed test left running (by its own pid only)."""
    if process.poll() is None:
        process.kill()
        process.wait(timeout)
