"""Prometheus text exposition (format 0.0.4) of camera and process metrics, written by hand."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from camwatch import __version__
from camwatch.capture.camera import Camera

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

CameraValue = Callable[[Camera], float]


@dataclass
class Family:
    """One metric family: its samples are (labels, value)."""

    name: str
    kind: str  # counter | gauge | summary
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, labels: dict[str, str] | None = None, suffix: str = "") -> None:
        self.samples.append((self.name + suffix, labels or {}, value))


# (name, type, help, value); counters end in _total as Prometheus expects
CAMERA_METRICS: list[tuple[str, str, str, CameraValue]] = [
    (
        "camwatch_frames_captured_total",
        "counter",
        "Frames read from the camera's source.",
        lambda c: c.state.frames_captured,
    ),
    (
        "camwatch_frames_failed_total",
        "counter",
        "Reads from the source that failed.",
        lambda c: c.state.frames_failed,
    ),
    (
        "camwatch_capture_fps",
        "gauge",
        "Measured capture rate (frames per second).",
        lambda c: c.state.fps,
    ),
    (
        "camwatch_camera_online",
        "gauge",
        "1 while the source delivers frames, else 0.",
        lambda c: 1.0 if c.state.online else 0.0,
    ),
    (
        "camwatch_viewers",
        "gauge",
        "Live viewers (websocket and MJPEG clients).",
        lambda c: c.hub.viewer_count,
    ),
    (
        "camwatch_recording",
        "gauge",
        "1 while an event is being recorded, else 0.",
        lambda c: 1.0 if c.recording else 0.0,
    ),
    (
        "camwatch_encode_seconds_total",
        "counter",
        "Time spent encoding clips.",
        lambda c: c.stats.encode_seconds_total,
    ),
    (
        "camwatch_frames_recorded_total",
        "counter",
        "Frames written to clips.",
        lambda c: c.stats.frames_recorded,
    ),
    (
        "camwatch_recorder_frames_dropped_total",
        "counter",
        "Frames the recorder dropped because the clip writer fell behind.",
        lambda c: c.stats.frames_dropped_by_recorder,
    ),
    ("camwatch_events_total", "counter", "Motion events recorded.", lambda c: c.stats.events_total),
    (
        "camwatch_events_discarded_total",
        "counter",
        "Motion bursts discarded for having too few motion frames.",
        lambda c: c.stats.events_discarded,
    ),
    (
        "camwatch_recorded_bytes_total",
        "counter",
        "Bytes of clips written.",
        lambda c: c.stats.bytes_recorded,
    ),
]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def render_families(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {family.name} {help_text}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for name, labels, value in family.samples:
            label_text = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
            lines.append(
                f"{name}{{{label_text}}} {format_value(value)}"
                if label_text
                else f"{name} {format_value(value)}"
            )
    return "\n".join(lines) + "\n"


def disk_free_bytes(path: Path) -> int:
    """Free space on the disk holding `path` (or its nearest existing parent)."""
    for candidate in (path, *path.resolve().parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return 0


class Metrics:
    """Collects the families on each scrape from the live objects (no state of its own)."""

    def __init__(
        self, cameras: Mapping[str, Camera], data_dir: str | Path, started: float | None = None
    ) -> None:
        self.cameras = cameras
        self.data_dir = Path(data_dir)
        self.started = time.monotonic() if started is None else started

    def families(self) -> list[Family]:
        cameras = list(self.cameras.values())
        families = []
        for name, kind, help_text, value_of in CAMERA_METRICS:
            family = Family(name, kind, help_text)
            for camera in cameras:
                family.add(float(value_of(camera)), {"camera": camera.name})
            families.append(family)
        detection = Family(
            "camwatch_motion_detection_seconds",
            "summary",
            "Time spent on motion detection per frame.",
        )
        for camera in cameras:
            labels = {"camera": camera.name}
            detection.add(camera.stats.detect_seconds_total, labels, "_sum")
            detection.add(camera.stats.detect_count, labels, "_count")
        families.append(detection)
        families.extend(self._process_families())
        return families

    def _process_families(self) -> list[Family]:
        free = Family(
            "camwatch_data_dir_free_bytes",
            "gauge",
            "Free space on the disk holding the data directory.",
        )
        free.add(disk_free_bytes(self.data_dir))
        uptime = Family("camwatch_uptime_seconds", "gauge", "Seconds since camwatch started.")
        uptime.add(time.monotonic() - self.started)
        info = Family("camwatch_build_info", "gauge", "Always 1; the version as a label.")
        info.add(1, {"version": __version__})
        return [free, uptime, info]

    def render(self) -> str:
        return render_families(self.families())
