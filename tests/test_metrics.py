"""/metrics: Prometheus text that prometheus_client parses, with values that follow the cameras."""

from __future__ import annotations

import urllib.request

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from camwatch import __version__
from camwatch.capture.camera import Camera
from camwatch.config import CameraConfig
from camwatch.integrations.metrics import Metrics
from tests.helpers.support import ServerThread, demo_config, wait_until


def scrape(server: ServerThread) -> dict[str, dict[str, float]]:
    """{sample name: {camera label (or ""): value}} from a real GET /metrics."""
    status, headers, body = server.get("/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[sample.labels.get("camera", "")] = sample.value
    return samples


def test_metrics_parse_and_follow_the_running_camera(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        wait_until(
            lambda: scrape(server)["camwatch_camera_online"]["cam"] == 1, message="camera online"
        )
        first = scrape(server)
        wait_until(
            lambda: (
                scrape(server)["camwatch_frames_captured_total"]["cam"]
                > first["camwatch_frames_captured_total"]["cam"] + 3
            ),
            message="frames captured grows",
        )
        with urllib.request.urlopen(server.url + "/stream.mjpg", timeout=10) as stream:
            stream.read(100)
            wait_until(lambda: scrape(server)["camwatch_viewers"]["cam"] == 1, message="one viewer")
        later = scrape(server)

    assert later["camwatch_frames_failed_total"]["cam"] == 0
    assert later["camwatch_capture_fps"]["cam"] > 0
    assert later["camwatch_uptime_seconds"][""] > first["camwatch_uptime_seconds"][""]
    assert later["camwatch_data_dir_free_bytes"][""] > 0
    for name in (
        "camwatch_events_total",
        "camwatch_recorded_bytes_total",
        "camwatch_frames_recorded_total",
        "camwatch_recorder_frames_dropped_total",
        "camwatch_encode_seconds_total",
        "camwatch_motion_detection_seconds_sum",
        "camwatch_motion_detection_seconds_count",
    ):
        assert "cam" in later[name], name


def test_every_family_has_help_and_type_and_counters_end_in_total(tmp_path):
    camera = Camera(CameraConfig(name="front", source="demo"))
    camera.stats.events_total = 3
    camera.stats.bytes_recorded = 123456789
    camera.stats.detect_seconds_total = 0.25
    camera.stats.detect_count = 100
    camera.stats.encode_seconds_total = 1.5
    body, content_type = Metrics({"front": camera}, tmp_path).exposition()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()

    lines = text.splitlines()
    families = list(text_string_to_metric_families(text))
    for family in families:
        type_line = next(
            line
            for line in lines
            if line.startswith("# TYPE ")
            and line.split()[2] in (family.name, family.name + "_total")
        )
        assert any(line.startswith(f"# HELP {type_line.split()[2]} ") for line in lines)
        if family.type == "counter":
            assert type_line.split()[2].endswith("_total")
            assert all(s.name.endswith("_total") for s in family.samples)
    values = {(s.name, s.labels.get("camera")): s.value for f in families for s in f.samples}
    assert values[("camwatch_events_total", "front")] == 3
    assert values[("camwatch_recorded_bytes_total", "front")] == 123456789
    assert values[("camwatch_motion_detection_seconds_sum", "front")] == 0.25
    assert values[("camwatch_motion_detection_seconds_count", "front")] == 100
    assert values[("camwatch_encode_seconds_total", "front")] == 1.5
    assert values[("camwatch_camera_online", "front")] == 0  # never started
    info = next(f for f in families if f.name == "camwatch_build_info")
    assert info.samples[0].labels == {"version": __version__}


def test_a_scraper_that_asks_for_openmetrics_gets_it_with_the_same_families(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        request = urllib.request.Request(
            server.url + "/metrics",
            headers={"Accept": "application/openmetrics-text; version=1.0.0,text/plain;q=0.5"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            content_type = response.headers["Content-Type"]
            text = response.read().decode()
        _, _, plain = server.get("/metrics")

    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert text.endswith("# EOF\n")
    samples = {s.name for f in openmetrics_families(text) for s in f.samples}
    plain_samples = {
        s.name for f in text_string_to_metric_families(plain.decode()) for s in f.samples
    }
    assert samples == plain_samples
    assert "camwatch_frames_captured_total" in samples


def test_label_values_are_escaped(tmp_path):
    camera = Camera(CameraConfig(name="front", source="demo"))
    camera.config.name = 'a "quoted" \\ name'  # no config allows it; the collector must cope
    text = Metrics({"front": camera}, tmp_path).exposition()[0].decode()
    assert 'camera="a \\"quoted\\" \\\\ name"' in text
    families = text_string_to_metric_families(text)
    labels = {s.labels.get("camera") for f in families for s in f.samples}
    assert 'a "quoted" \\ name' in labels
