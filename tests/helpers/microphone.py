"""A microphone stand-in: PulseAudio with a null sink (`mic`; its monitor `mic.monitor` is the
input) fed a sine tone by `pacat`, both started by the test and stopped by their pids; a second
stand-in adds its own sink to the same PulseAudio (and unloads it when stopped)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from camwatch.capture.microphone import use_system_alsa
from camwatch.capture.packets import EncodedPacket, StreamInfo
from tests.helpers.support import wait_until

# A microphone as the capture side announces it: 48 kHz mono PCM, in packets of 0.1 s.
MICROPHONE = StreamInfo(
    "audio", "pcm_s16le", Fraction(1, 48000), sample_rate=48000, channels=1, layout="mono"
)


def tone_packet(i: int, wall_zero: float = 1e9) -> EncodedPacket:
    """The `i`th 0.1 s of a 440 Hz tone as the microphone hands it over: captured from i / 10
    s (monotonic; wall clock `wall_zero` + i / 10), the time of its first sample."""
    t = np.arange(i * 4800, (i + 1) * 4800) / 48000
    data = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()
    return EncodedPacket(MICROPHONE, data, i * 4800, i * 4800, i / 10, wall_zero + i / 10, True)


def system_alsa_for_this_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ALSA paths set as use_system_alsa would in this process, undone afterwards (a
    microphone started in the test process sets them in os.environ; the process test checks
    camwatch sets them by itself)."""
    system_alsa: dict[str, str] = {}
    use_system_alsa(system_alsa)
    for name, value in system_alsa.items():
        monkeypatch.setenv(name, value)


def _sources() -> str:
    result = subprocess.run(
        ["pactl", "list", "short", "sources"], capture_output=True, text=True, timeout=10
    )
    return result.stdout if result.returncode == 0 else ""


def _playing(sink: str) -> bool:
    """The sink is RUNNING: a stream plays into it (`pactl list short sinks`)."""
    result = subprocess.run(
        ["pactl", "list", "short", "sinks"], capture_output=True, text=True, timeout=10
    )
    rows = (line.split("\t") for line in result.stdout.splitlines())
    return any(len(row) >= 5 and row[1] == sink and row[4] == "RUNNING" for row in rows)


class PulseMicrophone:
    def __init__(self, folder: Path, frequency: int = 660, sink: str = "mic") -> None:
        self.tone = folder / f"tone-{sink}.raw"
        self.frequency, self.sink = frequency, sink
        self.daemon: subprocess.Popen[bytes] | None = None
        self.feeder: subprocess.Popen[bytes] | None = None
        self.module = ""  # the null sink's module, when we loaded it into a running PulseAudio

    @property
    def source(self) -> str:
        """The PulseAudio source that hears the tone."""
        return f"{self.sink}.monitor"

    def start(self) -> PulseMicrophone:
        try:
            self._start()
        except BaseException:
            self.stop()  # nothing left running when it cannot start
            raise
        return self

    def _start(self) -> None:
        if not _sources():  # no PulseAudio yet: ours (works as root, with a warning)
            self.daemon = subprocess.Popen(
                [
                    "pulseaudio",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    f"--load=module-null-sink sink_name={self.sink}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wait_until(_sources, timeout=20, message="PulseAudio")
        if self.source not in _sources().split():
            loaded = subprocess.run(
                ["pactl", "load-module", "module-null-sink", f"sink_name={self.sink}"],
                check=True,
                timeout=10,
                capture_output=True,
                text=True,
            )
            self.module = loaded.stdout.strip()
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
                f"--device={self.sink}",
                "--rate=48000",
                "--channels=1",
                "--format=s16le",
                str(self.tone),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        feeder = self.feeder
        wait_until(
            lambda: feeder.poll() is not None or _playing(self.sink),
            timeout=20,
            message=f"the tone playing into the {self.sink} sink",
        )
        assert feeder.poll() is None, f"pacat could not play into the {self.sink} sink"

    def stop(self) -> None:
        if self.feeder is not None and self.feeder.poll() is None:
            self.feeder.kill()
            self.feeder.wait(10)
        if self.module and _sources():
            subprocess.run(["pactl", "unload-module", self.module], timeout=10, check=False)
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait(10)
