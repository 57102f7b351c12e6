"""A USB webcam's separate microphone (audio_source): PulseAudio's null-sink monitor through
ALSA's pulse plugin, captured by PyAV's alsa input, muxed as AAC into the H.264 clip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from camwatch.capture.microphone import alsa_device, use_system_alsa
from tests.helpers.camera_files import streams
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.microphone import PulseMicrophone
from tests.helpers.support import wait_until


def test_system_alsa_paths_are_set_only_when_unset_and_present():
    environ: dict[str, str] = {}
    use_system_alsa(environ)
    if Path("/usr/share/alsa/alsa.conf").is_file():
        assert environ["ALSA_CONFIG_PATH"] == "/usr/share/alsa/alsa.conf"
    assert all(Path(p).exists() for p in environ.values())
    mine = {"ALSA_CONFIG_PATH": "/etc/my-alsa.conf", "ALSA_PLUGIN_DIR": "/opt/alsa"}
    use_system_alsa(mine)
    assert mine == {"ALSA_CONFIG_PATH": "/etc/my-alsa.conf", "ALSA_PLUGIN_DIR": "/opt/alsa"}


def test_audio_source_names_map_to_alsa_devices(monkeypatch):
    monkeypatch.delenv("PULSE_SOURCE", raising=False)
    assert alsa_device("alsa:hw:1,0") == "hw:1,0"
    assert alsa_device("pulse:default") == "pulse" and "PULSE_SOURCE" not in os.environ
    assert alsa_device("pulse:mic.monitor") == "pulse"
    assert os.environ["PULSE_SOURCE"] == "mic.monitor"


def mean_volume_db(path: Path) -> float:
    result = subprocess.run(
        ["ffmpeg", "-i", str(path), "-map", "0:a", "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = next(x for x in result.stderr.splitlines() if "mean_volume" in x)
    return float(line.split("mean_volume:")[1].split("dB")[0])


@pytest.mark.slow
def test_webcam_clip_carries_the_microphones_sound(tmp_path):
    microphone = PulseMicrophone(tmp_path).start()
    cameras = """
[[cameras]]
name = "cam"
source = "demo"
width = 320
height = 240
audio_source = "pulse:mic.monitor"
[cameras.motion]
min_motion_frames = 3
pre_roll_seconds = 1.0
"""
    camwatch = CamwatchProcess(tmp_path, cameras=cameras)
    for name in ("ALSA_CONFIG_PATH", "ALSA_PLUGIN_DIR"):
        assert name not in os.environ  # camwatch must find the system's ALSA by itself
    camwatch.start()
    try:
        wait_until(
            lambda: camwatch.get_json("/api/cameras")[0]["audio"], timeout=30, message="mic on"
        )
        events: list[dict[str, Any]] = wait_until(
            lambda: [e for e in camwatch.get_json("/api/events") if e["ended_at"]],
            timeout=90,
            interval=0.5,
            message="an event (the demo figure crosses every 20-40 s)",
        )
    finally:
        camwatch.kill()
        microphone.stop()
    event = events[0]
    clip = next((camwatch.data_dir / "clips").rglob(f"*-{event['id']}.mp4"))
    kinds = {s["codec_type"]: s for s in streams(clip)}
    assert event["has_audio"] is True
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    video_s, audio_s = float(kinds["video"]["duration"]), float(kinds["audio"]["duration"])
    assert audio_s >= video_s - 2.5, (video_s, audio_s)  # sound from the trigger on
    volume = mean_volume_db(clip)
    print(f"clip {video_s:.1f} s video, {audio_s:.1f} s audio at {volume:.1f} dB")
    assert volume > -40  # the tone, not silence
    assert "Traceback" not in camwatch.log_text()
