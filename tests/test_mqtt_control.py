"""Home Assistant control over MQTT, with the real service and a real mosquitto: the detect and
recordings switches, their retained state across restarts, bad commands, the fps sensor and the
discovery configs checked against Home Assistant's schemas."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import paho.mqtt.publish
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.exception import MQTTException

from camwatch.config import Config, MqttConfig
from camwatch.integrations.commands import MIN_COMMAND_INTERVAL_S
from camwatch.integrations.mqtt import MqttPublisher
from camwatch.recording.index import EventStore
from camwatch.recording.switches import CameraSwitches
from camwatch.service import Service
from camwatch.wiring import build_service
from tests.helpers.broker import Collector, Mosquitto, collect, retained
from tests.helpers.clips import write_clip
from tests.helpers.ha_schema import discovery_problems
from tests.helpers.http_client import request
from tests.helpers.support import ServerThread, demo_config, store_of, wait_until

FPS_INTERVAL_S = 0.5
README = Path(__file__).resolve().parent.parent / "README.md"
ACL_HEADING = "# /etc/mosquitto/camwatch.acl"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path, log_subscriptions=True).start()
    yield server
    server.stop()


def config_for(data_dir: Path, port: int) -> Config:
    config = demo_config(str(data_dir), fps=5, width=160, height=120)
    config.mqtt = MqttConfig(host="127.0.0.1", port=port)
    return config


def quick_mqtt(config: Config) -> Service:
    """The real wiring, with fast reconnects and a fast fps sensor."""
    service = build_service(config)
    publisher = service.context.mqtt
    publisher.reconnect_max_s = 1
    publisher.fps_interval_s = FPS_INTERVAL_S
    return service


def send(
    port: int,
    topic: str,
    payload: str,
    *,
    retain: bool = False,
    auth: tuple[str, str] | None = None,
) -> None:
    """Publish and return once the broker has acknowledged (QoS 1)."""
    login = None if auth is None else {"username": auth[0], "password": auth[1]}
    paho.mqtt.publish.single(
        topic, payload, qos=1, retain=retain, hostname="127.0.0.1", port=port, auth=login
    )


def publisher_of(server: ServerThread) -> MqttPublisher:
    assert server.service is not None
    return server.service.context.mqtt


def last(collector: Collector, topic: str) -> str | None:
    messages = collector.on(topic)
    return messages[-1].text if messages else None


def switch_state(server: ServerThread) -> tuple[bool, bool]:
    camera = request(server.port, "GET", "/api/cameras/cam").json()
    return camera["detect"], camera["recordings"]


def test_commands_are_applied_saved_and_echoed(tmp_path, broker, collectors):
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected")
        state = collect(collectors, broker.port, "camwatch/cam/+")
        assert state.wait_for("camwatch/cam/detect").text == "ON"
        assert state.wait_for("camwatch/cam/recordings").text == "ON"

        send(broker.port, "camwatch/cam/detect/set", "OFF")
        state.wait_for("camwatch/cam/detect", lambda m: m.text == "OFF")
        assert switch_state(server) == (False, True)
        assert server.service.context.cameras["cam"].config.motion.enabled is False
        assert store_of(server).motion_overrides("cam").settings == {"enabled": False}

        send(broker.port, "camwatch/cam/recordings/set", "OFF")
        state.wait_for("camwatch/cam/recordings", lambda m: m.text == "OFF")
        assert switch_state(server) == (False, False)
        assert store_of(server).camera_switches("cam").recordings is False

        send(broker.port, "camwatch/cam/detect/set", "ON")
        wait_until(lambda: last(state, "camwatch/cam/detect") == "ON", message="detect ON")
        assert switch_state(server) == (True, False)
        # each change publishes both states: recordings was sent at connect and on each change
        recordings = ["ON", "ON", "OFF", "OFF"]
        wait_until(lambda: len(state.on("camwatch/cam/recordings")) == 4, message="4 states")
        # a command that changes nothing is answered too (Home Assistant waits for the state)
        send(broker.port, "camwatch/cam/recordings/set", "OFF")
        wait_until(lambda: len(state.on("camwatch/cam/recordings")) == 5, message="the echo")
        assert [m.text for m in state.on("camwatch/cam/recordings")] == [*recordings, "OFF"]


def test_changes_from_the_api_and_the_web_ui_are_published(tmp_path, broker, collectors):
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected")
        state = collect(collectors, broker.port, "camwatch/cam/+")
        state.wait_for("camwatch/cam/recordings", lambda m: m.text == "ON")
        response = request(server.port, "PATCH", "/api/cameras/cam", {"recordings": False})
        assert response.status == 200
        message = state.wait_for("camwatch/cam/recordings", lambda m: m.text == "OFF")
        assert message.retain is False  # a live copy: retained ones go to new subscribers
        # the settings form saves detection through PATCH .../motion
        request(server.port, "PATCH", "/api/cameras/cam/motion", {"enabled": False})
        state.wait_for("camwatch/cam/detect", lambda m: m.text == "OFF")
        late = collect(collectors, broker.port, "camwatch/cam/+")
        for topic in ("camwatch/cam/detect", "camwatch/cam/recordings"):
            retained = late.wait_for(topic)
            assert (retained.text, retained.retain) == ("OFF", True)


def test_state_is_retained_again_after_camwatch_restarts(tmp_path, broker, collectors):
    config = config_for(tmp_path / "data", broker.port)
    with ServerThread(config, quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected")
        state = collect(collectors, broker.port, "camwatch/cam/+")
        send(broker.port, "camwatch/cam/recordings/set", "OFF")
        state.wait_for("camwatch/cam/recordings", lambda m: m.text == "OFF")
    # while camwatch is down, clear what the broker kept: the next start must say it again
    for topic in ("camwatch/cam/recordings", "camwatch/cam/detect"):
        send(broker.port, topic, "", retain=True)
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected again")
        assert switch_state(server) == (True, False)
        recordings = retained(collectors, broker.port, "camwatch/cam/recordings")
        assert (recordings.text, recordings.retain) == ("OFF", True)
        detect = retained(collectors, broker.port, "camwatch/cam/detect")
        assert (detect.text, detect.retain) == ("ON", True)


def test_state_is_retained_again_and_commands_work_after_a_broker_restart(tmp_path, collectors):
    broker = Mosquitto(tmp_path, log_subscriptions=True).start()
    try:
        with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
            publisher = publisher_of(server)
            wait_until(lambda: publisher.listening, message="connected")
            send(broker.port, "camwatch/cam/detect/set", "OFF")
            wait_until(lambda: switch_state(server) == (False, True), message="detection off")
            broker.stop()  # no persistence: the retained state is gone with it
            wait_until(lambda: not publisher.connected, message="disconnected")
            broker.start()
            wait_until(lambda: publisher.listening, timeout=15, message="reconnected")
            detect = retained(collectors, broker.port, "camwatch/cam/detect")
            assert (detect.text, detect.retain) == ("OFF", True)
            late = collect(collectors, broker.port, "camwatch/cam/+")
            send(broker.port, "camwatch/cam/detect/set", "ON")  # subscribed again too
            late.wait_for("camwatch/cam/detect", lambda m: m.text == "ON")
            assert switch_state(server) == (True, True)
    finally:
        broker.stop()


def test_bad_commands_are_ignored_and_logged_once_per_topic_and_kind(
    tmp_path, broker, collectors, caplog
):
    caplog.set_level(logging.WARNING, logger="camwatch.integrations.commands")
    # left on the broker by a careless client: must not switch recordings off at each connect
    send(broker.port, "camwatch/cam/recordings/set", "OFF", retain=True)
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        publisher = publisher_of(server)
        wait_until(lambda: publisher.listening, message="connected")
        state = collect(collectors, broker.port, "camwatch/cam/+")
        for _ in range(30):
            for payload in ("on", "off", "TOGGLE", "1", "", "ON " * 500):
                send(broker.port, "camwatch/cam/detect/set", payload)
        send(broker.port, "camwatch/cam/recordings/set", "maybe")
        for topic in ("camwatch/cam/detect/set/x", "camwatch/cam/motion/set", "camwatch/cam/set"):
            send(broker.port, topic, "OFF")  # not command topics: never even received
        send(broker.port, "camwatch/cam/detect", "OFF")  # nor is the state topic
        # the broker passes them on in order: once this change is seen, all of the above were
        send(broker.port, "camwatch/cam/recordings/set", "OFF")
        state.wait_for("camwatch/cam/recordings", lambda m: m.text == "OFF")
        assert switch_state(server) == (True, False)
        assert publisher._commands.ignored == 30 * 6 + 1 + 1
    ignored = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert sorted(ignored) == [
        "mqtt: ignoring a payload other than ON or OFF on camwatch/cam/detect/set "
        "(logged once per topic)",
        "mqtt: ignoring a payload other than ON or OFF on camwatch/cam/recordings/set "
        "(logged once per topic)",
        "mqtt: ignoring a retained command left on the broker (publish commands without "
        "retain) on camwatch/cam/recordings/set (logged once per topic)",
        "mqtt: ignoring an empty payload (expected ON or OFF) on camwatch/cam/detect/set "
        "(logged once per topic)",
    ]


def test_a_flood_of_commands_is_applied_a_few_times_a_second_ending_on_the_last(
    tmp_path, broker, caplog
):
    caplog.set_level(logging.INFO, logger="camwatch.recording.switches")
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected")
        flooder = mqtt.Client(CallbackAPIVersion.VERSION2)
        flooder.connect("127.0.0.1", broker.port)
        flooder.loop_start()
        try:
            started = time.monotonic()
            # QoS 1: the broker keeps one client's messages in order. Fewer than mosquitto's
            # max_queued_messages (1000): beyond that a broker drops what a busy subscriber has
            # not taken yet, and the last commands could be among them on a loaded machine.
            for i in range(800):
                flooder.publish("camwatch/cam/recordings/set", "ON" if i % 2 else "OFF", qos=1)
            flooder.publish("camwatch/cam/recordings/set", "OFF", qos=1)
            # detection off marks the end: the flood can pass through recordings OFF on its way
            flooder.publish("camwatch/cam/detect/set", "OFF", qos=1).wait_for_publish(30)
            wait_until(
                lambda: switch_state(server) == (False, False),
                timeout=30,
                message="the last commands",
            )
            elapsed = time.monotonic() - started
        finally:
            flooder.disconnect()
            flooder.loop_stop()
    changes = [r for r in caplog.records if "recordings turned" in r.getMessage()]
    assert 1 <= len(changes) <= elapsed / MIN_COMMAND_INTERVAL_S + 2
    saved = EventStore(tmp_path / "data")  # the last command is the one kept
    try:
        assert saved.camera_switches("cam").recordings is False
    finally:
        saved.close()


def test_camwatch_subscribes_to_exactly_the_command_topics(tmp_path, broker):
    cameras = demo_config(str(tmp_path)).cameras
    config = config_for(tmp_path / "data", broker.port)
    config.cameras = [cameras[0]]
    config.cameras.append(
        type(cameras[0])(name="yard", source="demo", fps=2, width=160, height=120)
    )
    with ServerThread(config, quick_mqtt) as server:
        publisher = publisher_of(server)
        wait_until(lambda: publisher.listening, message="connected")
        expected = {
            "camwatch/cam/detect/set",
            "camwatch/cam/recordings/set",
            "camwatch/yard/detect/set",
            "camwatch/yard/recordings/set",
            "homeassistant/status",
        }
        # all in the one SUBSCRIBE sent on connecting (no wildcard, nothing after it)
        wait_until(
            lambda: broker.subscriptions(publisher.client_id) == expected, message="subscriptions"
        )


def test_recordings_off_still_publishes_motion_but_writes_no_clip_or_event(
    tmp_path, broker, collectors
):
    data_dir = tmp_path / "data"
    saved = EventStore(data_dir)  # switched off at an earlier run
    saved.save_camera_switches("cam", CameraSwitches(recordings=False))
    saved.close()
    video = write_clip(tmp_path / "motion.mp4", 6.0, [(1.0, 3.5)], width=160, height=120)
    config = config_for(data_dir, broker.port)
    config.cameras[0].source = str(video)
    config.cameras[0].fps = 10
    config.cameras[0].motion.stable_frames = 5
    watcher = collect(collectors, broker.port, "camwatch/cam/#")
    with ServerThread(config, quick_mqtt) as server:
        watcher.wait_for("camwatch/cam/motion", lambda m: m.text == "ON", timeout=20)
        watcher.wait_for(
            "camwatch/cam/motion",
            lambda m: m.text == "OFF" and len(watcher.on("camwatch/cam/motion")) > 2,
            timeout=20,
        )
        assert switch_state(server) == (True, False)
        assert request(server.port, "GET", "/api/events").json() == []
    motion = [m.text for m in watcher.on("camwatch/cam/motion")]
    assert motion[-2:] == ["ON", "OFF"]
    assert watcher.on("camwatch/cam/events") == [] and watcher.on("camwatch/cam/thumbnail") == []
    assert [p for p in data_dir.rglob("*") if p.suffix in (".mp4", ".jpg")] == []


def test_fps_is_published_periodically_not_per_frame(tmp_path, broker, collectors):
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected")
        camera = server.service.context.cameras["cam"]
        wait_until(lambda: camera.state.fps > 3, message="measuring fps")
        fps = collect(collectors, broker.port, "camwatch/cam/fps")
        started = time.monotonic()
        wait_until(lambda: len(fps.on("camwatch/cam/fps")) >= 4, message="four fps readings")
        elapsed = time.monotonic() - started
        frames = camera.state.frames_captured
    readings = fps.on("camwatch/cam/fps")
    assert all(not m.retain for m in readings)
    assert 3.0 < float(readings[-1].text) < 7.0  # a 5 fps demo camera
    assert len(readings) <= elapsed / FPS_INTERVAL_S + 2 < frames


def test_every_discovery_config_the_service_publishes_is_valid(tmp_path, broker, collectors):
    with ServerThread(config_for(tmp_path / "data", broker.port), quick_mqtt) as server:
        wait_until(lambda: publisher_of(server).listening, message="connected")
        first = collect(collectors, broker.port, "homeassistant/#")
        wait_until(lambda: len(first.messages) == 6, message="six discovery configs")
        ha = collect(collectors, broker.port, "homeassistant/#")  # now all of them retained
        wait_until(lambda: len(ha.messages) == 6, message="six retained configs")
        ha.barrier()  # and no seventh
    assert len(ha.messages) == 6
    for message in ha.messages:
        assert message.retain
        assert discovery_problems(message.topic, json.loads(message.payload)) == [], message.topic
    platforms = sorted(m.topic.split("/")[1] for m in ha.messages)
    assert platforms == ["binary_sensor", "event", "image", "sensor", "switch", "switch"]


def readme_acl() -> str:
    """The mosquitto acl_file the README recommends, as it is written there."""
    after = README.read_text().split(ACL_HEADING, 1)[1]
    return ACL_HEADING + after.split("```", 1)[0]


def test_the_readmes_acl_lets_home_assistant_switch_cameras_and_no_one_else(tmp_path, collectors):
    logins = {"camwatch": "cw-pass", "homeassistant": "ha-pass", "guest": "guest-pass"}
    broker = Mosquitto(tmp_path, users=logins, acl=readme_acl()).start()
    home_assistant, guest = ("homeassistant", "ha-pass"), ("guest", "guest-pass")
    config = config_for(tmp_path / "data", broker.port)
    assert config.mqtt is not None
    config.mqtt.username, config.mqtt.password = "camwatch", "cw-pass"
    try:
        with ServerThread(config, quick_mqtt) as server:
            wait_until(lambda: publisher_of(server).listening, message="connected with a login")
            ha = Collector(broker.port, "#", auth=home_assistant)
            collectors.append(ha)
            ha.wait_for("homeassistant/switch/camwatch/cam_detect/config")
            ha.wait_for("camwatch/cam/detect", lambda m: m.text == "ON")
            watcher = Collector(broker.port, "camwatch/#", auth=guest)
            collectors.append(watcher)
            watcher.wait_for("camwatch/cam/detect")  # may watch

            send(broker.port, "camwatch/cam/detect/set", "OFF", auth=guest)  # dropped
            send(broker.port, "camwatch/cam/recordings/set", "OFF", auth=home_assistant)
            ha.wait_for("camwatch/cam/recordings", lambda m: m.text == "OFF")
            assert switch_state(server) == (True, False)  # the guest's command never arrived
            assert {m.text for m in ha.on("camwatch/cam/detect")} == {"ON"}
            with pytest.raises(MQTTException):
                send(broker.port, "camwatch/cam/detect/set", "OFF")  # no anonymous access
    finally:
        broker.stop()
