"""The config's sections as dataclasses: every key with its default, bounds and description."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from camwatch.config.fields import ConfigError, setting, size_setting

CAMERA_NAME = re.compile(r"^[a-z0-9_-]+$")
# an MQTT topic one can publish under: no wildcards or spaces, no leading or trailing '/'
MQTT_TOPIC_PREFIX = re.compile(r"^[^#+\s/]([^#+\s]*[^#+\s/])?$")
AUDIO_SOURCE = re.compile(r"^((alsa|pulse):\S+)?$")

MAX_MASK_POLYGONS = 64
MAX_MASK_POINTS = 256


def validate_mask(value: Any, key: str) -> list[list[list[float]]]:
    """A motion mask: a list of polygons, each >= 3 [x, y] points with 0 <= x, y <= 1."""
    allowed = "a list of polygons, each a list of at least 3 [x, y] points with x and y from 0 to 1"
    if not isinstance(value, (list, tuple)) or len(value) > MAX_MASK_POLYGONS:
        raise ConfigError(
            f"{key}: expected {allowed} (at most {MAX_MASK_POLYGONS} polygons), got {value!r}"
        )
    polygons = []
    for i, polygon in enumerate(value):
        where = f"{key}: polygon {i}"
        if not isinstance(polygon, (list, tuple)) or not 3 <= len(polygon) <= MAX_MASK_POINTS:
            raise ConfigError(
                f"{where}: expected 3 to {MAX_MASK_POINTS} [x, y] points, got {polygon!r}"
            )
        polygons.append(
            [_mask_point(point, f"{where} point {j}") for j, point in enumerate(polygon)]
        )
    return polygons


def _mask_point(point: Any, where: str) -> list[float]:
    if (
        not isinstance(point, (list, tuple))
        or len(point) != 2
        or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in point)
        or not all(0.0 <= c <= 1.0 for c in point)
    ):
        raise ConfigError(f"{where}: expected [x, y] with x and y from 0 to 1, got {point!r}")
    return [float(point[0]), float(point[1])]


@dataclass
class MotionConfig:
    enabled: bool = setting(True, "detect motion and record events")
    threshold: float = setting(
        0.1,
        "a frame is significant when delta (% of pixels changed) exceeds this",
        low=0.0,
        high=100.0,
    )
    pixel_threshold: int = setting(
        12, "grey-level change for a pixel to count as changed", low=1, high=255
    )
    stable_frames: int = setting(
        20,
        "the diff buffer: stop once this many deltas in a row are below threshold",
        low=1,
        high=1000,
    )
    min_motion_frames: int = setting(
        5, "an event with fewer significant frames is discarded", low=1, high=10000
    )
    pre_roll_seconds: float = setting(
        2.0, "seconds of video kept from before the motion started", low=0.0, high=30.0
    )
    max_event_seconds: float = setting(
        600.0, "a longer event is split into clips", low=5.0, high=86400.0
    )
    mask: list[list[list[float]]] = setting(
        [],
        "polygons of [x, y] points (0-1, from the top left) where motion is ignored",
        validate=validate_mask,
    )


@dataclass
class CameraConfig:
    name: str = setting("cam", "[a-z0-9_-]+, unique; used in URLs", pattern=CAMERA_NAME)
    source: str = setting("auto", "auto, demo, a device index or path, a file, or a URL")
    width: int = setting(
        1280, "requested capture width; 0 = the camera's default", low=0, high=7680
    )
    height: int = setting(
        720, "requested capture height; 0 = the camera's default", low=0, high=4320
    )
    fps: float = setting(10.0, "frames per second to capture", low=0.5, high=120.0)
    jpeg_quality: int = setting(80, "JPEG quality for live frames", low=10, high=100)
    max_frame_pixels: int = setting(
        8192 * 8192,
        "a camera declaring larger frames (width x height) is treated as broken: offline",
        low=64 * 64,
        high=65535 * 65535,
    )
    loop: bool = setting(False, "loop a file source")
    record: str = setting(
        "events",
        "events: motion-triggered clips; continuous: 24/7 segments with events marked in them",
        choices=("events", "continuous"),
    )
    segment_seconds: int = setting(60, "length of a continuous segment file", low=10, high=600)
    record_crf: int = setting(
        28,
        "quality of footage encoded from frames (MJPEG, webcams, codecs browsers do not play): "
        "libx264's constant rate factor, lower is better and larger (23: x264's default, "
        "28: about Motion's)",
        low=18,
        high=35,
    )
    detect_source: str = setting(
        "", "a second stream (a substream) for detection and JPEG live views; empty = source"
    )
    audio: bool = setting(True, "record the camera's audio with the video (when it has audio)")
    audio_source: str = setting(
        "",
        'a separate microphone: "alsa:DEVICE" (e.g. "alsa:hw:1,0"), "pulse:SOURCE" '
        '(e.g. "pulse:default"), or empty',
        pattern=AUDIO_SOURCE,
    )
    motion: MotionConfig = field(default_factory=MotionConfig)


@dataclass
class ServerConfig:
    host: str = setting("0.0.0.0", "address to listen on")
    port: int = setting(8100, "TCP port", low=1, high=65535)
    data_dir: str = setting("recordings", "clips, thumbnails and the event index")
    username: str = setting("admin", "the user name HTTP Basic and the login page expect")
    password: str = setting("", "when set, every endpoint but /healthz needs it", secret=True)
    certfile: str = setting("", "TLS certificate (PEM); with keyfile enables HTTPS")
    keyfile: str = setting("", "TLS private key (PEM)")
    log_level: str = setting("info", "logging level", choices=("debug", "info", "warning", "error"))
    max_connections: int = setting(
        0,
        "client connections open at once; 0 = as many as the open-file limit leaves room for",
        low=0,
        high=1_000_000,
    )
    max_client_connections: int = setting(
        0,
        "connections open at once from one address; 0 = a quarter of max_connections, at most "
        "128 (raise it behind a reverse proxy, where every client has the proxy's address)",
        low=0,
        high=1_000_000,
    )


@dataclass
class RetentionConfig:
    max_days: float = setting(
        30.0, "older clips are deleted; 0 = keep forever", low=0.0, high=36500.0
    )
    continuous_days: float = setting(
        3.0,
        "continuous footage outside events is deleted after this; 0 = keep forever",
        low=0.0,
        high=36500.0,
    )
    max_bytes: int = size_setting(20 * 10**9, "oldest clips deleted beyond this; 0 = no limit")
    min_free_bytes: int = size_setting(10**9, "keep at least this much free on the data disk")


@dataclass
class MqttConfig:
    host: str = setting("127.0.0.1", "broker address")
    port: int = setting(1883, "broker port", low=1, high=65535)
    username: str = setting("", "broker user name")
    password: str = setting("", "broker password", secret=True)
    tls: bool = setting(False, "connect with TLS")
    topic_prefix: str = setting(
        "camwatch", "topic prefix; distinct per camwatch host", pattern=MQTT_TOPIC_PREFIX
    )
    discovery: bool = setting(True, "publish Home Assistant discovery configs")
    discovery_prefix: str = setting(
        "homeassistant", "Home Assistant discovery prefix", pattern=MQTT_TOPIC_PREFIX
    )


@dataclass
class HooksConfig:
    on_event_start: str = setting("", "command run when an event starts")
    on_event_end: str = setting("", "command run when an event ends")
    timeout_seconds: float = setting(
        30.0, "a hook still running after this is killed", low=1.0, high=3600.0
    )


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    cameras: list[CameraConfig] = field(default_factory=list)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    mqtt: MqttConfig | None = None
    hooks: HooksConfig = field(default_factory=HooksConfig)

    def camera(self, name: str) -> CameraConfig | None:
        return next((c for c in self.cameras if c.name == name), None)
