"""build_service: listeners, hooks, MQTT and /metrics are turned on by the config."""

from __future__ import annotations

import json

from camwatch.config import HooksConfig, MqttConfig
from camwatch.events import EventRecord
from camwatch.hooks import HookRunner
from camwatch.mqtt import MqttPublisher
from camwatch.notify import Listeners
from camwatch.wiring import build_service
from tests.broker import Collector, Mosquitto
from tests.support import ServerThread, demo_config, wait_until


def test_without_hooks_or_mqtt_there_are_only_listeners_and_metrics(tmp_path):
    service = build_service(demo_config(str(tmp_path)))
    listeners = service.context.services["listeners"]
    assert isinstance(listeners, Listeners) and listeners.items == []
    assert service.components == []
    assert "metrics" in service.context.services


def test_events_reach_hooks_and_mqtt_through_the_shared_listeners(tmp_path):
    broker = Mosquitto(tmp_path).start()
    config = demo_config(str(tmp_path / "data"))
    config.mqtt = MqttConfig(host="127.0.0.1", port=broker.port)
    config.hooks = HooksConfig(on_event_start=f"echo $CAMWATCH_EVENT_ID > {tmp_path}/hook")
    collector = Collector(broker.port, "camwatch/cam/#")
    try:
        with ServerThread(config) as server:
            assert server.service is not None
            services = server.service.context.services
            kinds = [type(listener) for listener in services["listeners"].items]
            assert kinds == [HookRunner, MqttPublisher]
            assert all(c in server.service.components for c in services["listeners"].items)
            wait_until(lambda: services["mqtt"].connected, message="mqtt connected")
            record = EventRecord(id="0123456789ab", camera="cam", started_at=1795512600.0,
                                 ended_at=None, frames=0, motion_frames=5, peak_delta=1.0,
                                 video_path="clips/cam/x.mp4", thumbnail_path="clips/cam/x.jpg")
            services["listeners"].motion_changed("cam", True)
            services["listeners"].event_started(record)
            collector.wait_for("camwatch/cam/motion", lambda m: m.text == "ON")
            event = collector.wait_for("camwatch/cam/events")
            wait_until(lambda: (tmp_path / "hook").exists(), message="hook ran")
    finally:
        collector.close()
        broker.stop()
    assert json.loads(event.payload)["id"] == "0123456789ab"
    assert (tmp_path / "hook").read_text().strip() == "0123456789ab"
