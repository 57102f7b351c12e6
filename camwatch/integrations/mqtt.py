"""MqttPublisher: motion state, events and Home Assistant discovery over MQTT (paho-mqtt 2.x)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from camwatch import __version__
from camwatch.config import MqttConfig, ServerConfig
from camwatch.integrations.worker import BoundedWorker
from camwatch.recording.index import EventRecord

log = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
MAX_QUEUED_MESSAGES = 1000
MAX_THUMBNAIL_BYTES = 5 * 1024 * 1024
STOP_TIMEOUT_S = 3.0
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


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


def discovery_messages(
    config: MqttConfig, cameras: list[str], base_url: str
) -> list[tuple[str, dict[str, Any]]]:
    """(topic, config) for Home Assistant: per camera a motion binary_sensor and an image
    entity showing the latest event's thumbnail, grouped under one device per camera.

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
        motion = {
            "name": "Motion",
            "unique_id": f"{node}_{camera}_motion",
            "device_class": "motion",
            "state_topic": topics.motion(camera),
            "payload_on": "ON",
            "payload_off": "OFF",
            "qos": 1,
            "device": device,
            **common,
        }
        image = {
            "name": "Last event",
            "unique_id": f"{node}_{camera}_last_event",
            "image_topic": topics.thumbnail(camera),
            "content_type": "image/jpeg",
            "qos": 1,
            "device": device,
            **common,
        }
        prefix = topics.discovery_prefix
        messages.append((f"{prefix}/binary_sensor/{node}/{camera}_motion/config", motion))
        messages.append((f"{prefix}/image/{node}/{camera}_last_event/config", image))
    return messages


class MqttPublisher:
    """An EventListener and service component publishing to an MQTT broker.

    Retained: `{prefix}/available` (online/offline, the last will), `{prefix}/{camera}/motion`
    (ON/OFF), `{prefix}/{camera}/thumbnail` (JPEG of the latest event) and the discovery configs.
    Not retained: `{prefix}/{camera}/events` (JSON on start and end). paho's own thread keeps
    reconnecting; listener calls only update state and queue a non-blocking publish.
    """

    def __init__(
        self,
        config: MqttConfig,
        cameras: list[str],
        data_dir: str | Path,
        *,
        base_url: str,
        client_id: str | None = None,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self.config = config
        self.cameras = list(cameras)
        self.data_dir = Path(data_dir)
        self.base_url = base_url
        self.topics = Topics(config)
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self._lock = threading.Lock()
        self._connected = False
        self._stopping = False
        self._reported_unreachable = False
        self._motion: dict[str, bool] = dict.fromkeys(self.cameras, False)
        self._thumbnails: dict[str, bytes] = {}
        self._files = BoundedWorker("mqtt-files", max_queued=16)
        default_id = f"camwatch-{socket.gethostname()}-{node_id(config.topic_prefix)}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or default_id[:64]
        )
        self._configure_client()

    @property
    def connected(self) -> bool:
        return self._connected

    def _configure_client(self) -> None:
        client = self.client
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password or None)
        if self.config.tls:
            client.tls_set()
        client.will_set(self.topics.available, OFFLINE, qos=1, retain=True)
        client.max_queued_messages_set(MAX_QUEUED_MESSAGES)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background: a broker that is down now is retried, never waited for."""
        self._files.start()
        self.client.reconnect_delay_set(int(self.reconnect_min_s), int(self.reconnect_max_s))
        self.client.connect_async(self.config.host, self.config.port, keepalive=30)
        self.client.loop_start()
        log.info("mqtt: connecting to %s:%d in the background", self.config.host, self.config.port)

    def stop(self) -> None:
        """Say offline (the will is only sent for unclean disconnects), then disconnect."""
        self._stopping = True
        self._files.stop(1.0)
        with self._lock:
            connected = self._connected
            info = self._publish(self.topics.available, OFFLINE, retain=True) if connected else None
        if info is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(STOP_TIMEOUT_S)
        self.client.disconnect()
        self.client.loop_stop()

    # -- EventListener (capture and writer threads) ------------------------------------------

    def motion_changed(self, camera: str, active: bool) -> None:
        with self._lock:
            self._motion[camera] = active
            if self._connected:
                self._publish(self.topics.motion(camera), "ON" if active else "OFF", retain=True)

    def event_started(self, record: EventRecord) -> None:
        self._publish_event("start", record)

    def event_ended(self, record: EventRecord) -> None:
        self._publish_event("end", record)
        path = self.data_dir / record.thumbnail_path
        if not self._files.submit(lambda: self._send_thumbnail(record.camera, path)):
            log.warning("mqtt: too many thumbnails queued; skipped %s", path)

    def _publish_event(self, kind: str, record: EventRecord) -> None:
        payload = json.dumps({"type": kind, **record.to_json()})
        # QoS 1 without the connection check: paho keeps it (bounded) until it reconnects
        self._publish(self.topics.events(record.camera), payload, retain=False)

    def _send_thumbnail(self, camera: str, path: Path) -> None:
        try:
            if path.stat().st_size > MAX_THUMBNAIL_BYTES:
                log.warning("mqtt: thumbnail %s is too large to publish", path)
                return
            data = path.read_bytes()
        except OSError as e:
            log.warning("mqtt: cannot read thumbnail: %s", e)
            return
        with self._lock:
            self._thumbnails[camera] = data
            if self._connected:
                self._publish(self.topics.thumbnail(camera), data, retain=True)

    # -- paho thread -------------------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        if reason.is_failure:
            log.warning(
                "mqtt: broker %s:%d refused the connection: %s",
                self.config.host,
                self.config.port,
                reason,
            )
            return
        log.info("mqtt: connected to %s:%d", self.config.host, self.config.port)
        self._reported_unreachable = False
        if self.config.discovery:
            client.subscribe(self.topics.ha_status, qos=1)
        with self._lock:
            self._connected = True
            self._publish_all()

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if not self._reported_unreachable:
            self._reported_unreachable = True
            log.warning(
                "mqtt: cannot reach broker %s:%d; retrying in the background",
                self.config.host,
                self.config.port,
            )

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Any,
    ) -> None:
        was_connected, self._connected = self._connected, False
        if was_connected and not self._stopping:
            log.warning("mqtt: disconnected (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics.ha_status and message.payload == b"online":
            log.info("mqtt: Home Assistant came online; sending discovery again")
            with self._lock:
                self._publish_all()

    # -- publishing (hold self._lock where state is read) ------------------------------------

    def _publish_all(self) -> None:
        """Availability, discovery and the current state: after a broker restart without
        persistence, retained messages are gone, so send them again on every connect."""
        self._publish(self.topics.available, ONLINE, retain=True)
        if self.config.discovery:
            for topic, payload in discovery_messages(self.config, self.cameras, self.base_url):
                self._publish(topic, json.dumps(payload), retain=True)
        for camera, active in self._motion.items():
            self._publish(self.topics.motion(camera), "ON" if active else "OFF", retain=True)
        for camera, data in self._thumbnails.items():
            self._publish(self.topics.thumbnail(camera), data, retain=True)

    def _publish(
        self, topic: str, payload: str | bytes, *, retain: bool
    ) -> mqtt.MQTTMessageInfo | None:
        try:
            info = self.client.publish(topic, payload, qos=1, retain=retain)
        except ValueError as e:  # a topic with wildcards, or a payload too large
            log.error("mqtt: cannot publish to %s: %s", topic, e)
            return None
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            log.warning("mqtt: outgoing queue full; dropped a message to %s", topic)
            return None
        return info
