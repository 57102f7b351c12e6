"""Typed settings: dataclasses with bounds and descriptions, from TOML, validated by key."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
CAMERA_NAME = re.compile(r"^[a-z0-9_-]+$")
# an MQTT topic one can publish under: no wildcards or spaces, no leading or trailing '/'
MQTT_TOPIC_PREFIX = re.compile(r"^[^#+\s/]([^#+\s]*[^#+\s/])?$")
AUDIO_SOURCE = re.compile(r"^((alsa|pulse):\S+)?$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(I)?)?B?\s*$", re.IGNORECASE)


class ConfigError(ValueError):
    """A setting is missing, unknown or out of range; the message names the key."""


def setting(
    default: Any,
    description: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    pattern: re.Pattern[str] | None = None,
    validate: Callable[[Any, str], Any] | None = None,
    parse: Callable[[Any], Any] | None = None,
    allowed: str | None = None,
    secret: bool = False,
) -> Any:
    """A dataclass field carrying its bounds and description for validation and docs.

    `validate(value, key)` checks and normalises a structured value (raising ConfigError);
    `parse(value)` turns a scalar into the field's type (raising TypeError or ValueError), and
    `allowed` then describes what it accepts.
    A `secret` never appears in a repr or an error message.
    """
    meta = {
        "description": description,
        "low": low,
        "high": high,
        "choices": choices,
        "pattern": pattern,
        "validate": validate,
        "parse": parse,
        "allowed": allowed,
        "secret": secret,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


def parse_size(text: str | int) -> int:
    """'20GB' -> 20_000_000_000; '512MiB' -> 536_870_912; 0 means no limit."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r}")
    number, prefix, binary = float(match.group(1)), (match.group(2) or "").upper(), match.group(3)
    power = "KMGT".index(prefix) + 1 if prefix else 0
    factor = (1024 if binary else 1000) ** power
    return int(number * factor)


def size_setting(default: int, description: str) -> Any:
    """A byte count written as a number or a size such as "20GB"."""
    return setting(
        default,
        description,
        low=0,
        parse=parse_size,
        allowed='a size such as "20GB", "500MiB" or 0',
    )


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


def _describe_allowed(f: dataclasses.Field[Any], kind: type) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    if meta.get("pattern") is not None:
        return f"a string matching {meta['pattern'].pattern}"
    if kind is bool:
        return "true or false"
    low, high = meta.get("low"), meta.get("high")
    noun = {int: "an integer", float: "a number", str: "a string"}.get(kind, kind.__name__)
    if low is not None and high is not None:
        return f"{noun} from {low:g} to {high:g}"
    if low is not None:
        return f"{noun} >= {low:g}"
    return noun


def _coerce(value: Any, kind: type, key: str, f: dataclasses.Field[Any]) -> Any:
    try:
        if f.metadata.get("validate") is not None:
            return f.metadata["validate"](value, key)
        return _coerce_value(value, kind, key, f)
    except ConfigError as e:
        if f.metadata.get("secret"):  # name the key, never echo the value
            raise ConfigError(str(e).split(", got ")[0]) from None
        raise


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    if not math.isfinite(value):
        raise ValueError
    return float(value)


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError
    return value


_PARSERS: dict[type, Callable[[Any], Any]] = {
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    str: _as_str,
}


def _coerce_value(value: Any, kind: type, key: str, f: dataclasses.Field[Any]) -> Any:
    meta = f.metadata
    allowed = meta.get("allowed") or _describe_allowed(f, kind)
    parse = meta.get("parse") or _PARSERS.get(kind, lambda v: v)
    try:
        parsed = parse(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key}: expected {allowed}, got {value!r}") from None
    low, high = meta.get("low"), meta.get("high")
    out_of_range = (low is not None and parsed < low) or (high is not None and parsed > high)
    not_a_choice = bool(meta.get("choices")) and parsed not in meta["choices"]
    no_match = meta.get("pattern") is not None and not meta["pattern"].match(parsed)
    if out_of_range or not_a_choice or no_match:  # the value as written: 300, not 300.0
        raise ConfigError(f"{key}: expected {allowed}, got {value!r}")
    return parsed


def key_text(name: str) -> str:
    """A key as TOML writes it: bare if it can be, else quoted (so "" or "a b" stay visible)."""
    return name if _BARE_KEY.match(name) else json.dumps(name)


def build(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Make a settings dataclass from a mapping, naming the key of any bad value."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{prefix}{key_text(unknown[0])}: unknown key; allowed keys: {', '.join(fields)}"
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        key, kind = prefix + name, hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = build(kind, value, key + ".")  # type: ignore[arg-type]
        else:
            values[name] = _coerce(value, kind, key, fields[name])
    return cls(**values)


def config_from_mapping(data: Mapping[str, Any]) -> Config:
    """Validate a whole config document (as parsed from TOML)."""
    allowed = ("server", "cameras", "retention", "mqtt", "hooks")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ConfigError(f"{key_text(unknown[0])}: unknown section; allowed: {', '.join(allowed)}")
    cameras_data = data.get("cameras", [])
    if not isinstance(cameras_data, list):
        raise ConfigError("cameras: expected an array of tables ([[cameras]])")
    cameras = [build(CameraConfig, c, f"cameras[{i}].") for i, c in enumerate(cameras_data)]
    for i, camera in enumerate(cameras):
        if "name" not in cameras_data[i]:
            camera.name = "cam" if i == 0 else f"cam{i + 1}"
    names = [c.name for c in cameras]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"cameras[{i}].name: {name!r} is used twice; names must be unique")
    return Config(
        server=build(ServerConfig, data.get("server", {}), "server."),
        cameras=cameras,
        retention=build(RetentionConfig, data.get("retention", {}), "retention."),
        mqtt=build(MqttConfig, data["mqtt"], "mqtt.") if "mqtt" in data else None,
        hooks=build(HooksConfig, data.get("hooks", {}), "hooks."),
    )


def load_file(path: str | Path) -> Config:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"--config: cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"--config: {path} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path} is not UTF-8 text") from None
    except RecursionError:  # tomllib parses nested arrays and tables by recursion
        raise ConfigError(f"--config: {path} nests arrays or tables too deeply") from None
    try:
        return config_from_mapping(data)
    except RecursionError:
        raise ConfigError(f"--config: {path} nests values too deeply") from None


def apply_environment(config: Config, environ: Mapping[str, str] = os.environ) -> None:
    """CAMWATCH_USERNAME / CAMWATCH_PASSWORD override the file (keeps secrets out of it)."""
    if environ.get("CAMWATCH_USERNAME"):
        config.server.username = environ["CAMWATCH_USERNAME"]
    if environ.get("CAMWATCH_PASSWORD"):
        config.server.password = environ["CAMWATCH_PASSWORD"]


def set_value(obj: Any, name: str, value: Any, key: str) -> None:
    """Validate and set one field of a settings dataclass (used by CLI overrides and PATCH)."""
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if name not in fields:
        raise ConfigError(f"{key}: unknown key; allowed keys: {', '.join(fields)}")
    kind = get_type_hints(type(obj))[name]
    setattr(obj, name, _coerce(value, kind, key, fields[name]))


def describe(cls: type) -> dict[str, dict[str, Any]]:
    """Bounds and descriptions of a settings dataclass, for the UI and the docs."""
    hints = get_type_hints(cls)
    out: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            continue
        out[f.name] = {
            "type": getattr(kind, "__name__", str(kind)),
            "description": f.metadata.get("description", ""),
            "min": f.metadata.get("low"),
            "max": f.metadata.get("high"),
        }
    return out
