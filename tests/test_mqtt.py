"""MqttPublisher against a real mosquitto: availability, motion, events, discovery, reconnects."""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.publish
import pytest

from camwatch import __version__
from camwatch.config import Config, ConfigError, MqttConfig, ServerConfig, config_from_mapping
from camwatch.integrations.discovery import discovery_messages, node_id, server_base_url
from camwatch.integrations.mqtt import MqttPublisher
from camwatch.recording.index import EventRecord
from camwatch.service import Service
from camwatch.wiring import build_service
from tests.helpers.broker import Mosquitto, collect, retained
from tests.helpers.certs import self_signed
from tests.helpers.ha_schema import discovery_problems
from tests.helpers.processes import free_port
from tests.helpers.support import ServerThread, demo_config, wait_until

DISCOVERY_TOPIC = re.compile(
    r"^homeassistant/(binary_sensor|image|event|switch|sensor)/[a-zA-Z0-9_-]+/"
    r"[a-zA-Z0-9_-]+/config$"
)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path).start()
    yield server
    server.stop()


def mqtt_config(port: int, prefix: str = "camwatch") -> MqttConfig:
    return MqttConfig(host="127.0.0.1", port=port, topic_prefix=prefix)


def publisher_for(
    config: MqttConfig, data_dir: Path, cameras: list[str] | None = None
) -> MqttPublisher:
    return MqttPublisher(
        config, cameras or ["front"], data_dir, base_url="http://camhost:8100", reconnect_max_s=1
    )


def event_record(data_dir: Path, camera: str = "front") -> EventRecord:
    """A real record with a thumbnail file, as the recorder makes them."""
    thumbnail = data_dir / "clips" / camera / "2026-11-24" / f"{camera}-20261124-093000-ab12.jpg"
    thumbnail.parent.mkdir(parents=True, exist_ok=True)
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0fake jpeg for the test\xff\xd9")
    return EventRecord(
        id="ab12cd34ef56",
        camera=camera,
        started_at=1795512600.0,
        ended_at=None,
        frames=0,
        motion_frames=6,
        peak_delta=4.5,
        video_path=str(thumbnail.with_suffix(".mp4").relative_to(data_dir)),
        thumbnail_path=str(thumbnail.relative_to(data_dir)),
    )


def test_availability_is_online_while_running_and_offline_after_stop(tmp_path, broker, collectors):
    watcher = collect(collectors, broker.port, "camwatch/available")
    publisher = publisher_for(mqtt_config(broker.port), tmp_path)
    publisher.start()
    try:
        watcher.wait_for("camwatch/available", lambda m: m.text == "online")
    finally:
        publisher.stop()
    watcher.wait_for("camwatch/available", lambda m: m.text == "offline")
    late = collect(collectors, broker.port, "camwatch/available")
    retained = late.wait_for("camwatch/available")
    assert (retained.text, retained.retain) == ("offline", True)


def test_last_will_says_offline_when_the_process_dies(tmp_path, broker, collectors):
    script = (
        "import sys, time\n"
        "from camwatch.config import MqttConfig\n"
        "from camwatch.integrations.mqtt import MqttPublisher\n"
        f"p = MqttPublisher(MqttConfig(host='127.0.0.1', port={broker.port}), ['front'], '.', "
        "base_url='http://x:1')\n"
        "p.start()\n"
        "time.sleep(60)\n"
    )
    watcher = collect(collectors, broker.port, "camwatch/available")
    child = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parent.parent)
    try:
        watcher.wait_for("camwatch/available", lambda m: m.text == "online", timeout=20)
        child.kill()  # no clean disconnect: the broker must publish the will
        child.wait(10)
        watcher.wait_for("camwatch/available", lambda m: m.text == "offline")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_motion_goes_on_then_off_around_an_event_with_events_json(tmp_path, broker, collectors):
    watcher = collect(collectors, broker.port, "camwatch/front/#")
    publisher = publisher_for(mqtt_config(broker.port), tmp_path)
    publisher.start()
    try:
        wait_until(lambda: publisher.connected, message="publisher connected")
        watcher.wait_for("camwatch/front/motion", lambda m: m.text == "OFF")  # initial state
        record = event_record(tmp_path)
        publisher.motion_changed("front", True)
        publisher.event_started(record)
        record.ended_at, record.frames, record.size_bytes = record.started_at + 12.5, 125, 4096
        record.status = "complete"
        publisher.event_ended(record)
        publisher.motion_changed("front", False)
        watcher.wait_for("camwatch/front/events", lambda m: json.loads(m.payload)["type"] == "end")
        watcher.wait_for("camwatch/front/thumbnail")
        wait_until(
            lambda: (
                [m.text for m in watcher.on("camwatch/front/motion")][-1:] == ["OFF"]
                and len(watcher.on("camwatch/front/motion")) >= 3
            ),
            message="motion OFF",
        )
    finally:
        publisher.stop()

    assert [m.text for m in watcher.on("camwatch/front/motion")] == ["OFF", "ON", "OFF"]
    start, end = [json.loads(m.payload) for m in watcher.on("camwatch/front/events")]
    assert start["type"] == "start" and start["ended_at"] is None
    assert (start["event_type"], end["event_type"]) == ("motion_start", "motion_end")
    assert start["started_at"] == "2026-11-24T09:30:00.000Z"
    assert end["type"] == "end" and end["ended_at"] == "2026-11-24T09:30:12.500Z"
    assert end["duration_s"] == 12.5 and end["frames"] == 125 and end["size_bytes"] == 4096
    assert end["id"] == "ab12cd34ef56" and end["camera"] == "front"
    assert end["video_url"] == "/media/ab12cd34ef56.mp4"
    assert end["thumbnail_url"] == "/media/ab12cd34ef56.jpg"
    thumbnail = watcher.on("camwatch/front/thumbnail")[0].payload
    assert thumbnail == (tmp_path / record.thumbnail_path).read_bytes()

    late = collect(collectors, broker.port, "camwatch/front/#")
    assert late.wait_for("camwatch/front/motion").retain
    assert late.wait_for("camwatch/front/thumbnail").retain
    late.barrier()
    assert late.on("camwatch/front/events") == []  # events are not retained


def test_discovery_configs_are_retained_and_what_home_assistant_expects(
    tmp_path, broker, collectors
):
    publisher = publisher_for(mqtt_config(broker.port), tmp_path, ["front", "back"])
    publisher.start()
    try:
        wait_until(lambda: publisher.connected, message="publisher connected")
        # `connected` turns true just before the configs go out: a subscriber then may get
        # them live; one subscribing once the broker has passed all six on gets them retained
        first = collect(collectors, broker.port, "homeassistant/#")
        wait_until(lambda: len(first.messages) == 6, message="6 discovery configs sent")
        ha = collect(collectors, broker.port, "homeassistant/#")
        motion = json.loads(
            ha.wait_for("homeassistant/binary_sensor/camwatch/front_motion/config").payload
        )
        image = json.loads(
            ha.wait_for("homeassistant/image/camwatch/front_last_event/config").payload
        )
        wait_until(lambda: len(ha.messages) == 6, message="6 discovery configs")
    finally:
        publisher.stop()

    assert all(m.retain and DISCOVERY_TOPIC.match(m.topic) for m in ha.messages)
    for message in ha.messages:
        assert discovery_problems(message.topic, json.loads(message.payload)) == []
    assert motion["device_class"] == "motion"
    assert motion["state_topic"] == "camwatch/front/motion"
    assert (motion["payload_on"], motion["payload_off"]) == ("ON", "OFF")
    assert image["image_topic"] == "camwatch/front/thumbnail"
    assert image["content_type"] == "image/jpeg" and "url_topic" not in image
    for entity in (motion, image):
        assert entity["availability_topic"] == "camwatch/available"
        assert (entity["payload_available"], entity["payload_not_available"]) == (
            "online",
            "offline",
        )
        assert entity["device"] == {
            "identifiers": ["camwatch_front"],
            "name": "front",
            "manufacturer": "camwatch",
            "model": "camwatch camera",
            "sw_version": __version__,
            "configuration_url": "http://camhost:8100",
        }
    unique_ids = [json.loads(m.payload)["unique_id"] for m in ha.messages]
    assert sorted(unique_ids) == [
        "camwatch_back_events",
        "camwatch_back_last_event",
        "camwatch_back_motion",
        "camwatch_front_events",
        "camwatch_front_last_event",
        "camwatch_front_motion",
    ]


MOTION_CONFIG = "homeassistant/binary_sensor/camwatch/front_motion/config"


def test_discovery_is_sent_again_when_home_assistant_says_online(tmp_path, broker, collectors):
    publisher = publisher_for(mqtt_config(broker.port), tmp_path)
    publisher.start()
    try:
        wait_until(lambda: publisher.connected, message="publisher connected")
        retained(collectors, broker.port, MOTION_CONFIG)  # the first copy is on the broker
        ha = collect(collectors, broker.port, "homeassistant/binary_sensor/#")
        ha.wait_for(MOTION_CONFIG, lambda m: m.retain)
        paho.mqtt.publish.single(
            "homeassistant/status", "online", hostname="127.0.0.1", port=broker.port
        )
        fresh = ha.wait_for(MOTION_CONFIG, lambda m: not m.retain)  # live, not the retained one
    finally:
        publisher.stop()
    assert json.loads(fresh.payload)["device_class"] == "motion"


def test_hosts_with_distinct_prefixes_share_a_broker_without_colliding(
    tmp_path, broker, collectors
):
    publishers = [
        publisher_for(mqtt_config(broker.port, prefix), tmp_path)
        for prefix in ("camwatch/garage", "camwatch-porch")
    ]
    for publisher in publishers:
        publisher.start()
    try:
        wait_until(lambda: all(p.connected for p in publishers), message="both connected")
        ha = collect(collectors, broker.port, "homeassistant/#")
        wait_until(lambda: len(ha.messages) == 6, message="both hosts' discovery")
        states = collect(collectors, broker.port, "+/+/+/motion")
        states.wait_for("camwatch/garage/front/motion")
        publishers[1].motion_changed("front", True)
        collect(collectors, broker.port, "camwatch-porch/front/motion").wait_for(
            "camwatch-porch/front/motion", lambda m: m.text == "ON"
        )
    finally:
        for publisher in publishers:
            publisher.stop()
    configs = [json.loads(m.payload) for m in ha.messages]
    assert len({m.topic for m in ha.messages}) == 6
    assert len({c["unique_id"] for c in configs}) == 6
    assert {c["device"]["identifiers"][0] for c in configs} == {
        "camwatch_garage_front",
        "camwatch-porch_front",
    }
    state_topics = {c["state_topic"] for c in configs if c.get("device_class") == "motion"}
    assert state_topics == {
        "camwatch/garage/front/motion",
        "camwatch-porch/front/motion",
        "camwatch/garage/front/events",
        "camwatch-porch/front/events",
    }
    assert states.on("camwatch/garage/front/motion")[-1].text == "OFF"


def test_broker_down_at_start_then_up_connects_while_the_camera_keeps_capturing(
    tmp_path, collectors
):
    port = free_port()
    config = demo_config(str(tmp_path))
    config.mqtt = mqtt_config(port)

    def fast_reconnect(config: Config) -> Service:
        service = build_service(config)
        service.context.mqtt.reconnect_max_s = 1
        return service

    broker = Mosquitto(tmp_path, port)
    try:
        with ServerThread(config, fast_reconnect) as server:
            assert server.service is not None
            camera = server.service.context.cameras["cam"]
            publisher = server.service.context.mqtt
            wait_until(lambda: camera.state.frames_captured > 5, message="capturing")
            before = camera.state.frames_captured
            publisher.motion_changed("cam", True)  # nowhere to send it: must not block or fail
            publisher.event_started(event_record(tmp_path, "cam"))
            wait_until(
                lambda: camera.state.frames_captured > before + 5,
                message="still capturing with the broker down",
            )
            assert not publisher.connected
            broker.start()
            wait_until(lambda: publisher.connected, timeout=15, message="connected once up")
            watcher = collect(collectors, port, "camwatch/#")
            assert watcher.wait_for("camwatch/available").text == "online"
            assert watcher.wait_for("camwatch/cam/motion").text == "ON"  # the current state
            assert camera.state.online
    finally:
        broker.stop()


def test_the_broker_connection_sends_small_packets_at_once(tmp_path, broker):
    """A switch's state answers its command without waiting out Nagle's algorithm (about 40 ms
    per command with the broker's delayed ACKs; bench/mqtt_control.py measures it)."""
    publisher = publisher_for(mqtt_config(broker.port), tmp_path)
    publisher.start()
    try:
        wait_until(lambda: publisher.connected, message="publisher connected")
        sock = publisher.client.socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        publisher.stop()


def test_tls_with_a_login_connects_only_to_a_broker_whose_certificate_it_trusts(
    tmp_path, monkeypatch, caplog
):
    cert, key = self_signed(tmp_path)
    other_ca, _ = self_signed(tmp_path, "-other")
    broker = Mosquitto(tmp_path, tls=(cert, key), users={"camwatch": "mqtt-pass"}).start()
    config = MqttConfig(
        host="127.0.0.1", port=broker.port, tls=True, username="camwatch", password="mqtt-pass"
    )
    try:
        # the system's certificate authorities, as far as OpenSSL is concerned
        monkeypatch.setenv("SSL_CERT_FILE", str(other_ca))
        untrusting = publisher_for(config, tmp_path)
        untrusting.start()
        try:
            wait_until(lambda: "cannot reach broker" in caplog.text, message="the failure reported")
            assert not untrusting.connected
        finally:
            untrusting.stop()
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        trusting = publisher_for(config, tmp_path)
        trusting.start()
        try:
            wait_until(lambda: trusting.connected, message="connected over TLS")
            sock = trusting.client.socket()
            assert isinstance(sock, ssl.SSLSocket) and sock.version() in ("TLSv1.2", "TLSv1.3")
        finally:
            trusting.stop()
    finally:
        broker.stop()


def test_node_id_and_base_url():
    assert node_id("camwatch/garage") == "camwatch_garage"
    assert node_id("//") == "camwatch"
    server = ServerConfig(host="0.0.0.0", port=8100)
    assert server_base_url(server, "pi4") == "http://pi4:8100"
    assert (
        server_base_url(ServerConfig(host="192.168.1.5", port=80, certfile="c.pem"))
        == "https://192.168.1.5:80"
    )
    assert server_base_url(ServerConfig(host="::1", port=8100)) == "http://[::1]:8100"


def test_discovery_device_name_carries_a_non_default_prefix():
    messages = discovery_messages(MqttConfig(topic_prefix="garage"), ["front"], "http://h:1")
    assert {payload["device"]["name"] for _, payload in messages} == {"garage front"}


@pytest.mark.parametrize("prefix", ["a/#", "cams/+/x", "", "/camwatch", "camwatch/", "my cams"])
def test_topic_prefixes_that_cannot_be_published_under_are_config_errors(prefix):
    with pytest.raises(ConfigError, match=r"^mqtt\.topic_prefix: expected"):
        config_from_mapping({"mqtt": {"topic_prefix": prefix}})


def test_ordinary_topic_prefixes_are_accepted():
    for prefix in ("camwatch", "home/garage/camwatch", "c"):
        config = config_from_mapping({"mqtt": {"topic_prefix": prefix}})
        assert config.mqtt is not None and config.mqtt.topic_prefix == prefix


def test_stopping_while_the_broker_is_unreachable_returns_promptly(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="camwatch")
    publisher = publisher_for(mqtt_config(free_port()), tmp_path)
    publisher.start()
    wait_until(lambda: "cannot reach broker" in caplog.text, message="a failed connection")
    stopper = threading.Thread(target=publisher.stop)
    stopper.start()
    stopper.join(5)  # well inside systemd's TimeoutStopSec=15
    assert not stopper.is_alive()
    assert not publisher.connected
