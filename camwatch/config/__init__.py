"""Typed settings: dataclasses with bounds and descriptions, from TOML, validated by key.

`fields` holds what a setting is and how a raw value becomes one, `settings` the sections and
their keys, `loading` the document; everything is importable from here."""

from camwatch.config.fields import (
    ConfigError,
    build,
    describe,
    key_text,
    parse_size,
    set_value,
    setting,
    size_setting,
)
from camwatch.config.loading import apply_environment, config_from_mapping, load_file
from camwatch.config.settings import (
    AUDIO_SOURCE,
    CAMERA_NAME,
    MAX_MASK_POINTS,
    MAX_MASK_POLYGONS,
    MQTT_TOPIC_PREFIX,
    CameraConfig,
    Config,
    HooksConfig,
    MotionConfig,
    MqttConfig,
    RetentionConfig,
    ServerConfig,
    validate_mask,
)

__all__ = [
    "AUDIO_SOURCE",
    "CAMERA_NAME",
    "MAX_MASK_POINTS",
    "MAX_MASK_POLYGONS",
    "MQTT_TOPIC_PREFIX",
    "CameraConfig",
    "Config",
    "ConfigError",
    "HooksConfig",
    "MotionConfig",
    "MqttConfig",
    "RetentionConfig",
    "ServerConfig",
    "apply_environment",
    "build",
    "config_from_mapping",
    "describe",
    "key_text",
    "load_file",
    "parse_size",
    "set_value",
    "setting",
    "size_setting",
    "validate_mask",
]
