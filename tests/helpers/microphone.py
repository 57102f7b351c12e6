"""A microphone stand-in: PulseAudio with a null sink `mic` (its monitor `mic.monitor` is the
input) fed a sine tone by `pacat`, both started by the test and stopped by their pids."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.helpers.support import wait_until


def _sources() -> str:
    result = subprocess.run(
        ["pactl", "list", "short", "sources"], capture_output=True, text=True, timeout=10
    )
    return result.stdout if result.returncode == 0 else ""


class PulseMicrophone:
    def __init__(self, folder: Path, frequency: int = 660) -> None:
        self.tone = folder / "tone.raw"
        self.frequency = frequency
        self.daemon: subprocess.Popen[bytes] | None = None
        self.feeder: subprocess.Popen[bytes] | None = None

    def start(self) -> PulseMicrophone:
        if not _sources():  # no PulseAudio yet: ours (works as root, with a warning)
            self.daemon = subprocess.Popen(
                [
                    "pulseaudio",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--load=module-null-sink sink_name=mic",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_until(_sources, timeout=20, message="PulseAudio")
        if "mic.monitor" not in _sources():
            subprocess.run(
                ["pactl", "load-module", "module-null-sink", "sink_name=mic"],
                check=True,
                timeout=10,
                capture_output=True,
            )
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency={self.frequency}:sample_rate=48000",
                "-t",
                "300",
                "-ac",
                "1",
                "-f",
                "s16le",
                str(self.tone),
            ],
            check=True,
            timeout=60,
        )
        self.feeder = subprocess.Popen(
            [
                "pacat",
                "--device=mic",
                "--rate=48000",
                "--channels=1",
                "--format=s16le",
                str(self.tone),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.2)
        assert self.feeder.poll() is None, "pacat could not play into the mic sink"
        return self

    def stop(self) -> None:
        for process in (self.feeder, self.daemon):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
