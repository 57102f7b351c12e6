"""The benchmarks start the way bench/README.md runs them: each script's imports resolve."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# bench/run.py starts bench/mjpeg_source.py as a script: bench/ is then first on sys.path
SCRIPTS = ["run.py", "mjpeg_source.py", "memory.py", "ab_threads.py", "recording_cost.py"]
MODULES = ["motion_eval", "motion_cost", "delta_check", "scan_ab"]


def help_of(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_benchmark_script_starts(script):
    result = help_of([str(ROOT / "bench" / script)])
    assert result.returncode == 0 and "usage" in result.stdout, result.stderr


@pytest.mark.parametrize("module", MODULES)
def test_a_benchmark_module_starts(module):
    result = help_of(["-m", f"bench.{module}"])
    assert result.returncode == 0 and "usage" in result.stdout, result.stderr
