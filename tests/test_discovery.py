"""Home Assistant discovery configs: each valid for its MQTT platform, the old entities kept."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from camwatch import __version__
from camwatch.config import MqttConfig
from camwatch.integrations.discovery import Topics, discovery_messages
from tests.helpers.ha_schema import discovery_problems

BASE_URL = "http://camhost:8100"


def configs(prefix: str = "camwatch", **kwargs: Any) -> dict[str, dict[str, Any]]:
    config = MqttConfig(topic_prefix=prefix)
    return dict(discovery_messages(config, ["front", "back"], BASE_URL, **kwargs))


@pytest.mark.parametrize("prefix", ["camwatch", "home/garage/camwatch", "cams-2"])
@pytest.mark.parametrize("switches,fps", [(True, True), (False, False)])
def test_every_discovery_config_is_valid_for_its_platform(prefix, switches, fps):
    messages = configs(prefix, switches=switches, fps=fps)
    assert messages
    for topic, config in messages.items():
        assert discovery_problems(topic, config) == [], topic


def test_each_camera_has_all_its_entities_on_one_device():
    messages = configs()
    by_platform = sorted(
        (topic.split("/")[1], config["unique_id"])
        for topic, config in messages.items()
        if config["device"]["identifiers"] == ["camwatch_front"]
    )
    assert by_platform == [
        ("binary_sensor", "camwatch_front_motion"),
        ("event", "camwatch_front_events"),
        ("image", "camwatch_front_last_event"),
        ("sensor", "camwatch_front_fps"),
        ("switch", "camwatch_front_detect"),
        ("switch", "camwatch_front_recordings"),
    ]
    assert len({config["unique_id"] for config in messages.values()}) == len(messages) == 12


def test_the_first_rounds_entities_are_unchanged():
    """Home Assistant keys its entity registry on these: any change orphans users' entities."""
    messages = configs()
    common = {
        "qos": 1,
        "device": {
            "identifiers": ["camwatch_front"],
            "name": "front",
            "manufacturer": "camwatch",
            "model": "camwatch camera",
            "sw_version": __version__,
            "configuration_url": BASE_URL,
        },
        "availability_topic": "camwatch/available",
        "payload_available": "online",
        "payload_not_available": "offline",
        "origin": {"name": "camwatch", "sw_version": __version__},
    }
    assert messages["homeassistant/binary_sensor/camwatch/front_motion/config"] == {
        "name": "Motion",
        "unique_id": "camwatch_front_motion",
        "device_class": "motion",
        "state_topic": "camwatch/front/motion",
        "payload_on": "ON",
        "payload_off": "OFF",
        **common,
    }
    assert messages["homeassistant/image/camwatch/front_last_event/config"] == {
        "name": "Last event",
        "unique_id": "camwatch_front_last_event",
        "image_topic": "camwatch/front/thumbnail",
        "content_type": "image/jpeg",
        **common,
    }


def test_switches_take_on_off_on_their_set_topic_and_read_their_retained_state():
    messages = configs("home/cams")
    for switch in ("detect", "recordings"):
        config = messages[f"homeassistant/switch/home_cams/back_{switch}/config"]
        assert config["command_topic"] == f"home/cams/back/{switch}/set"
        assert config["state_topic"] == f"home/cams/back/{switch}"
        assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
        assert config["retain"] is False and "optimistic" not in config
        assert config["availability_topic"] == "home/cams/available"
    topics = Topics(MqttConfig(topic_prefix="home/cams"))
    assert topics.command("back", "detect") == "home/cams/back/detect/set"


def test_event_entity_reads_the_events_topic_and_the_sensor_the_fps_topic():
    messages = configs()
    event = messages["homeassistant/event/camwatch/front_events/config"]
    assert event["state_topic"] == "camwatch/front/events"
    assert event["event_types"] == ["motion_start", "motion_end"]
    assert event["device_class"] == "motion"
    sensor = messages["homeassistant/sensor/camwatch/front_fps/config"]
    assert sensor["state_topic"] == "camwatch/front/fps"
    assert (sensor["state_class"], sensor["unit_of_measurement"]) == ("measurement", "fps")
    assert sensor["entity_category"] == "diagnostic"


def test_without_switches_or_fps_there_are_no_such_entities():
    platforms = {topic.split("/")[1] for topic in configs(switches=False, fps=False)}
    assert platforms == {"binary_sensor", "image", "event"}


# -- the checker itself: each rule must catch what it is there for -------------------------------

SWITCH = "homeassistant/switch/camwatch/front_detect/config"
EVENT = "homeassistant/event/camwatch/front_events/config"
SENSOR = "homeassistant/sensor/camwatch/front_fps/config"
IMAGE = "homeassistant/image/camwatch/front_last_event/config"
MOTION = "homeassistant/binary_sensor/camwatch/front_motion/config"


def without(key: str):
    return lambda config: config.pop(key)


def setting(key: str, value: Any):
    return lambda config: config.__setitem__(key, value)


BROKEN = [
    (SWITCH, without("command_topic"), "command_topic: required for switch"),
    (SWITCH, setting("command_topic", "camwatch/+/detect/set"), "may not hold wildcards"),
    (SWITCH, setting("payload_onn", "ON"), "payload_onn: not a key"),
    (SWITCH, setting("optimistic", "no"), "optimistic: expected bool"),
    (EVENT, without("event_types"), "event_types: required for event"),
    (EVENT, setting("event_types", []), "event_types: expected a non-empty list"),
    (EVENT, without("state_topic"), "state_topic: required for event"),
    (EVENT, setting("device_class", "motion_start"), "device_class: 'motion_start'"),
    (SENSOR, without("state_topic"), "state_topic: required for sensor"),
    (SENSOR, setting("state_class", "measured"), "state_class: not one of"),
    (SENSOR, setting("entity_category", "config"), "a sensor cannot be a config entity"),
    (SENSOR, setting("suggested_display_precision", True), "expected int"),
    (IMAGE, without("image_topic"), "exactly one of image_topic or url_topic"),
    (IMAGE, setting("url_topic", "camwatch/front/url"), "exactly one of"),
    (MOTION, without("state_topic"), "state_topic: required for binary_sensor"),
    (MOTION, without("unique_id"), "unique_id: required"),
    (MOTION, setting("availability", [{"topic": "x"}]), "use one, not both"),
    (MOTION, setting("qos", 3), "qos: 3 is not 0, 1 or 2"),
    (MOTION, lambda c: c["device"].pop("identifiers"), "device: needs identifiers"),
    (MOTION, lambda c: c["device"].__setitem__("identifiers", [""]), "non-empty strings"),
    (MOTION, lambda c: c["origin"].pop("name"), "origin.name: required"),
    (MOTION, without("device"), "device: required"),
    (MOTION, lambda c: c["device"].__setitem__("configuration_url", "camhost"), "not a URL"),
]


@pytest.mark.parametrize("topic,breaks,problem", BROKEN)
def test_the_checker_reports_each_kind_of_broken_config(topic, breaks, problem):
    config = copy.deepcopy(configs()[topic])
    breaks(config)
    problems = discovery_problems(topic, config)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    "topic",
    [
        "homeassistant/switch/config",
        "homeassistant/switch/camwatch/front detect/config",
        "homeassistant/light/camwatch/front/config",
        "other/switch/camwatch/front_detect/config",
    ],
)
def test_the_checker_reports_bad_discovery_topics(topic):
    assert discovery_problems(topic, configs()[SWITCH]) != []
