"""build_service: listeners, hooks, MQTT and /metrics are turned on by the config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from camwatch.config import CameraConfig, HooksConfig, MqttConfig
from camwatch.integrations.hooks import HookRunner
from camwatch.integrations.listeners import Listeners
from camwatch.integrations.mqtt import MqttPublisher
from camwatch.recording.activity import ActivityLog
from camwatch.recording.index import EventRecord, EventStore
from camwatch.recording.retention import RetentionService
from camwatch.wiring import RecorderComponent, build_service
from tests.helpers.broker import Collector, Mosquitto
from tests.helpers.clips import write_clip
from tests.helpers.support import ServerThread, demo_config, wait_until


def test_without_hooks_or_mqtt_there_are_only_listeners_recorders_events_and_metrics(tmp_path):
    service = build_service(demo_config(str(tmp_path)))
    context = service.context
    assert isinstance(context.listeners, Listeners) and context.listeners.items == []
    # the activity log stops after the recorders (reverse order): it writes their last seconds
    kinds = [RetentionService, ActivityLog, RecorderComponent]
    assert [type(c) for c in service.components] == kinds
    assert isinstance(context.events, EventStore)
    assert context.metrics is not None
    assert context.mqtt is None and context.hooks is None


@pytest.mark.parametrize("record", ["events", "continuous"])
def test_the_camera_s_record_crf_reaches_the_writers_of_its_footage(tmp_path, record):
    config = demo_config(str(tmp_path))
    config.cameras[0].record, config.cameras[0].record_crf = record, 31
    service = build_service(config)
    recorders = [c.recorder for c in service.components if isinstance(c, RecorderComponent)]
    assert recorders and all(recorder.crf == 31 for recorder in recorders)


def test_events_reach_hooks_and_mqtt_through_the_shared_listeners(tmp_path):
    broker = Mosquitto(tmp_path).start()
    config = demo_config(str(tmp_path / "data"))
    config.mqtt = MqttConfig(host="127.0.0.1", port=broker.port)
    config.hooks = HooksConfig(on_event_start=f"echo $CAMWATCH_EVENT_ID > {tmp_path}/hook")
    collector = Collector(broker.port, "camwatch/cam/#")
    try:
        with ServerThread(config) as server:
            assert server.service is not None
            context = server.service.context
            listeners, publisher = context.listeners, context.mqtt
            assert [type(listener) for listener in listeners.items] == [HookRunner, MqttPublisher]
            assert listeners.items == [context.hooks, publisher]
            assert all(c in server.service.components for c in listeners.items)
            assert publisher is not None
            wait_until(lambda: publisher.connected, message="mqtt connected")
            record = EventRecord(
                id="0123456789ab",
                camera="cam",
                started_at=1795512600.0,
                ended_at=None,
                frames=0,
                motion_frames=5,
                peak_delta=1.0,
                video_path="clips/cam/x.mp4",
                thumbnail_path="clips/cam/x.jpg",
            )
            listeners.motion_changed("cam", True)
            listeners.event_started(record)
            collector.wait_for("camwatch/cam/motion", lambda m: m.text == "ON")
            event = collector.wait_for("camwatch/cam/events")
            wait_until(lambda: (tmp_path / "hook").exists(), message="hook ran")
    finally:
        collector.close()
        broker.stop()
    assert json.loads(event.payload)["id"] == "0123456789ab"
    assert (tmp_path / "hook").read_text().strip() == "0123456789ab"


@pytest.mark.slow
def test_a_recorded_event_reaches_mqtt_hooks_and_metrics(tmp_path):
    video = write_clip(tmp_path / "motion.mp4", 7.0, [(1.5, 3.5)])
    broker = Mosquitto(tmp_path).start()
    camera = CameraConfig(name="door", source=str(video), width=320, height=240, fps=10)
    config = demo_config(str(tmp_path / "data"), cameras=[camera])
    config.mqtt = MqttConfig(host="127.0.0.1", port=broker.port)
    config.hooks = HooksConfig(on_event_end=f"env | grep ^CAMWATCH_ > {tmp_path}/end.env")
    collector = Collector(broker.port, "camwatch/door/#")
    try:
        with ServerThread(config) as server:
            collector.wait_for("camwatch/door/events", lambda m: b'"end"' in m.payload, timeout=30)
            collector.wait_for("camwatch/door/thumbnail")
            wait_until(lambda: (tmp_path / "end.env").exists(), message="end hook ran")
            status, _, metrics = server.get("/metrics")
    finally:
        collector.close()
        broker.stop()

    assert [m.text for m in collector.on("camwatch/door/motion")] == ["OFF", "ON", "OFF"]
    start, end = [json.loads(m.payload) for m in collector.on("camwatch/door/events")]
    assert (start["type"], end["type"]) == ("start", "end")
    assert start["id"] == end["id"] and end["status"] == "complete"
    env = dict(line.split("=", 1) for line in (tmp_path / "end.env").read_text().splitlines())
    assert env["CAMWATCH_EVENT_ID"] == end["id"]
    clip = Path(env["CAMWATCH_CLIP_PATH"])
    assert clip.is_absolute() and clip.stat().st_size == end["size_bytes"] > 0
    thumbnail = collector.on("camwatch/door/thumbnail")[0].payload
    assert thumbnail == Path(env["CAMWATCH_THUMBNAIL_PATH"]).read_bytes()
    assert status == 200
    values = {
        (sample.name, sample.labels.get("camera")): sample.value
        for family in text_string_to_metric_families(metrics.decode())
        for sample in family.samples
    }
    assert values[("camwatch_events_total", "door")] == 1
    assert values[("camwatch_motion_detection_seconds_count", "door")] > 30
