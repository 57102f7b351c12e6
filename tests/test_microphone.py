"""A USB webcam's separate microphone (audio_source): PulseAudio's null-sink monitor through
ALSA's pulse plugin, captured by PyAV's alsa input, muxed as AAC into the H.264 clip."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from camwatch.capture.camera import Camera
from camwatch.capture.microphone import Microphone, alsa_device, use_system_alsa
from camwatch.capture.packets import EncodedPacket
from camwatch.config import CameraConfig, Config
from camwatch.recording.recorder import EventRecorder
from camwatch.service import Service
from camwatch.wiring import add_integrations, attach_event_store, attach_recorder
from tests.helpers.camera_files import sound_timeline, streams
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.clips import frame_at, scene
from tests.helpers.microphone import PulseMicrophone, system_alsa_for_this_test
from tests.helpers.support import ServerThread, demo_config, wait_until
from tests.helpers.webcam import CuedWebcam, webcam_source


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
    system_alsa_for_this_test(monkeypatch)
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
    assert audio_s >= video_s - 0.5, (video_s, audio_s)  # sound all along
    volume = mean_volume_db(clip)
    print(f"clip {video_s:.1f} s video, {audio_s:.1f} s audio at {volume:.1f} dB")
    assert volume > -40  # the tone, not silence
    assert "Traceback" not in camwatch.log_text()


def decoded_sound(clip: Path, start_s: float, seconds: float) -> np.ndarray:
    """The clip's sound from `start_s` on the file's timeline, decoded to 48 kHz mono."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(clip), "-map", "0:a", "-ss", str(start_s),
         "-t", str(seconds), "-ac", "1", "-ar", "48000", "-f", "s16le", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    return np.frombuffer(result.stdout, np.int16).astype(np.float64)


def webcam_jpegs(intervals: list[tuple[float, float]], seconds: float) -> list[bytes]:
    """A 320x240 webcam's JPEGs at 10 fps: a still, noisy scene, a box crossing in `intervals`."""
    rng = np.random.default_rng(5)
    background = scene(320, 240)
    images = (frame_at(background, i / 10, intervals, rng) for i in range(round(seconds * 10)))
    return [cv2.imencode(".jpg", image)[1].tobytes() for image in images]


@pytest.mark.slow
def test_webcam_clip_has_the_microphones_sound_from_its_pre_roll_on(tmp_path, monkeypatch):
    """A USB webcam (through the capture seam) and a microphone (PulseAudio): the clip starts
    two seconds before the motion, and so does its sound, the tone heard in the pre-roll."""
    system_alsa_for_this_test(monkeypatch)
    pre_roll_s = 2.0
    webcam = CuedWebcam(webcam_jpegs([], 3), webcam_jpegs([(0.0, 3.0)], 3))
    camera_config = CameraConfig(
        name="cam", source="/dev/video0", width=320, height=240, audio_source=""
    )
    camera_config.motion.min_motion_frames = 3
    camera_config.motion.stable_frames = 10
    camera_config.motion.pre_roll_seconds = pre_roll_s
    recorders: list[EventRecorder] = []

    def build(config: Config) -> Service:
        source = functools.partial(webcam_source, webcam, width=320, height=240)
        camera = Camera(camera_config, source_factory=source)
        service = Service(config, cameras=[camera])
        add_integrations(service)
        attach_event_store(service)
        recorders.append(attach_recorder(service, camera))
        return service

    microphone = PulseMicrophone(tmp_path, 660, "mic_preroll").start()
    camera_config.audio_source = f"pulse:{microphone.source}"
    config = demo_config(str(tmp_path / "data"), cameras=[camera_config])
    try:
        with ServerThread(config, factory=build) as server:
            [recorder] = recorders
            wait_until(
                lambda: len(recorder.pre_roll) >= 19 and len(recorder.sound_pre_roll) >= 25,
                timeout=30,
                message="a full pre-roll of frames and of sound",
            )
            webcam.cue()
            events = wait_until(
                lambda: [e for e in server.get_json("/api/events") if e["ended_at"]],
                timeout=30,
                message="the event",
            )
    finally:
        microphone.stop()
    clip = next((tmp_path / "data" / "clips").rglob(f"*-{events[0]['id']}.mp4"))
    video_start, video_end, audio_start, audio_end, gap = sound_timeline(clip)
    print(f"video {video_start:.3f}-{video_end:.2f} s, audio {audio_start:.3f}-{audio_end:.2f} s")
    assert events[0]["has_audio"] is True
    assert video_end - video_start >= pre_roll_s + 3.0  # the pre-roll, the motion, the tail
    assert abs(audio_start - video_start) <= 0.3  # sound from the first frame, not the trigger
    assert gap < 0.1, gap  # and all along: no silence before the trigger
    assert audio_end >= video_end - 0.15  # to its last moments (its sound comes later)
    pre_roll = decoded_sound(clip, video_start + 0.1, pre_roll_s - 0.4)  # before the trigger
    spectrum = np.abs(np.fft.rfft(pre_roll))
    frequency = float(np.argmax(spectrum)) * 48000 / len(pre_roll)
    rms = float(np.sqrt(np.mean(pre_roll**2)))
    print(f"pre-roll sound: {len(pre_roll) / 48000:.2f} s, {frequency:.0f} Hz, rms {rms:.0f}")
    assert len(pre_roll) >= 0.9 * (pre_roll_s - 0.4) * 48000
    assert abs(frequency - 660) < 20 and rms > 1000  # the tone, not silence
