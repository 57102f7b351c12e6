"""A USB webcam's separate microphone (audio_source): PulseAudio's null-sink monitor through
ALSA's pulse plugin, captured by PyAV's alsa input, muxed as AAC into the H.264 clip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from camwatch.capture.microphone import Microphone, alsa_device, use_system_alsa
from camwatch.capture.packets import EncodedPacket
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
    assert alsa_device("pulse:default") == "pulse"
    assert alsa_device("pulse:mic.monitor") == 'pulse:DEVICE="mic.monitor"'
    assert alsa_device('pulse:odd"name') == 'pulse:DEVICE="odd\\"name"'
    assert "PULSE_SOURCE" not in os.environ  # nothing process-wide: each camera its own source


def dominant_frequency(packets: list[EncodedPacket]) -> float:
    samples = np.frombuffer(b"".join(p.data for p in packets), np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum)) * packets[0].stream.sample_rate / len(samples)


@pytest.mark.slow
def test_two_microphones_on_different_pulse_sources_each_record_their_own_tone(
    tmp_path, monkeypatch
):
    system_alsa: dict[str, str] = {}
    use_system_alsa(system_alsa)
    for name, value in system_alsa.items():  # as use_system_alsa would, undone afterwards
        monkeypatch.setenv(name, value)
    tones = {"mic_low": 440, "mic_high": 1000}  # sinks of their own (not another test's "mic")
    stand_ins = [PulseMicrophone(tmp_path, frequency, sink) for sink, frequency in tones.items()]
    heard: dict[str, list[EncodedPacket]] = {sink: [] for sink in tones}
    microphones = [
        Microphone(f"cam-{m.sink}", f"pulse:{m.source}", heard[m.sink].append) for m in stand_ins
    ]
    try:
        for stand_in in stand_ins:
            stand_in.start()
        for microphone in microphones:  # together: they open their sources at the same time
            microphone.start()
        wait_until(lambda: all(len(p) >= 10 for p in heard.values()), timeout=30)
    finally:
        for microphone in microphones:
            microphone.stop()
        for stand_in in reversed(stand_ins):
            stand_in.stop()
    found = {sink: dominant_frequency(packets[2:10]) for sink, packets in heard.items()}
    assert all(abs(found[sink] - tones[sink]) < 20 for sink in tones), found
    assert "PULSE_SOURCE" not in os.environ


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
    for name in ("ALSA_CONFIG_PATH", "ALSA_PLUGIN_DIR"):
        assert name not in os.environ  # camwatch must find the system's ALSA by itself
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
    microphone = PulseMicrophone(tmp_path).start()
    try:
        camwatch.start()
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
