"""Metrics: a prometheus_client collector that reads the cameras' counters at scrape time."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from camwatch import __version__
from camwatch.capture.camera import Camera

CameraValue = Callable[[Camera], float]


@dataclass(frozen=True)
class CameraMetric:
    """One per-camera family, labelled `camera`; counter names end in _total."""

    name: str
    kind: type[CounterMetricFamily] | type[GaugeMetricFamily]
    help: str
    value_of: CameraValue


Counter, Gauge = CounterMetricFamily, GaugeMetricFamily

CAMERA_METRICS = [
    CameraMetric(
        "camwatch_frames_captured_total",
        Counter,
        "Frames read from the camera's source.",
        lambda c: c.state.frames_captured,
    ),
    CameraMetric(
        "camwatch_frames_decoded_total",
        Counter,
        "Pictures decoded from the camera's packets (only while detection or a viewer needs them).",
        lambda c: c.frames_decoded,
    ),
    CameraMetric(
        "camwatch_frames_failed_total",
        Counter,
        "Reads from the source that failed.",
        lambda c: c.state.frames_failed,
    ),
    CameraMetric(
        "camwatch_capture_fps",
        Gauge,
        "Measured capture rate (frames per second).",
        lambda c: c.state.fps,
    ),
    CameraMetric(
        "camwatch_camera_online",
        Gauge,
        "1 while the source delivers frames, else 0.",
        lambda c: 1.0 if c.state.online else 0.0,
    ),
    CameraMetric(
        "camwatch_viewers",
        Gauge,
        "Live viewers (websocket and MJPEG clients).",
        lambda c: c.hub.viewer_count,
    ),
    CameraMetric(
        "camwatch_recording",
        Gauge,
        "1 while an event is being recorded, else 0.",
        lambda c: 1.0 if c.recording else 0.0,
    ),
    CameraMetric(
        "camwatch_encode_seconds_total",
        Counter,
        "Time spent encoding clips.",
        lambda c: c.stats.encode_seconds_total,
    ),
    CameraMetric(
        "camwatch_frames_recorded_total",
        Counter,
        "Frames written to clips.",
        lambda c: c.stats.frames_recorded,
    ),
    CameraMetric(
        "camwatch_recorder_frames_dropped_total",
        Counter,
        "Frames the recorder dropped because the clip writer fell behind.",
        lambda c: c.stats.frames_dropped_by_recorder,
    ),
    CameraMetric(
        "camwatch_events_total", Counter, "Motion events recorded.", lambda c: c.stats.events_total
    ),
    CameraMetric(
        "camwatch_events_discarded_total",
        Counter,
        "Motion bursts discarded for having too few motion frames.",
        lambda c: c.stats.events_discarded,
    ),
    CameraMetric(
        "camwatch_recorded_bytes_total",
        Counter,
        "Bytes of clips written.",
        lambda c: c.stats.bytes_recorded,
    ),
]


def disk_free_bytes(path: Path) -> int:
    """Free space on the disk holding `path` (or its nearest existing parent)."""
    for candidate in (path, *path.resolve().parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return 0


class Metrics(Collector):
    """Collects the families on each scrape from the live objects (no state of its own)."""

    def __init__(
        self, cameras: Mapping[str, Camera], data_dir: str | Path, started: float | None = None
    ) -> None:
        self.cameras = cameras
        self.data_dir = Path(data_dir)
        self.started = time.monotonic() if started is None else started
        # A registry of our own: the default one would add the client library's process metrics.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        cameras = list(self.cameras.values())
        for metric in CAMERA_METRICS:
            family = metric.kind(metric.name, metric.help, labels=["camera"])
            for camera in cameras:
                family.add_metric([camera.name], float(metric.value_of(camera)))
            yield family
        detection = SummaryMetricFamily(
            "camwatch_motion_detection_seconds",
            "Time spent on motion detection per frame.",
            labels=["camera"],
        )
        for camera in cameras:
            stats = camera.stats
            detection.add_metric([camera.name], stats.detect_count, stats.detect_seconds_total)
        yield detection
        yield from self._process_families()

    def _process_families(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "camwatch_data_dir_free_bytes",
            "Free space on the disk holding the data directory.",
            value=disk_free_bytes(self.data_dir),
        )
        yield GaugeMetricFamily(
            "camwatch_uptime_seconds",
            "Seconds since camwatch started.",
            value=time.monotonic() - self.started,
        )
        info = GaugeMetricFamily(
            "camwatch_build_info", "Always 1; the version as a label.", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """(body, Content-Type) in the format the Accept header asks for: Prometheus text
        0.0.4 by default, OpenMetrics when the scraper prefers it."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
