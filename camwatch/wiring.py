"""build_service: the one place that decides which components a Config turns on."""

from __future__ import annotations

from pathlib import Path

from camwatch.camera import Camera
from camwatch.clip_writer import ClipResult
from camwatch.config import Config
from camwatch.notify import Listeners
from camwatch.recorder import EventRecorder
from camwatch.service import Service


class RecorderComponent:
    """Hooks an EventRecorder into a camera's frames; on stop, finishes the clip in progress."""

    def __init__(self, camera: Camera, recorder: EventRecorder) -> None:
        self.camera = camera
        self.recorder = recorder

    def start(self) -> None:
        self.camera.listeners.append(self.recorder.on_frame)

    def stop(self) -> None:
        self.recorder.close()


def attach_recorder(service: Service, camera: Camera) -> EventRecorder:
    stats = camera.stats

    def on_recording(active: bool) -> None:
        camera.recording = active

    def on_clip_closed(result: ClipResult) -> None:
        stats.frames_recorded += result.frames
        stats.frames_dropped_by_recorder += result.dropped
        stats.encode_seconds_total += result.encode_seconds
        stats.bytes_recorded += result.size_bytes
        if result.aborted:
            stats.events_discarded += 1
        else:
            stats.events_total += 1

    recorder = EventRecorder(
        camera.name, camera.config.motion, Path(service.config.server.data_dir),
        store=service.context.services.get("events"),
        listeners=service.context.services["listeners"],
        fps_hint=camera.config.fps, on_delta=camera.record_delta,
        on_recording=on_recording, on_clip_closed=on_clip_closed)
    camera.recorder = recorder
    service.components.append(RecorderComponent(camera, recorder))
    return recorder


def build_service(config: Config) -> Service:
    service = Service(config)
    service.context.services.setdefault("listeners", Listeners())
    for camera in service.context.cameras.values():
        attach_recorder(service, camera)
    return service
