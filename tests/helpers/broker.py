"""Test helpers: a real mosquitto broker on a free loopback port, and a subscriber that records."""

from __future__ import annotations

import getpass
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers.processes import free_port

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"


class Mosquitto:
    """`listener PORT 127.0.0.1`, anonymous, no persistence; start() waits until it accepts.

    `log_subscriptions` makes the broker log every subscription (see `subscriptions()`);
    `users` (name: password) turns anonymous access off; `acl` is an acl_file's text; `tls`
    (certfile, keyfile) makes the listener TLS only (start() still waits for its TCP port)."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        log_subscriptions: bool = False,
        users: dict[str, str] | None = None,
        acl: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_subscriptions = log_subscriptions
        self.users = users or {}
        self.acl = acl
        self.tls = tls  # (certfile, keyfile): the listener speaks TLS only
        self.directory = directory
        self.config_path = directory / f"mosquitto-{self.port}.conf"
        self.log_path = directory / f"mosquitto-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\n" + self._options()
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def _options(self) -> str:
        # as root, mosquitto drops to a user that cannot read or write the test's directory
        options = [f"user {getpass.getuser()}"]
        if self.tls is not None:  # options of the listener: right after its line
            options += [f"certfile {self.tls[0]}", f"keyfile {self.tls[1]}"]
        if self.log_subscriptions:  # a log file is flushed line by line (stdout is not)
            options += [f"log_dest file {self.log_path}", "log_type all"]
        if self.users:
            passwords = self.directory / f"mosquitto-{self.port}.passwd"
            passwords.unlink(missing_ok=True)
            for user, password in self.users.items():
                create = [] if passwords.exists() else ["-c"]
                subprocess.run(
                    [MOSQUITTO_PASSWD, *create, "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                )
            options += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            options.append("allow_anonymous true")
        if self.acl is not None:
            acl = self.directory / f"mosquitto-{self.port}.acl"
            acl.write_text(self.acl)
            options.append(f"acl_file {acl}")
        return "".join(f"{option}\n" for option in options)

    def subscriptions(self, client_id: str) -> set[str]:
        """Every topic filter `client_id` subscribed to, from the broker's own log."""
        topics = set()
        for line in self.log_path.read_text(errors="replace").splitlines():
            # "<time>: <client id> <qos> <topic filter>" for each filter of a SUBSCRIBE
            parts = line.split(" ")
            if len(parts) == 4 and parts[1] == client_id and parts[2] in ("0", "1", "2"):
                topics.add(parts[3])
        return topics

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode()


BARRIER_PREFIX = "_collector_barrier"  # markers, never shown to any collector


class Collector:
    """Subscribes to `topic` (default everything) and keeps what arrives, in order."""

    def __init__(self, port: int, topic: str = "#", auth: tuple[str, str] | None = None) -> None:
        self.messages: list[Message] = []
        self._barrier_topic = f"{BARRIER_PREFIX}/{uuid.uuid4().hex}"
        self._barriers: set[bytes] = set()
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        if auth is not None:
            self.client.username_pw_set(*auth)
        self.client.on_connect = lambda c, *_: c.subscribe([(topic, 1), (self._barrier_topic, 1)])
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("collector did not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._changed:
            if msg.topic == self._barrier_topic:
                self._barriers.add(bytes(msg.payload))
            elif not msg.topic.startswith(BARRIER_PREFIX + "/"):
                self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._changed.notify_all()

    def on(self, topic: str) -> list[Message]:
        with self._changed:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Message], bool] = lambda m: True,
        timeout: float = 10.0,
    ) -> Message:
        """The first message on `topic` matching `predicate`, waiting (bounded) for it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages:
                    if message.topic == topic and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({m.topic for m in self.messages})
                    raise AssertionError(f"no matching message on {topic}; topics seen: {seen}")
                self._changed.wait(remaining)

    def barrier(self, timeout: float = 10.0) -> None:
        """Wait until everything the broker had for this collector before now has arrived
        (a marker sent through the broker comes back after it), so that a message that has
        not arrived by then is not coming."""
        marker = uuid.uuid4().bytes
        self.client.publish(self._barrier_topic, marker, qos=1)
        with self._changed:
            if not self._changed.wait_for(lambda: marker in self._barriers, timeout):
                raise AssertionError("the broker did not echo the barrier marker")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def collectors() -> Iterator[list[Collector]]:
    """The subscribers a test made with `collect`, closed after it."""
    made: list[Collector] = []
    yield made
    for collector in made:
        collector.close()


def collect(collectors: list[Collector], port: int, topic: str = "#") -> Collector:
    collector = Collector(port, topic)
    collectors.append(collector)
    return collector


def retained(collectors: list[Collector], port: int, topic: str) -> Message:
    """The retained message on `topic` once camwatch has (re)published it. `connected` turns
    true just before camwatch's messages go out, so a subscriber then may see them arrive
    live; one subscribing after the broker has passed one on must find it retained."""
    collect(collectors, port, topic).wait_for(topic)
    return collect(collectors, port, topic).wait_for(topic)
