"""build_service: the one place that decides which components a Config turns on."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from camwatch.capture.camera import Camera
from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.config import Config
from camwatch.frame import Frame
from camwatch.integrations.discovery import server_base_url
from camwatch.integrations.hooks import HookRunner
from camwatch.integrations.listeners import Listeners
from camwatch.integrations.metrics import Metrics
from camwatch.motion.settings import apply_saved_overrides
from camwatch.recording import export, footage
from camwatch.recording.activity import ActivityLog
from camwatch.recording.clip_writer import ClipResult
from camwatch.recording.index import EventStore
from camwatch.recording.library import RecordingLibrary
from camwatch.recording.recorder import EventRecorder
from camwatch.recording.retention import RetentionService
from camwatch.recording.segment_index import RANGES_DIR, SegmentStore
from camwatch.recording.segments import SegmentRecorder
from camwatch.server import events_api, media, settings_api, timeline_api
from camwatch.server.app import CAMERA
from camwatch.server.metrics import MetricsHandler
from camwatch.service import Service


class CameraRecorder(Protocol):
    """What EventRecorder (clips) and SegmentRecorder (continuous footage) both take."""

    def on_streams(self, video: StreamInfo | None, audio: StreamInfo | None) -> None: ...
    def on_packet(self, packet: EncodedPacket) -> None: ...
    def on_frame(self, frame: Frame) -> None: ...
    def wants_frames(self) -> bool: ...
    @property
    def copies_packets(self) -> bool: ...
    def close(self, timeout: float = 10.0) -> None: ...


class RecorderComponent:
    """Hooks a recorder into a camera's streams, packets and frames; on stop, it finishes the
    clip or segment in progress."""

    def __init__(self, camera: Camera, recorder: CameraRecorder) -> None:
        self.camera = camera
        self.recorder = recorder

    def start(self) -> None:
        self.camera.stream_listeners.append(self.recorder.on_streams)
        self.recorder.on_streams(*self.camera.streams)
        self.camera.packet_listeners.append(self.recorder.on_packet)
        self.camera.listeners.append(self.recorder.on_frame)
        self.camera.frame_demands.append(self.recorder.wants_frames)
        self.camera.picture_demands.append(self._encodes_frames)

    def _encodes_frames(self) -> bool:
        """The footage is encoded from the decoded pictures (not the camera's packets)."""
        return self.recorder.wants_frames() and not self.recorder.copies_packets

    def stop(self) -> None:
        self.recorder.close()


def attach_recorder(service: Service, camera: Camera) -> EventRecorder:
    stats, switches = camera.stats, service.context.switches

    def on_unavailable(reason: str) -> None:
        camera.recording_error = reason

    library = RecordingLibrary(camera.name, on_unavailable)

    def on_recording(active: bool) -> None:
        camera.recording = active

    activity = service.context.activity

    def on_delta(frame: Frame, delta: float) -> None:
        camera.record_delta(frame, delta)
        if activity is not None:
            activity.add(camera.name, frame.captured_at, delta)
        stats.detect_seconds_total = recorder.detect_seconds  # /metrics reads camera.stats
        stats.detect_count = recorder.detect_count

    def on_clip_closed(result: ClipResult) -> None:
        stats.frames_recorded += result.frames
        stats.frames_dropped_by_recorder += result.dropped
        stats.encode_seconds_total += result.encode_seconds
        stats.bytes_recorded += result.size_bytes
        if result.aborted:
            stats.events_discarded += 1
        else:
            stats.events_total += 1
        retention = service.context.retention
        if retention is not None and (result.disk_full or not result.aborted):
            retention.request_cleanup()  # a clip was added, or the disk filled up

    continuous = camera.config.record == "continuous"
    if continuous:
        attach_segments(service, camera, library)
    recorder = EventRecorder(
        camera.name,
        camera.config.motion,
        Path(service.config.server.data_dir),
        store=service.context.events,
        listeners=service.context.listeners,
        fps_hint=camera.config.fps,
        recordings_on=lambda: switches.recordings(camera.name),
        on_delta=on_delta,
        on_recording=on_recording,
        on_clip_closed=on_clip_closed,
        keep_clips=not continuous,
        crf=camera.config.record_crf,
        library=library,
    )
    camera.recorder = recorder
    service.components.append(RecorderComponent(camera, recorder))
    return recorder


def attach_segments(
    service: Service, camera: Camera, library: RecordingLibrary | None = None
) -> SegmentRecorder:
    """Continuous mode: every frame into segments (events are then marked ranges of them)."""
    segments = service.context.segments
    assert segments is not None, "attach_timeline first"
    stats = camera.stats

    def on_closed(result: ClipResult) -> None:
        stats.frames_recorded += result.frames
        stats.frames_dropped_by_recorder += result.dropped
        stats.encode_seconds_total += result.encode_seconds
        stats.bytes_recorded += result.size_bytes
        if service.context.retention is not None:
            service.context.retention.request_cleanup()

    recorder = SegmentRecorder(
        camera.name,
        Path(service.config.server.data_dir),
        segments,
        segment_seconds=camera.config.segment_seconds,
        fps_hint=camera.config.fps,
        crf=camera.config.record_crf,
        on_closed=on_closed,
        recordings_on=lambda: service.context.switches.recordings(camera.name),
        library=library,
    )
    service.components.append(RecorderComponent(camera, recorder))
    return recorder


def add_integrations(service: Service) -> Listeners:
    """The shared event Listeners with hooks and MQTT on it, and /metrics.

    Call before the recorders are attached: components stop in reverse order, so hooks and
    MQTT stop after the recorders and still see the events of the clips closed on shutdown.
    """
    config, context = service.config, service.context
    listeners = context.listeners
    data_dir = config.server.data_dir
    if config.hooks.on_event_start or config.hooks.on_event_end:
        hooks = HookRunner(config.hooks, data_dir)
        service.components.append(hooks)
        listeners.add(hooks)
        context.hooks = hooks
    if config.mqtt is not None:
        from camwatch.integrations.mqtt import MqttPublisher  # paho-mqtt: only when configured

        publisher = MqttPublisher(
            config.mqtt,
            list(service.context.cameras),
            data_dir,
            base_url=server_base_url(config.server),
            switches=service.context.switches,
            fps_of=lambda name: service.context.cameras[name].state.fps,
        )
        service.components.append(publisher)
        listeners.add(publisher)
        context.mqtt = publisher
    context.metrics = Metrics(context.cameras, data_dir)
    service.extra_routes.append((r"/metrics", MetricsHandler, {"context": context}))
    return listeners


def attach_event_store(service: Service) -> EventStore:
    """The event index under data_dir, its API and media routes, saved motion settings, and
    retention (which reconciles the index at start, before the recorders run)."""
    store = EventStore(service.config.server.data_dir)
    service.context.events = store
    for camera in service.context.cameras.values():
        apply_saved_overrides(
            camera.name, camera.config.motion, store.motion_overrides(camera.name).settings
        )
    service.context.switches.use_store(store)
    retention = RetentionService(store, service.config.retention)
    service.context.retention = retention  # attach_recorder asks it for a pass after each clip
    service.components.insert(0, retention)
    ctx = {"context": service.context}
    service.extra_routes += [
        (r"/api/events", events_api.EventsHandler, ctx),
        (r"/api/events/(?P<event_id>[A-Za-z0-9_-]+)", events_api.EventHandler, ctx),
        (rf"/api/cameras/{CAMERA}/motion", settings_api.MotionSettingsHandler, ctx),
        (r"/media/(.*)", media.MediaHandler, ctx),
    ]
    return store


def attach_timeline(service: Service, store: EventStore) -> ActivityLog:
    """Per-second motion activity on disk, and the recordings, activity and export routes."""
    config = service.config

    def keep_days(camera: str) -> float:
        """Activity lasts as long as the camera's footage does."""
        retention, camera_config = config.retention, config.camera(camera)
        if camera_config is None or camera_config.record == "events":
            return retention.max_days
        if 0 in (retention.max_days, retention.continuous_days):
            return 0.0
        return max(retention.max_days, retention.continuous_days)

    activity = ActivityLog(config.server.data_dir, keep_days=keep_days)
    for leftovers in (timeline_api.EXPORT_DIR, RANGES_DIR):
        export.remove_leftovers(store.root / leftovers)
    segments = SegmentStore(store)
    context = service.context
    context.activity, context.segments = activity, segments
    context.footage = footage.FootageIndex(store, segments)
    if context.retention is not None:
        context.retention.segments = segments
    service.components.append(activity)
    ctx = {"context": service.context}
    service.extra_routes += [
        (rf"/api/cameras/{CAMERA}/recordings", timeline_api.RecordingsHandler, ctx),
        (rf"/api/cameras/{CAMERA}/activity", timeline_api.ActivityHandler, ctx),
        (rf"/api/cameras/{CAMERA}/export\.mp4", timeline_api.ExportHandler, ctx),
    ]
    return activity


def build_service(config: Config) -> Service:
    service = Service(config)
    add_integrations(service)
    store = attach_event_store(service)
    attach_timeline(service, store)
    for camera in service.context.cameras.values():
        attach_recorder(service, camera)
    return service
