"""MQTT topic names and the Home Assistant discovery configs of one camwatch instance."""

from __future__ import annotations

import re
import socket
from typing import Any

from camwatch import __version__
from camwatch.config import MqttConfig, ServerConfig

ONLINE, OFFLINE = "online", "offline"
ON, OFF = "ON", "OFF"
MOTION_START, MOTION_END = "motion_start", "motion_end"
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")

Entity = tuple[str, str, dict[str, Any]]  # (platform, object id, config without the common keys)


def node_id(topic_prefix: str) -> str:
    """The topic prefix made safe for a discovery topic level and for unique ids."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", topic_prefix).strip("_") or "camwatch"


def server_base_url(server: ServerConfig, hostname: str | None = None) -> str:
    """Where this server can probably be reached: the configured host, or this machine's name
    when listening on every address. Only used for the device's link in Home Assistant."""
    host = server.host
    if host in WILDCARD_HOSTS:
        host = hostname or socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if server.certfile else "http"
    return f"{scheme}://{host}:{server.port}"


class Topics:
    """The topic names of one camwatch instance."""

    def __init__(self, config: MqttConfig) -> None:
        self.prefix = config.topic_prefix.strip("/")
        self.discovery_prefix = config.discovery_prefix.strip("/")
        self.available = f"{self.prefix}/available"
        self.ha_status = f"{self.discovery_prefix}/status"

    def motion(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/motion"

    def events(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/events"

    def thumbnail(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/thumbnail"

    def fps(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/fps"

    def switch(self, camera: str, switch: str) -> str:
        """The state topic of a switch (`detect` or `recordings`)."""
        return f"{self.prefix}/{camera}/{switch}"

    def command(self, camera: str, switch: str) -> str:
        """Where a switch takes `ON`/`OFF`: the only topics camwatch acts on."""
        return f"{self.switch(camera, switch)}/set"


def _switch(topics: Topics, camera: str, switch: str, name: str, icon: str) -> Entity:
    return (
        "switch",
        switch,
        {
            "name": name,
            "command_topic": topics.command(camera, switch),
            "state_topic": topics.switch(camera, switch),
            "payload_on": ON,
            "payload_off": OFF,
            "retain": False,  # a retained command would be applied again on every reconnect
            "icon": icon,
        },
    )


def camera_entities(topics: Topics, camera: str, *, switches: bool, fps: bool) -> list[Entity]:
    """A camera's entities: motion, last event and motion events always; the switches and the
    frame rate when this instance has them to offer."""
    entities: list[Entity] = [
        (
            "binary_sensor",
            "motion",
            {
                "name": "Motion",
                "device_class": "motion",
                "state_topic": topics.motion(camera),
                "payload_on": ON,
                "payload_off": OFF,
            },
        ),
        (
            "image",
            "last_event",
            {
                "name": "Last event",
                "image_topic": topics.thumbnail(camera),
                "content_type": "image/jpeg",
            },
        ),
        (
            "event",
            "events",
            {
                "name": "Motion event",
                "device_class": "motion",
                "state_topic": topics.events(camera),
                "event_types": [MOTION_START, MOTION_END],
            },
        ),
    ]
    if switches:
        entities.append(_switch(topics, camera, "detect", "Motion detection", "mdi:motion-sensor"))
        entities.append(_switch(topics, camera, "recordings", "Recordings", "mdi:record-rec"))
    if fps:
        sensor = {
            "name": "Frame rate",
            "state_topic": topics.fps(camera),
            "unit_of_measurement": "fps",
            "state_class": "measurement",
            "suggested_display_precision": 1,
            "entity_category": "diagnostic",
            "icon": "mdi:speedometer",
        }
        entities.append(("sensor", "fps", sensor))
    return entities


def discovery_messages(
    config: MqttConfig,
    cameras: list[str],
    base_url: str,
    *,
    switches: bool = True,
    fps: bool = True,
) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config) for Home Assistant, grouped under one device per camera: a motion
    binary_sensor, an image of the latest event's thumbnail, an event entity (motion_start,
    motion_end), the detection and recordings switches and a frame-rate sensor.

    Unique ids and device identifiers start with the topic prefix, so several camwatch hosts
    with distinct prefixes can share a broker and a Home Assistant.
    """
    topics = Topics(config)
    node = node_id(config.topic_prefix)
    common = {
        "availability_topic": topics.available,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "origin": {"name": "camwatch", "sw_version": __version__},
    }
    messages: list[tuple[str, dict[str, Any]]] = []
    for camera in cameras:
        device = {
            "identifiers": [f"{node}_{camera}"],
            "name": camera if node == "camwatch" else f"{topics.prefix} {camera}",
            "manufacturer": "camwatch",
            "model": "camwatch camera",
            "sw_version": __version__,
            "configuration_url": base_url,
        }
        for platform, object_id, entity in camera_entities(
            topics, camera, switches=switches, fps=fps
        ):
            payload = {
                "name": entity.pop("name"),
                "unique_id": f"{node}_{camera}_{object_id}",
                **entity,
                "qos": 1,
                "device": device,
                **common,
            }
            topic = f"{topics.discovery_prefix}/{platform}/{node}/{camera}_{object_id}/config"
            messages.append((topic, payload))
    return messages
