"""MqttPublisher: motion state, events and Home Assistant discovery over MQTT (paho-mqtt 2.x)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from camwatch.config import MqttConfig
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
MIN_COMMAND_INTERVAL_S = 0.5
COMMAND_PAYLOADS = {ON.encode(): True, OFF.encode(): False}


def payload_kind(message: mqtt.MQTTMessage) -> str:
    """Why a command is not taken, in words a log line can say once per topic."""
    if message.retain:
        return "a retained command left on the broker (publish commands without retain)"
    if not message.payload:
        return "an empty payload (expected ON or OFF)"
    return "a payload other than ON or OFF"


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
            self._on_command(message, *command)
        elif message.topic == self.topics.ha_status and message.payload == b"online":
            log.info("mqtt: Home Assistant came online; sending discovery again")
            with self._lock:
                self._publish_all()

    def _on_command(self, message: mqtt.MQTTMessage, camera: str, switch: str) -> None:
        on = COMMAND_PAYLOADS.get(bytes(message.payload))
        if on is None or message.retain:
            self._commands.ignore(message.topic, payload_kind(message))
            return
        self._commands.put(camera, switch, on)

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


class CommandQueue:
    """ON/OFF commands from the broker, applied to the switches on a worker thread.

    Only the latest command per switch waits, and turns come at most every
    `min_interval_s`: a flood of commands costs at most one change (one index write, one log
    line) per switch and turn, and memory stays bounded. The first command after a quiet spell
    is applied at once. Ignored messages are logged once per topic and kind, not per message.
    """

    def __init__(
        self, switches: Switches | None, min_interval_s: float = MIN_COMMAND_INTERVAL_S
    ) -> None:
        self.switches = switches
        self.min_interval_s = min_interval_s
        self._worker = BoundedWorker("mqtt-commands", max_queued=2)
        self._stopping = threading.Event()
        self._last_turn = -math.inf
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], bool] = {}
        self._queued = False
        self._logged: set[tuple[str, str]] = set()  # bounded: command topics x kinds
        self.ignored = 0

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()  # a turn waiting out the interval goes now
        self._worker.stop(timeout)

    def put(self, camera: str, switch: str, on: bool) -> None:
        with self._lock:
            self._pending[(camera, switch)] = on
            if self._queued:
                return
            self._queued = self._worker.submit(self._apply)

    def ignore(self, topic: str, kind: str) -> None:
        with self._lock:
            self.ignored += 1
            if (topic, kind) in self._logged:
                return
            self._logged.add((topic, kind))
        log.warning("mqtt: ignoring %s on %s (logged once per topic)", kind, topic)

    def _apply(self) -> None:
        self._stopping.wait(self._last_turn + self.min_interval_s - time.monotonic())
        with self._lock:
            pending, self._pending = self._pending, {}
            self._queued = False
        self._last_turn = time.monotonic()
        if self.switches is None:
            return
        for (camera, switch), on in pending.items():
            try:
                self.switches.set(camera, **{switch: on})
            except Exception as e:  # the index could not be written: say so, keep running
                state = ON if on else OFF
                log.error("mqtt: cannot turn %s %s for camera %s: %s", switch, state, camera, e)
