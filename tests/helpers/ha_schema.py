"""A checker for Home Assistant MQTT discovery configs: the keys each platform requires and
accepts, their types, the device and origin blocks, and the discovery topic's shape.

Written from Home Assistant's MQTT platform documentation (binary_sensor, switch, event, sensor,
image); stricter than Home Assistant in one way: unknown keys are reported (a typo there is
silently dropped by Home Assistant, and the entity then misbehaves).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TOPIC_LEVEL = r"[a-zA-Z0-9_-]+"
ENTITY_CATEGORIES = ("config", "diagnostic")
COMMON = {
    "name": str,
    "unique_id": str,
    "object_id": str,
    "default_entity_id": str,
    "availability_topic": str,
    "availability": list,
    "availability_mode": str,
    "availability_template": str,
    "payload_available": str,
    "payload_not_available": str,
    "device": dict,
    "origin": dict,
    "qos": int,
    "icon": str,
    "entity_category": str,
    "entity_picture": str,
    "enabled_by_default": bool,
    "encoding": str,
    "json_attributes_topic": str,
    "json_attributes_template": str,
}
PLATFORMS: dict[str, dict[str, Any]] = {
    "binary_sensor": {
        "required": ("state_topic",),
        "keys": {
            "state_topic": str,
            "device_class": str,
            "payload_on": str,
            "payload_off": str,
            "value_template": str,
            "expire_after": int,
            "force_update": bool,
            "off_delay": int,
        },
    },
    "switch": {
        "required": ("command_topic",),
        "keys": {
            "command_topic": str,
            "command_template": str,
            "state_topic": str,
            "payload_on": str,
            "payload_off": str,
            "state_on": str,
            "state_off": str,
            "optimistic": bool,
            "retain": bool,
            "value_template": str,
            "device_class": str,
        },
        "device_classes": ("outlet", "switch"),
    },
    "event": {
        "required": ("state_topic", "event_types"),
        "keys": {
            "state_topic": str,
            "event_types": list,
            "device_class": str,
            "value_template": str,
        },
        "device_classes": ("button", "doorbell", "motion"),
    },
    "sensor": {
        "required": ("state_topic",),
        "keys": {
            "state_topic": str,
            "unit_of_measurement": str,
            "state_class": str,
            "device_class": str,
            "suggested_display_precision": int,
            "expire_after": int,
            "force_update": bool,
            "value_template": str,
            "last_reset_value_template": str,
            "options": list,
        },
    },
    "image": {
        "required": (),
        "one_of": ("image_topic", "url_topic"),
        "keys": {
            "image_topic": str,
            "url_topic": str,
            "url_template": str,
            "content_type": str,
            "image_encoding": str,
        },
    },
}
DEVICE_KEYS = {
    "identifiers": list,
    "connections": list,
    "name": str,
    "manufacturer": str,
    "model": str,
    "model_id": str,
    "sw_version": str,
    "hw_version": str,
    "serial_number": str,
    "suggested_area": str,
    "configuration_url": str,
    "via_device": str,
}
ORIGIN_KEYS = {"name": str, "sw_version": str, "support_url": str}
STATE_CLASSES = ("measurement", "measurement_angle", "total", "total_increasing")


def topic_problems(key: str, topic: str, *, publish: bool) -> list[str]:
    """A topic Home Assistant subscribes to or (publish=True) publishes to."""
    if not topic or "\0" in topic or len(topic.encode()) > 65535:
        return [f"{key}: not a valid MQTT topic: {topic!r}"]
    if publish and ("+" in topic or "#" in topic):
        return [f"{key}: a topic to publish to may not hold wildcards: {topic!r}"]
    return []


def typed_problems(where: str, values: Mapping[str, Any], types: Mapping[str, type]) -> list[str]:
    problems = []
    for key, value in values.items():
        expected = types.get(key)
        if expected is None:
            problems.append(f"{where}{key}: not a key Home Assistant knows here")
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            problems.append(f"{where}{key}: expected {expected.__name__}, got {value!r}")
    return problems


def device_problems(device: Mapping[str, Any]) -> list[str]:
    problems = typed_problems("device.", device, DEVICE_KEYS)
    identifiers = device.get("identifiers")
    if not identifiers and not device.get("connections"):
        problems.append("device: needs identifiers (or connections)")
    if isinstance(identifiers, list) and not all(isinstance(i, str) and i for i in identifiers):
        problems.append("device.identifiers: expected non-empty strings")
    url = device.get("configuration_url", "http://x")
    if isinstance(url, str) and not re.match(r"^(https?://[^/\s]+|homeassistant://)", url):
        problems.append(f"device.configuration_url: not a URL Home Assistant accepts: {url!r}")
    return problems


def platform_problems(platform: str, config: Mapping[str, Any]) -> list[str]:
    rules = PLATFORMS[platform]
    problems = [f"{key}: required for {platform}" for key in rules["required"] if key not in config]
    one_of = rules.get("one_of")
    if one_of and sum(key in config for key in one_of) != 1:
        problems.append(f"{platform}: exactly one of {' or '.join(one_of)}")
    classes = rules.get("device_classes")
    if classes and config.get("device_class", classes[0]) not in classes:
        problems.append(f"device_class: {config['device_class']!r} is not one of {classes}")
    if platform == "event":
        types = config.get("event_types")
        if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
            problems.append("event_types: expected a non-empty list of strings")
    if platform == "sensor":
        if config.get("state_class", "measurement") not in STATE_CLASSES:
            problems.append(f"state_class: not one of {STATE_CLASSES}")
        if config.get("entity_category") == "config":
            problems.append("entity_category: a sensor cannot be a config entity")
    if platform == "image" and "content_type" in config and "image_topic" not in config:
        problems.append("content_type: only with image_topic")
    return problems


def common_problems(config: Mapping[str, Any]) -> list[str]:
    problems = []
    if not config.get("unique_id"):
        problems.append("unique_id: required (an entity on a device needs one)")
    if "availability_topic" in config and "availability" in config:
        problems.append("availability_topic and availability: use one, not both")
    if config.get("qos", 0) not in (0, 1, 2):
        problems.append(f"qos: {config['qos']!r} is not 0, 1 or 2")
    if config.get("entity_category", "config") not in ENTITY_CATEGORIES:
        problems.append(f"entity_category: not one of {ENTITY_CATEGORIES}")
    if isinstance(config.get("device"), dict):
        problems += device_problems(config["device"])
    else:
        problems.append("device: required (entities belong to the camera's device)")
    if isinstance(config.get("origin"), dict):
        origin = config["origin"]
        problems += typed_problems("origin.", origin, ORIGIN_KEYS)
        if not origin.get("name"):
            problems.append("origin.name: required")
    return problems


def discovery_problems(
    topic: str, config: Mapping[str, Any], discovery_prefix: str = "homeassistant"
) -> list[str]:
    """Everything wrong with one discovery message; [] when Home Assistant would take it."""
    match = re.fullmatch(
        rf"{re.escape(discovery_prefix)}/({TOPIC_LEVEL})/(?:{TOPIC_LEVEL}/)?{TOPIC_LEVEL}/config",
        topic,
    )
    if match is None:
        return [f"{topic}: not <prefix>/<component>/[<node_id>/]<object_id>/config"]
    platform = match.group(1)
    if platform not in PLATFORMS:
        return [f"{topic}: {platform} is not a platform this checker knows"]
    keys = {**COMMON, **PLATFORMS[platform]["keys"]}
    problems = typed_problems("", config, keys)
    problems += platform_problems(platform, config)
    problems += common_problems(config)
    for key in ("state_topic", "image_topic", "url_topic", "availability_topic"):
        if isinstance(config.get(key), str):
            problems += topic_problems(key, config[key], publish=False)
    if isinstance(config.get("command_topic"), str):
        problems += topic_problems("command_topic", config["command_topic"], publish=True)
    return problems
