"""MqttPublisher: state, events and discovery out, switch commands in, over MQTT (paho-mqtt 2.x)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from camwatch.config import MqttConfig
from camwatch.integrations.commands import CommandQueue
from camwatch.integrations.discovery import (
    MOTION_END,
    MOTION_START,
    OFF,
    OFFLINE,
    ON,
    ONLINE,
    Topics,
    discovery_messages,
    node_id,
)
from camwatch.integrations.worker import BoundedWorker
from camwatch.recording.index import EventRecord
from camwatch.recording.switches import SWITCH_NAMES, Switches, SwitchState

log = logging.getLogger(__name__)

MAX_QUEUED_MESSAGES = 1000
MAX_THUMBNAIL_BYTES = 5 * 1024 * 1024
STOP_TIMEOUT_S = 3.0
FPS_INTERVAL_S = 15.0


def send_at_once(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """TCP_NODELAY on the broker connection: with Nagle's algorithm, a state answering a command
    waits for the broker's delayed ACK of camwatch's PUBACK (about 40 ms)."""
    if isinstance(sock, socket.socket):  # TLS sockets too; anything else is left as it is
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttPublisher:
    """An EventListener and service component speaking MQTT with a broker.

    Retained: `{prefix}/available` (online/offline, the last will), `{prefix}/{camera}/motion`
    (ON/OFF), `{prefix}/{camera}/thumbnail` (JPEG of the latest event), the switch states
    `{prefix}/{camera}/detect` and `.../recordings` (ON/OFF) and the discovery configs.
    Not retained: `{prefix}/{camera}/events` (JSON on start and end) and `{prefix}/{camera}/fps`
    (every `fps_interval_s`). Subscribed: exactly `{prefix}/{camera}/detect/set` and
    `.../recordings/set` per camera (with `switches`) and Home Assistant's status topic.
    paho's own thread keeps reconnecting; listener calls only update state and queue a
    non-blocking publish; commands are applied on a worker thread, the latest per switch.
    """

    def __init__(
        self,
        config: MqttConfig,
        cameras: list[str],
        data_dir: str | Path,
        *,
        base_url: str,
        switches: Switches | None = None,
        fps_of: Callable[[str], float] | None = None,
        fps_interval_s: float = FPS_INTERVAL_S,
        client_id: str | None = None,
        reconnect_min_s: float = 1.0,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self.config = config
        self.cameras = list(cameras)
        self.data_dir = Path(data_dir)
        self.base_url = base_url
        self.topics = Topics(config)
        self.switches = switches
        self.fps_of = fps_of
        self.fps_interval_s = fps_interval_s
        self.reconnect_min_s, self.reconnect_max_s = reconnect_min_s, reconnect_max_s
        self._lock = threading.Lock()
        self._connected = False
        self._subscribed = threading.Event()  # the broker confirmed this connection's SUBSCRIBE
        self._stopping = threading.Event()
        self._reported_unreachable = False
        self._motion: dict[str, bool] = dict.fromkeys(self.cameras, False)
        self._thumbnails: dict[str, bytes] = {}
        self._files = BoundedWorker("mqtt-files", max_queued=16)
        self._commands = CommandQueue(switches)
        self._fps_thread: threading.Thread | None = None
        # command topic -> (camera, switch): the only topics whose messages change anything
        self.command_topics: dict[str, tuple[str, str]] = {}
        if switches is not None:
            self.command_topics = {
                self.topics.command(camera, switch): (camera, switch)
                for camera in self.cameras
                for switch in SWITCH_NAMES
            }
            switches.watch(self.switch_changed)
        default_id = f"camwatch-{socket.gethostname()}-{node_id(config.topic_prefix)}"
        self.client_id = client_id or default_id[:64]
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        self._configure_client()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def listening(self) -> bool:
        """Connected, and the broker has confirmed the subscriptions: commands reach camwatch."""
        return self._connected and self._subscribed.is_set()

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
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_socket_open = send_at_once

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background: a broker that is down now is retried, never waited for."""
        self._files.start()
        self._commands.start()
        if self.fps_of is not None:
            self._fps_thread = threading.Thread(target=self._fps_loop, name="mqtt-fps", daemon=True)
            self._fps_thread.start()
        self.client.reconnect_delay_set(int(self.reconnect_min_s), int(self.reconnect_max_s))
        self.client.connect_async(self.config.host, self.config.port, keepalive=30)
        self.client.loop_start()
        log.info("mqtt: connecting to %s:%d in the background", self.config.host, self.config.port)

    def stop(self) -> None:
        """Say offline (the will is only sent for unclean disconnects), then disconnect."""
        self._stopping.set()
        self._files.stop(1.0)
        self._commands.stop(1.0)
        if self._fps_thread is not None:
            self._fps_thread.join(1.0)
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
                self._publish(self.topics.motion(camera), ON if active else OFF, retain=True)

    def event_started(self, record: EventRecord) -> None:
        self._publish_event("start", record)

    def event_ended(self, record: EventRecord) -> None:
        self._publish_event("end", record)
        path = self.data_dir / record.thumbnail_path
        if not self._files.submit(lambda: self._send_thumbnail(record.camera, path)):
            log.warning("mqtt: too many thumbnails queued; skipped %s", path)

    def _publish_event(self, kind: str, record: EventRecord) -> None:
        event_type = MOTION_START if kind == "start" else MOTION_END  # for Home Assistant
        payload = json.dumps({"type": kind, "event_type": event_type, **record.to_json()})
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

    # -- switches (any thread: API, web UI, MQTT commands) -----------------------------------

    def switch_changed(self, state: SwitchState) -> None:
        with self._lock:
            if self._connected:
                self._publish_switches(state)

    def _fps_loop(self) -> None:
        while not self._stopping.wait(self.fps_interval_s):
            with self._lock:
                if self._connected:
                    self._publish_fps()

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
        subscriptions = [(topic, 1) for topic in self.command_topics]
        if self.config.discovery:
            subscriptions.append((self.topics.ha_status, 1))
        self._subscribed.clear()
        if subscriptions:
            client.subscribe(subscriptions)
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
        self._subscribed.clear()
        if was_connected and not self._stopping.is_set():
            log.warning("mqtt: disconnected (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        command = self.command_topics.get(message.topic)
        if command is not None:
            camera, switch = command
            payload = bytes(message.payload)
            self._commands.receive(message.topic, camera, switch, payload, message.retain)
        elif message.topic == self.topics.ha_status and message.payload == b"online":
            log.info("mqtt: Home Assistant came online; sending discovery again")
            with self._lock:
                self._publish_all()

    # -- publishing (hold self._lock where state is read) ------------------------------------

    def _publish_all(self) -> None:
        """Availability, discovery and the current state: after a broker restart without
        persistence, retained messages are gone, so send them again on every connect."""
        self._publish(self.topics.available, ONLINE, retain=True)
        if self.config.discovery:
            messages = discovery_messages(
                self.config,
                self.cameras,
                self.base_url,
                switches=self.switches is not None,
                fps=self.fps_of is not None,
            )
            for topic, payload in messages:
                self._publish(topic, json.dumps(payload), retain=True)
        for camera, active in self._motion.items():
            self._publish(self.topics.motion(camera), ON if active else OFF, retain=True)
        for camera, data in self._thumbnails.items():
            self._publish(self.topics.thumbnail(camera), data, retain=True)
        if self.switches is not None:
            for camera in self.cameras:
                self._publish_switches(self.switches.state(camera))
        self._publish_fps()

    def _publish_switches(self, state: SwitchState) -> None:
        for switch, on in state.to_json().items():
            self._publish(self.topics.switch(state.camera, switch), ON if on else OFF, retain=True)

    def _publish_fps(self) -> None:
        if self.fps_of is None:
            return
        for camera in self.cameras:
            self._publish(self.topics.fps(camera), f"{self.fps_of(camera):.2f}", retain=False)

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
