"""The web UI in headless Chromium against a real server: live view, graph, recordings, settings."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish
import pytest

from camwatch.config import CameraConfig, MotionConfig, MqttConfig
from camwatch.frame import Frame
from camwatch.recording.index import EventRecord
from camwatch.service import Service
from tests.helpers.broker import Collector, Mosquitto
from tests.helpers.browser import PageFactory, WatchedPage
from tests.helpers.http_client import request
from tests.helpers.support import ServerThread, demo_config, store_of, wait_until
from tests.helpers.web_fakes import (
    FakeEventsApi,
    h264_clip,
    make_event,
    started_epoch,
    thumbnail_jpeg,
)

pytestmark = pytest.mark.browser

expect: Any = None  # playwright.sync_api.expect, imported once Chromium is known to exist


@pytest.fixture(scope="module", autouse=True)
def _playwright_expect(chromium: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=15000)
    expect = playwright_expect


def wavy_delta(frame: Frame) -> float:
    """A delta that swings across the default threshold (0.1) every couple of seconds."""
    return 0.05 + 0.6 * (math.sin(frame.seq / 4) + 1) / 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    cameras = [
        CameraConfig(name=name, source="demo", fps=10, width=320, height=240)
        for name in ("front", "yard")
    ]
    config = demo_config(str(tmp_path_factory.mktemp("data")), cameras=cameras)
    # no recorders: the deltas and the recording state come from the tests alone
    with ServerThread(config, factory=Service) as thread:
        front = thread.service.context.cameras["front"]  # type: ignore[union-attr]
        front.listeners.append(lambda frame: front.record_delta(frame, wavy_delta(frame)))
        yield thread


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    clip = h264_clip(tmp_path_factory.mktemp("media") / "clip.mp4")
    return clip, thumbnail_jpeg()


# 30 events 45 minutes apart, newest 2026-11-20 19:00 Berlin time: two local days
NEWEST = dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)


def sample_events() -> list[dict[str, Any]]:
    return [
        make_event(
            "yard" if i % 8 == 3 else "front", NEWEST - dt.timedelta(minutes=45 * i), seconds=12 + i
        )
        for i in range(30)
    ]


@pytest.fixture
def events_api(media: tuple[bytes, bytes]) -> FakeEventsApi:
    return FakeEventsApi(sample_events(), *media)


THUMBNAILS_LOADED = """count => [...document.querySelectorAll('.thumb img')].slice(0, count)
    .every(img => img.naturalWidth > 0)"""


def wait_for_new_picture(page: Any, camera: str, previous: str) -> None:
    page.wait_for_function(
        "([name, old]) => document.querySelector(`.tile[data-camera='${name}'] canvas.frame`)"
        ".toDataURL() !== old",
        arg=[camera, previous],
        timeout=10000,
    )


def canvas_png(page: Any, camera: str) -> str:
    return str(
        page.evaluate(
            "name => document.querySelector(`.tile[data-camera='${name}'] canvas.frame`)"
            ".toDataURL()",
            camera,
        )
    )


def open_live(open_page: PageFactory, server: ServerThread, **options: Any) -> WatchedPage:
    watched = open_page(**options)
    watched.page.goto(server.url + "/")
    for name in ("front", "yard"):
        expect(watched.page.locator(f".tile[data-camera='{name}']")).to_have_class(
            re.compile(r"\bhas-frame\b")
        )
    return watched


# ---- live view ----


def test_live_picture_changes_over_time(server: ServerThread, open_page: PageFactory) -> None:
    watched = open_live(open_page, server)
    page = watched.page
    first = canvas_png(page, "front")
    page.wait_for_timeout(1000)
    wait_for_new_picture(page, "front", first)  # normally at once; a busy CI machine may lag
    tile = page.locator(".tile[data-camera='front']")
    expect(tile.locator(".status")).to_have_text("Online")
    expect(tile.locator(".tile-fps")).to_have_text(re.compile(r"^\d+\.\d fps$"))
    fps = float(tile.get_attribute("data-fps") or 0)
    assert 3 <= fps <= 20
    expect(page.locator(".banner")).to_be_hidden()
    watched.assert_no_errors()


def test_motion_graph_draws_deltas_against_the_threshold(
    server: ServerThread, open_page: PageFactory
) -> None:
    watched = open_live(open_page, server)
    page = watched.page
    graph = ".tile[data-camera='front'] canvas.graph"
    # the history endpoint fills the graph at once; meta messages keep it growing
    page.wait_for_function(f'() => document.querySelector("{graph}").dataset.points >= 20')
    painted = page.evaluate(
        """selector => {
        const canvas = document.querySelector(selector);
        const ctx = canvas.getContext("2d");
        const column = x => {
            const data = ctx.getImageData(x, 0, 1, canvas.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
            return n;
        };
        // the newest point is at the right edge; a second earlier is ~1/60 of the width left
        const second = Math.round(canvas.width / 60);
        return {newest: column(canvas.width - 2), older: column(canvas.width - 2 - second),
                empty: column(2), height: canvas.height};
    }""",
        graph,
    )
    assert painted["newest"] >= 3 and painted["older"] >= 3
    assert painted["empty"] <= 2  # no data a minute ago: just the dashed threshold line
    legend = page.locator(".tile[data-camera='front'] .graph-legend")
    expect(legend).to_contain_text("threshold 0.10%")
    values = page.evaluate(
        f'() => {{ const c = document.querySelector("{graph}"); return c.dataset.points; }}'
    )
    assert int(values) >= 20
    watched.assert_no_errors()


def test_recording_state_shows_live(server: ServerThread, open_page: PageFactory) -> None:
    watched = open_live(open_page, server)
    tile = watched.page.locator(".tile[data-camera='yard']")
    yard = server.service.context.cameras["yard"]  # type: ignore[union-attr]
    expect(tile.locator(".pill-rec")).to_be_hidden()
    server.call(lambda: setattr(yard, "recording", True))
    try:
        expect(tile.locator(".pill-rec")).to_be_visible()
        expect(tile).to_have_class(re.compile(r"\brecording\b"))
    finally:
        server.call(lambda: setattr(yard, "recording", False))
    expect(tile.locator(".pill-rec")).to_be_hidden()
    watched.assert_no_errors()


def test_a_switched_off_camera_says_so_on_its_tile(
    server: ServerThread, open_page: PageFactory
) -> None:
    watched = open_live(open_page, server)
    badge = watched.page.locator(".tile[data-camera='yard'] .pill-off")
    expect(badge).to_be_hidden()
    try:
        request(server.port, "PATCH", "/api/cameras/yard", {"recordings": False})
        expect(badge).to_have_text("Recording off")
        request(server.port, "PATCH", "/api/cameras/yard", {"detect": False})
        expect(badge).to_have_text("Detection off")
    finally:
        request(server.port, "PATCH", "/api/cameras/yard", {"detect": True, "recordings": True})
    expect(badge).to_be_hidden()
    expect(watched.page.locator(".tile[data-camera='front'] .pill-off")).to_be_hidden()
    watched.assert_no_errors()


def test_large_view_opens_and_closes_with_escape_and_back(
    server: ServerThread, open_page: PageFactory
) -> None:
    watched = open_live(open_page, server)
    page = watched.page
    front = page.locator(".tile[data-camera='front']")
    yard = page.locator(".tile[data-camera='yard']")
    small = front.locator("canvas.frame").bounding_box()
    front.locator(".frame-button").click()
    expect(page).to_have_url(re.compile(r"#live/front$"))
    expect(yard).to_be_hidden()
    expect(front).to_have_class(re.compile(r"\bfocused\b"))
    large = front.locator("canvas.frame").bounding_box()
    assert small and large and large["width"] > small["width"] * 1.4
    wait_for_new_picture(page, "front", canvas_png(page, "front"))  # still live when large

    page.keyboard.press("Escape")
    expect(page).to_have_url(re.compile(r"/(#live)?$"))
    expect(yard).to_be_visible()
    assert page.evaluate("document.activeElement.closest('.tile').dataset.camera") == "front"

    front.locator(".frame-button").click()
    expect(yard).to_be_hidden()
    page.go_back()
    expect(yard).to_be_visible()
    page.goto(server.url + "/#live/yard")  # a link straight to one camera works too
    expect(front).to_be_hidden()
    front_button = page.get_by_role("button", name="Back to all cameras").first
    expect(front_button).to_be_visible()
    watched.assert_no_errors()


def test_reconnects_after_a_server_restart(tmp_path: Any, open_page: PageFactory) -> None:
    config = demo_config(str(tmp_path), fps=10, width=320, height=240)
    first = ServerThread(config).start()
    try:
        watched = open_page()
        page = watched.page
        page.goto(first.url + "/")
        tile = page.locator(".tile[data-camera='cam']")
        expect(tile).to_have_class(re.compile(r"\bhas-frame\b"))
        port = first.port
    finally:
        first.stop()
    expect(tile).to_have_attribute("data-connection", re.compile("waiting|connecting"))
    expect(page.locator("#server-status")).to_contain_text("unreachable")
    config.server.port = port
    with ServerThread(config):
        expect(tile).to_have_attribute("data-connection", "live", timeout=30000)
        wait_for_new_picture(page, "cam", canvas_png(page, "cam"))
        expect(page.locator("#server-status")).to_contain_text("Connected")
    # failed connection attempts while the server was down are expected, exceptions are not
    watched.allow(r"ERR_CONNECTION_REFUSED|WebSocket connection to|Failed to load resource")
    watched.assert_no_errors()


def test_demo_fallback_shows_a_banner(tmp_path: Any, open_page: PageFactory) -> None:
    cameras = [CameraConfig(name="auto", source="auto", fps=5, width=320, height=240)]
    with ServerThread(demo_config(str(tmp_path), cameras=cameras)) as server:

        def online_camera() -> Any:
            camera = server.get_json("/api/cameras")[0]
            return camera if camera["online"] else None

        camera = wait_until(online_camera, timeout=20, message="the camera online")
        if not camera["demo_fallback"]:
            pytest.skip("this machine has a webcam, so `auto` did not fall back to the demo")
        watched = open_page()
        watched.page.goto(server.url + "/")
        expect(watched.page.locator(".banner")).to_contain_text("No webcam found")
        watched.assert_no_errors()


# ---- recordings ----


def open_events(
    open_page: PageFactory, server: ServerThread, events_api: FakeEventsApi, **options: Any
) -> WatchedPage:
    watched = open_page(**options)
    events_api.install(watched.page)
    watched.page.goto(server.url + "/#events")
    return watched


def test_gallery_lists_newest_first_by_local_day_and_loads_more(
    server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_events(open_page, server, events_api)
    page = watched.page
    cards = page.locator(".card-item")
    page.mouse.wheel(0, 5000)
    expect(cards).to_have_count(30)
    ids = [li.get_attribute("data-id") for li in cards.all()]
    expected = sorted(events_api.events, key=started_epoch, reverse=True)
    assert ids == [e["id"] for e in expected]
    # the first page, then one page of the events older than the 24th
    queries = events_api.list_requests()
    assert queries[0]["limit"] == ["24"] and "before" not in queries[0]
    pages = [q for q in queries if "before" in q]
    assert pages[0]["before"] == [expected[23]["id"]]
    # local time (Europe/Berlin) and grouping by local day
    first = cards.first
    expect(first.locator(".card-time")).to_have_text("19:00:00")
    expect(first.locator(".card-camera")).to_have_text("front")
    expect(first.locator(".thumb-duration")).to_have_text("0:12")
    assert page.locator(".day").count() == 2
    titles = page.locator(".day-title")
    expect(titles.nth(0)).to_have_text(re.compile(r"^Friday,? 20 November 2026$"))
    expect(titles.nth(1)).to_have_text(re.compile(r"^Thursday,? 19 November 2026$"))
    expect(page.locator(".load-more")).to_be_hidden()
    expect(page.locator(".summary")).to_have_text("30 clips")
    # thumbnails load from the server-root path, resolved against the page
    page.wait_for_function(THUMBNAILS_LOADED, arg=4)
    watched.assert_no_errors()


def test_gallery_filters_by_camera_and_day(
    server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_events(open_page, server, events_api)
    page = watched.page
    expect(page.locator(".card-item").first).to_be_visible()
    page.get_by_label("Camera", exact=True).select_option("yard")
    expect(page.locator(".card-item")).to_have_count(4)
    expect(page.locator(".card-camera")).to_have_text(["yard"] * 4)
    assert events_api.list_requests()[-1]["camera"] == ["yard"]

    page.get_by_label("Camera", exact=True).select_option("")
    expect(page.locator(".card-item")).to_have_count(30)  # both pages: nothing still loading
    asked_before = len(events_api.list_requests())
    page.get_by_label("Day", exact=True).fill("2026-11-19")
    thursday = [
        e
        for e in events_api.events
        if dt.datetime.fromtimestamp(started_epoch(e), dt.timezone(dt.timedelta(hours=1))).date()
        == dt.date(2026, 11, 19)
    ]
    expect(page.locator(".card-item")).to_have_count(len(thursday))
    expect(page.locator(".day-title")).to_have_text([re.compile(r"^Thursday,? 19 November 2026$")])
    # the first page asks for what started before the local day's end, as ISO 8601
    assert events_api.list_requests()[asked_before]["before"] == ["2026-11-19T23:00:00.000Z"]
    page.get_by_role("button", name="All days").click()
    page.mouse.wheel(0, 5000)
    expect(page.locator(".card-item")).to_have_count(30)
    watched.assert_no_errors()


def test_new_events_appear_without_a_reload(
    server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_events(open_page, server, events_api)
    page = watched.page
    expect(page.locator(".card-item").first).to_have_attribute("data-id", "front-20261120-180000")
    newer = make_event("yard", NEWEST + dt.timedelta(minutes=3), recording=True)
    events_api.events.append(newer)
    first = page.locator(".card-item").first
    expect(first).to_have_attribute("data-id", newer["id"], timeout=12000)
    expect(first).to_have_class(re.compile(r"\bfresh\b"))
    expect(first.locator(".pill-rec")).to_be_visible()
    # when the recording ends, the card updates in place
    newer.update(make_event("yard", NEWEST + dt.timedelta(minutes=3), seconds=9))
    expect(first.locator(".thumb-duration")).to_have_text("0:09", timeout=12000)
    expect(page.locator(f".card-item[data-id='{newer['id']}'] .pill-rec")).to_be_hidden()
    watched.assert_no_errors()


def test_player_plays_the_clip_and_closes_with_escape(
    server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_events(open_page, server, events_api)
    page = watched.page
    page.locator(".card").first.click()
    dialog = page.locator("dialog.player")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".player-title")).to_have_text(re.compile(r"^front · .* 19:00:00$"))
    page.wait_for_function(
        "() => { const v = document.querySelector('dialog video');"
        " return v.currentTime > 0.5 && v.error === null; }"
    )
    download = dialog.get_by_role("link", name="Download")
    assert download.get_attribute("href") == f"{server.url}/media/front-20261120-180000.mp4"
    # seekable: jump and keep playing
    page.evaluate("document.querySelector('dialog video').currentTime = 2.0")
    page.wait_for_function("() => document.querySelector('dialog video')?.currentTime >= 2.0")
    dialog.get_by_role("button", name="Older clip").click()
    expect(dialog.locator(".player-title")).to_contain_text("18:15:00")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # closing unloads the clip (on the dialog's "close" event, a task after it hides)
    page.wait_for_function(
        "() => document.querySelector('dialog video').getAttribute('src') === null"
    )
    watched.assert_no_errors()


def test_player_sound_button_mutes_clips_with_sound_and_is_off_without(
    server: ServerThread, open_page: PageFactory, media: tuple[bytes, bytes]
) -> None:
    events = sample_events()
    events[0]["has_audio"] = True  # the newest clip has sound, the next one not
    watched = open_events(open_page, server, FakeEventsApi(events, *media))
    page = watched.page
    page.locator(".card").first.click()
    dialog = page.locator("dialog.player")
    sound = dialog.locator("button[data-role='sound']")
    expect(sound).to_have_text("Sound on")
    expect(sound).to_have_attribute("aria-pressed", "true")
    sound.click()
    expect(sound).to_have_text("Sound off")
    assert page.evaluate("document.querySelector('dialog video').muted") is True
    sound.click()
    expect(sound).to_have_text("Sound on")
    dialog.get_by_role("button", name="Older clip").click()
    expect(sound).to_have_text("No sound")
    expect(sound).to_be_disabled()
    watched.assert_no_errors()


def test_player_deletes_after_confirmation(
    server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_events(open_page, server, events_api)
    page = watched.page
    target = "front-20261120-180000"
    page.locator(f".card-item[data-id='{target}'] .card").click()
    dialog = page.locator("dialog.player")
    dialog.get_by_role("button", name="Delete…").click()
    expect(dialog.get_by_text("Delete this clip and its thumbnail for good?")).to_be_visible()
    dialog.get_by_role("button", name="Keep it").click()
    assert not any(method == "DELETE" for method, _ in events_api.requests)
    dialog.get_by_role("button", name="Delete…").click()
    dialog.get_by_role("button", name="Delete clip").click()
    expect(page.locator(f".card-item[data-id='{target}']")).to_have_count(0)
    assert ("DELETE", f"{server.url}/api/events/{target}") in events_api.requests
    # the player moves on to the next clip
    expect(dialog.locator(".player-title")).to_contain_text("18:15:00")
    watched.assert_no_errors()


def add_recorded_events(
    server: ServerThread, clip: bytes, thumbnail: bytes, count: int
) -> list[str]:
    """Index `count` clips of camera "front" in the real event store, one every 10 minutes."""
    data_dir = Path(server.config.server.data_dir)
    store = server.service.context.events  # type: ignore[union-attr]
    ids = []
    for i in range(count):
        started = time.time() - 600 * (i + 1)
        event_id = f"front-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(started))}-{i:04x}"
        video = Path("clips/front") / f"{event_id}.mp4"
        (data_dir / video).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / video).write_bytes(clip)
        (data_dir / video.with_suffix(".jpg")).write_bytes(thumbnail)
        store.add(
            EventRecord(
                id=event_id,
                camera="front",
                started_at=started,
                ended_at=started + 3.0,
                frames=30,
                motion_frames=20,
                peak_delta=1.5,
                video_path=str(video),
                thumbnail_path=str(video.with_suffix(".jpg")),
                size_bytes=len(clip),
                status="complete",
            )
        )
        ids.append(event_id)
    return ids


def test_real_events_api_lists_plays_and_deletes(
    tmp_path: Path, open_page: PageFactory, media: tuple[bytes, bytes]
) -> None:
    camera = CameraConfig(name="front", source="demo", fps=5, width=320, height=240)
    camera.motion.enabled = False  # no recordings of its own during the test
    with ServerThread(demo_config(str(tmp_path), cameras=[camera])) as server:
        ids = add_recorded_events(server, *media, count=26)  # more than one page of 24
        watched = open_page()
        page = watched.page
        page.goto(server.url + "/#events")
        page.mouse.wheel(0, 5000)
        expect(page.locator(".card-item")).to_have_count(26)
        assert [li.get_attribute("data-id") for li in page.locator(".card-item").all()] == ids
        page.wait_for_function(THUMBNAILS_LOADED, arg=4)
        page.locator(".card").first.click()
        page.wait_for_function(
            "() => { const v = document.querySelector('dialog video');"
            " return v.currentTime > 0.5 && v.error === null; }"
        )
        dialog = page.locator("dialog.player")
        dialog.get_by_role("button", name="Delete…").click()
        dialog.get_by_role("button", name="Delete clip").click()
        expect(page.locator(".card-item")).to_have_count(25)
        assert server.get(f"/api/events/{ids[0]}")[0] == 404
        assert not list(tmp_path.glob(f"clips/front/{ids[0]}.*"))
        expect(dialog.locator(".player-info")).to_contain_text("0:03")  # on to the next clip
        watched.assert_no_errors()


def test_motion_in_a_clip_is_recorded_listed_and_plays(
    tmp_path: Path, open_page: PageFactory
) -> None:
    """End to end: a video with motion -> recorder -> index -> gallery -> <video> plays it."""
    from tests.helpers.clips import write_clip

    clip = write_clip(tmp_path / "walk.mp4", 9, [(2.0, 5.0)])
    camera = CameraConfig(name="front", source=str(clip), fps=10, width=320, height=240)
    with ServerThread(demo_config(str(tmp_path / "data"), cameras=[camera])) as server:
        watched = open_page()
        page = watched.page
        page.goto(server.url + "/#events")
        card = page.locator(".card-item").first
        expect(card).to_be_visible(timeout=30000)  # appears without a reload
        event = wait_until(
            lambda: next(
                (e for e in server.get_json("/api/events") if e["status"] == "complete"), None
            ),
            timeout=30,
            message="the event to complete",
        )
        assert event["motion_frames"] >= 20
        assert card.get_attribute("data-id") == event["id"]
        page.locator(".card").first.click()
        page.wait_for_function(
            "() => { const v = document.querySelector('dialog video');"
            " return v.currentTime > 0.5 && v.error === null; }"
        )
        watched.assert_no_errors()


def test_real_motion_patch_shows_errors_and_applies(tmp_path: Path, open_page: PageFactory) -> None:
    with ServerThread(demo_config(str(tmp_path))) as server:
        watched = open_page()
        page = watched.page
        page.goto(server.url + "/#settings")
        form = page.locator("form.settings-card[data-camera='cam']")
        threshold = form.get_by_label("Motion threshold")
        threshold.fill("150")
        form.get_by_role("button", name="Save").click()
        expect(form.locator(".form-error")).to_contain_text("threshold")
        expect(form.locator(".form-error")).to_contain_text("150")
        threshold.fill("0.45")
        form.get_by_label("Stop after").fill("30")
        form.get_by_role("button", name="Save").click()
        expect(form.locator(".form-status")).to_have_text("Saved. The new settings are in use.")
        motion = server.get_json("/api/cameras")[0]["motion"]
        assert (motion["threshold"], motion["stable_frames"]) == (0.45, 30)
        page.wait_for_timeout(2000)  # a camera poll later the form still shows the saved values
        expect(threshold).to_have_value("0.45")
        page.reload()
        expect(form.get_by_label("Motion threshold")).to_have_value("0.45")
        expect(form.get_by_label("Stop after")).to_have_value("30")
        watched.allow(r"status of 400")
        watched.assert_no_errors()


# ---- settings ----


def test_settings_show_the_servers_error_then_save(
    server: ServerThread, open_page: PageFactory
) -> None:
    watched = open_page()
    page = watched.page
    bodies: list[dict[str, Any]] = []
    replies = [
        (400, {"error": "threshold must be between 0 and 100"}),
        (
            200,
            {
                "name": "front",
                "motion": {
                    "enabled": True,
                    "threshold": 0.5,
                    "pixel_threshold": 30,
                    "stable_frames": 20,
                    "min_motion_frames": 5,
                    "pre_roll_seconds": 2.0,
                    "max_event_seconds": 600.0,
                },
            },
        ),
    ]

    def patch(route: Any) -> None:
        assert route.request.method == "PATCH"
        bodies.append(json.loads(route.request.post_data or "null"))
        status, reply = replies.pop(0)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(reply))

    page.route("**/api/cameras/front/motion", patch)
    page.goto(server.url + "/#settings")
    form = page.locator("form.settings-card[data-camera='front']")
    threshold = form.get_by_label("Motion threshold")
    expect(threshold).to_have_value("0.1")
    threshold.fill("150")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("alert")).to_have_text("threshold must be between 0 and 100")
    expect(threshold).to_have_attribute("aria-invalid", "true")
    assert bodies[0] == {"threshold": 150}

    threshold.fill("0.5")
    form.get_by_label("Pixel sensitivity").fill("30")
    form.get_by_role("button", name="Save").click()
    expect(form.get_by_role("status")).to_have_text("Saved. The new settings are in use.")
    expect(form.locator(".form-error")).to_be_empty()
    assert bodies[1] == {"threshold": 0.5, "pixel_threshold": 30}
    assert isinstance(bodies[1]["pixel_threshold"], int)
    watched.allow(r"status of 400")
    watched.assert_no_errors()


def test_settings_switch_and_undo(server: ServerThread, open_page: PageFactory) -> None:
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/#settings")
    form = page.locator("form.settings-card[data-camera='yard']")
    switch = form.get_by_role("switch", name="Detect motion")
    expect(switch).to_be_checked()
    undo = form.get_by_role("button", name="Undo changes")
    expect(undo).to_be_disabled()
    form.locator("label.switch", has_text="Detect motion").click()
    expect(switch).not_to_be_checked()
    form.get_by_label("Pre-roll").fill("4.5")
    expect(undo).to_be_enabled()
    undo.click()
    expect(switch).to_be_checked()
    expect(form.get_by_label("Pre-roll")).to_have_value("2")
    watched.assert_no_errors()


def test_recordings_switch_is_saved_published_and_follows_home_assistant(
    tmp_path: Path, open_page: PageFactory
) -> None:
    """The real wiring and a real broker: the UI's switch reaches MQTT, and an MQTT command
    (what Home Assistant's switch sends) shows up in the open page without a reload."""
    broker = Mosquitto(tmp_path).start()
    config = demo_config(str(tmp_path / "data"))
    config.mqtt = MqttConfig(host="127.0.0.1", port=broker.port)
    state = Collector(broker.port, "camwatch/cam/recordings")
    try:
        with ServerThread(config) as server:
            watched = open_page()
            page = watched.page
            page.goto(server.url + "/#settings")
            form = page.locator("form.settings-card[data-camera='cam']")
            recordings = form.get_by_role("switch", name="Record events")
            expect(recordings).to_be_checked()
            form.locator("label.switch", has_text="Record events").click()
            expect(form).to_have_class(re.compile(r"\bdirty\b"))
            form.get_by_role("button", name="Save").click()
            expect(form.get_by_role("status")).to_have_text("Saved. The new settings are in use.")
            camera = server.get_json("/api/cameras/cam")
            assert (camera["recordings"], camera["detect"]) == (False, True)
            assert store_of(server).camera_switches("cam").recordings is False
            state.wait_for("camwatch/cam/recordings", lambda m: m.text == "OFF")
            expect(form.locator(".live-delta")).to_contain_text("recording off")
            page.reload()
            expect(form.get_by_role("switch", name="Record events")).not_to_be_checked()

            form.get_by_label("Pre-roll").fill("4.5")  # being edited while Home Assistant acts
            paho.mqtt.publish.single(
                "camwatch/cam/recordings/set", "ON", hostname="127.0.0.1", port=broker.port
            )
            expect(form.get_by_role("switch", name="Record events")).to_be_checked()
            expect(form.locator(".live-delta")).not_to_contain_text("recording off")
            expect(form.get_by_label("Pre-roll")).to_have_value("4.5")
            form.get_by_role("button", name="Undo changes").click()
            expect(form.get_by_label("Pre-roll")).to_have_value("2")
            expect(form.get_by_role("switch", name="Record events")).to_be_checked()
            expect(form).not_to_have_class(re.compile(r"\bdirty\b"))
            watched.assert_no_errors()
    finally:
        state.close()
        broker.stop()


# ---- the page as a whole ----


def test_every_request_stays_under_the_pages_path(
    server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    """Behind a reverse proxy at /cams/ nothing may go to the server root or another host."""
    watched = open_page()
    page = watched.page
    prefix = server.url + "/cams/"
    seen: list[str] = []
    sockets: list[str] = []

    def proxy(route: Any) -> None:
        url = route.request.url
        seen.append(url)
        if url.startswith(prefix):
            inner = server.url + "/" + url[len(prefix) :]
            if re.search(r"/api/events|/media/", inner):
                route.fallback()
                return
            route.fulfill(response=route.fetch(url=inner))
        else:
            route.fulfill(status=404, content_type="application/json", body='{"error": "outside"}')

    page.route("**/*", proxy)
    events_api.install(page)  # registered last, so it runs first for events and media
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(prefix)
    expect(page.locator(".tile")).to_have_count(2)
    # the URL the live view builds for its sockets (observed sockets are checked below too;
    # on a loaded machine the view may not have opened one yet)
    sockets.append(
        page.evaluate("""async () => (await import(
        new URL("static/js/api.js", document.baseURI))).socketUrl("cameras/front/ws")""")
    )
    page.goto(prefix + "#events")
    expect(page.locator(".card-item").first).to_be_visible()
    page.locator(".card").first.click()
    page.wait_for_function("() => document.querySelector('dialog video')?.currentTime > 0.2")
    outside = [url for url in seen if not url.startswith(prefix)]
    assert outside == []
    media = [url for _, url in events_api.requests]
    assert media and all(url.startswith(prefix) for url in media)
    assert all(url.startswith(prefix.replace("http", "ws")) for url in sockets), sockets
    watched.allow(r"WebSocket connection to|Failed to load resource")  # no socket proxy here
    watched.assert_no_errors()


TOUCH_TARGETS = """() => {
    const selector = "button, a.button, .nav a, .brand, select, input:not([type=checkbox]), "
        + "label.switch";
    return [...document.querySelectorAll(selector)]
        .filter(el => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
        .map(el => ({el: el.outerHTML.slice(0, 80), ...el.getBoundingClientRect().toJSON()}))
        .filter(box => box.width < 44 || box.height < 43.5);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_phone_layout_fits_390px_and_has_44px_targets(
    scheme: str, server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_live(
        open_page,
        server,
        width=390,
        height=844,
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        color_scheme=scheme,
    )
    events_api.install(watched.page)
    page = watched.page

    def check(name: str) -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name}: page is {width}px wide"
        assert page.evaluate(TOUCH_TARGETS) == [], name
        watched.screenshot(f"phone-{scheme}-{name}")

    check("live")
    page.locator(".tile[data-camera='front'] .frame-button").tap()
    expect(page.locator(".tile.focused")).to_be_visible()
    check("live-large")
    page.get_by_role("link", name="Recordings").tap()
    expect(page.locator(".card-item").first).to_be_visible()
    page.wait_for_function("() => document.querySelector('.thumb img')?.naturalWidth > 0")
    check("recordings")
    page.locator(".card").first.tap()
    page.wait_for_function("() => document.querySelector('dialog video')?.currentTime > 0.3")
    check("player")
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Settings").tap()
    expect(page.locator("form.settings-card").first).to_be_visible()
    check("settings")
    watched.assert_no_errors()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_desktop_screenshots(
    scheme: str, server: ServerThread, open_page: PageFactory, events_api: FakeEventsApi
) -> None:
    watched = open_live(open_page, server, width=1280, height=800, color_scheme=scheme)
    events_api.install(watched.page)
    page = watched.page
    page.wait_for_timeout(1500)  # let the graphs fill
    watched.screenshot(f"desktop-{scheme}-live")
    page.locator(".tile[data-camera='front'] .frame-button").click()
    page.wait_for_timeout(500)
    watched.screenshot(f"desktop-{scheme}-live-large")
    page.goto(server.url + "/#events")
    page.wait_for_function(THUMBNAILS_LOADED, arg=10)
    watched.screenshot(f"desktop-{scheme}-recordings")
    page.locator(".card").first.click()
    page.wait_for_function("() => document.querySelector('dialog video')?.currentTime > 0.5")
    watched.screenshot(f"desktop-{scheme}-player")
    page.keyboard.press("Escape")
    page.goto(server.url + "/#settings")
    expect(page.locator("form.settings-card")).to_have_count(2)
    watched.screenshot(f"desktop-{scheme}-settings")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    watched.assert_no_errors()


class MaskDrawing:
    """The Settings page with the first camera's mask editor, its snapshot loaded."""

    def __init__(self, server: ServerThread, open_page: PageFactory) -> None:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        self.watched = open_page()
        self.page = self.watched.page
        self.page.goto(server.url + "/#settings")
        self.canvas = self.page.locator("section.settings-camera canvas.mask-canvas")
        # the editor is built once /api/cameras answers: until then there is no picture to
        # ask about (a predicate that throws ends the wait at once, it is not asked again)
        self.page.wait_for_function(
            "() => document.querySelector('img.mask-picture')?.naturalWidth > 0"
        )
        box = self.canvas.bounding_box()
        assert box is not None
        self.width, self.height = box["width"], box["height"]

    def click(self, x: float, y: float) -> None:
        """Click at (x, y) in 0-1 picture coordinates."""
        self.canvas.click(position={"x": self.width * x, "y": self.height * y})


def test_mask_drawn_on_the_snapshot_is_saved_and_kept(
    tmp_path: Path, open_page: PageFactory
) -> None:
    with ServerThread(demo_config(str(tmp_path))) as server:
        drawing = MaskDrawing(server, open_page)
        watched, page = drawing.watched, drawing.page
        for x, y in ((0.1, 0.1), (0.5, 0.1), (0.3, 0.6)):
            drawing.click(x, y)
        page.get_by_role("button", name="Save areas").click()
        expect(page.locator(".mask-editor .form-status")).to_contain_text("Saved")
        [polygon] = server.get_json("/api/cameras")[0]["motion"]["mask"]
        assert len(polygon) == 3
        assert polygon[0] == pytest.approx([0.1, 0.1], abs=0.02)
        page.reload()
        expect(page.locator("canvas.mask-canvas")).to_have_attribute("data-areas", "1")
        watched.assert_no_errors()


def test_mask_areas_can_be_removed_one_by_one_and_points_undone(
    tmp_path: Path, open_page: PageFactory
) -> None:
    with ServerThread(demo_config(str(tmp_path))) as server:
        drawing = MaskDrawing(server, open_page)
        watched, page, canvas, click = drawing.watched, drawing.page, drawing.canvas, drawing.click
        for x, y in ((0.1, 0.1), (0.3, 0.1), (0.2, 0.3)):
            click(x, y)
        page.get_by_role("button", name="Finish area").click()
        for x, y in ((0.6, 0.6), (0.9, 0.6), (0.5, 0.5), (0.8, 0.9)):
            click(x, y)
        page.get_by_role("button", name="Undo point").click()  # drops the last point, (0.8, 0.9)
        click(0.75, 0.95)
        page.get_by_role("button", name="Finish area").click()
        areas = page.get_by_role("list", name="Ignored areas of cam")
        expect(areas.locator("li")).to_have_count(2)
        page.get_by_role("button", name="Remove area 1").click()
        expect(areas.locator("li")).to_have_count(1)
        expect(canvas).to_have_attribute("data-areas", "1")
        page.get_by_role("button", name="Save areas").click()
        expect(page.locator(".mask-editor .form-status")).to_contain_text("Saved")
        [polygon] = server.get_json("/api/cameras")[0]["motion"]["mask"]
        expected = [[0.6, 0.6], [0.9, 0.6], [0.5, 0.5], [0.75, 0.95]]
        assert len(polygon) == len(expected)
        for point, wanted in zip(polygon, expected, strict=False):
            assert point == pytest.approx(wanted, abs=0.02)
        watched.assert_no_errors()


def test_motion_view_lays_the_detectors_picture_over_the_live_tile(
    tmp_path: Path, open_page: PageFactory
) -> None:
    config = demo_config(str(tmp_path))
    config.cameras.append(
        CameraConfig(
            name="off",
            source="demo",
            fps=10,
            width=320,
            height=240,
            motion=MotionConfig(enabled=False),
        )
    )
    with ServerThread(config) as server:
        watched = open_page()
        page = watched.page
        page.goto(server.url + "/")
        page.wait_for_selector(".tile.has-frame")
        toggle = page.get_by_role("button", name="Show what counts as motion on cam")
        expect(toggle).to_have_attribute("aria-pressed", "false")
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        overlay = ".tile[data-camera='cam'] .motion-overlay"
        page.wait_for_function(
            "(sel) => { const img = document.querySelector(sel);"
            " return img.complete && img.naturalWidth > 0; }",
            arg=overlay,
        )
        first = page.get_attribute(overlay, "src")
        page.wait_for_function(
            "([sel, first]) => document.querySelector(sel).getAttribute('src') !== first",
            arg=[overlay, first],
        )  # refreshes
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "false")
        expect(page.locator(".tile[data-camera='cam'] .motion-overlay")).to_be_hidden()
        expect(
            page.get_by_role("button", name="Show what counts as motion on off")
        ).to_be_disabled()
        watched.assert_no_errors()


def test_a_camera_that_cannot_record_says_why(tmp_path: Any, open_page: PageFactory) -> None:
    """PyAV broken (test_deferred makes it so in a real process): the tile's badge and the
    banner tell the user, who would otherwise find no clips and no reason."""
    with ServerThread(demo_config(str(tmp_path), fps=5, width=320, height=240)) as server:
        assert server.service is not None
        camera = server.service.context.cameras["cam"]
        watched = open_page()
        watched.page.goto(server.url + "/")
        tile = watched.page.locator(".tile[data-camera='cam']")
        expect(tile).to_have_class(re.compile(r"\bhas-frame\b"))
        expect(tile.locator(".pill-off")).to_be_hidden()
        camera.recording_error = "needs av, which is installed but does not load"
        badge = tile.locator(".pill-off")
        expect(badge).to_have_text("Cannot record", timeout=15000)
        expect(badge).to_have_attribute("title", re.compile("does not load"))
        banner = watched.page.locator(".banner")
        expect(banner).to_contain_text("cam cannot record: needs av, which is installed but")
        watched.assert_no_errors()
