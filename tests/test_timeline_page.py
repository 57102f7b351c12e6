"""The timeline page in headless Chromium against a real server with real footage: the day's
strip (footage, events, activity), playback across segment boundaries, seeking to an event,
and exporting a selected range."""

from __future__ import annotations

import datetime as dt
import itertools
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from camwatch.config import CameraConfig
from camwatch.recording.index import EventRecord
from camwatch.recording.segment_index import SegmentRecord, segment_path
from tests.helpers.browser import PageFactory
from tests.helpers.event_files import write_fragmented_clip, write_thumbnail
from tests.helpers.media import probe
from tests.helpers.support import ServerThread, demo_config, store_of, timeline_only, wait_until

pytestmark = pytest.mark.browser

expect: Any = None

# Friday 20 November 2026, 12:00 in Berlin (the browser's time zone in these tests)
NOON = dt.datetime(2026, 11, 20, 11, 0, tzinfo=dt.UTC).timestamp()
SEGMENT_S = 4.0
SEGMENTS = 3
EVENT_AT = NOON + 5.0  # inside the second segment
DAY_URL = "/#timeline/cam/2026-11-20"


@pytest.fixture(scope="module", autouse=True)
def _playwright_expect(chromium: Any) -> None:
    global expect
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=15000)
    expect = playwright_expect


def seed(server: ServerThread) -> None:
    """Three 4 s segments back to back from noon, an event in the second, and activity."""
    assert server.service is not None
    context = server.service.context
    assert context.segments is not None and context.activity is not None
    root = store_of(server).root
    for i in range(SEGMENTS):
        start = NOON + i * SEGMENT_S
        path = segment_path(root, "cam", start, f"{i + 1:012x}")
        write_fragmented_clip(path, int(SEGMENT_S * 10), width=160, height=120)
        context.segments.put(
            SegmentRecord(f"{i + 1:012x}", "cam", start, start + SEGMENT_S - 0.1,
                          str(path.relative_to(root)), path.stat().st_size, "complete")
        )  # fmt: skip
    thumbnail = write_thumbnail(root / "clips" / "cam" / "2026-11-20" / "event.jpg")
    store_of(server).add(
        EventRecord("ev1", "cam", EVENT_AT, EVENT_AT + 2.0, 20, 12, 5.5, "",
                    str(thumbnail.relative_to(root)), 0, "complete")
    )  # fmt: skip
    for second in range(int(SEGMENT_S * SEGMENTS)):
        context.activity.add("cam", NOON + second, 5.5 if 5 <= second <= 7 else 0.2)
    context.activity.flush()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    camera = CameraConfig(name="cam", source="demo", fps=5, width=160, height=120)
    config = demo_config(str(tmp_path_factory.mktemp("data")), cameras=[camera])
    with ServerThread(config, factory=timeline_only) as thread:
        seed(thread)
        yield thread


def open_day(open_page: PageFactory, server: ServerThread, **options: Any):
    watched = open_page(**options)
    watched.page.goto(server.url + DAY_URL)
    expect(watched.page.locator("#tl-strip .tl-footage")).to_have_count(SEGMENTS)
    return watched


def zoom_to_five_minutes(page: Any) -> None:
    page.locator("#tl-strip").focus()
    page.keyboard.press("Home")  # plays from the first footage of the day
    page.wait_for_function("() => Number(document.querySelector('#tl-clock')?.dataset.time) > 0")
    for _ in range(4):
        page.locator("#tl-zoom-in").click()
    expect(page.locator(".tl-zoom-label")).to_have_text("5 min")


def test_the_timeline_shows_the_day_its_footage_events_and_activity(open_page, server):
    watched = open_day(open_page, server)
    page = watched.page
    expect(page.locator("#tl-strip .tl-event")).to_have_count(1)
    expect(page.locator("#tl-strip .tl-event")).to_have_attribute("aria-label", "Event at 12:00:05")
    page.wait_for_function("() => document.querySelector('.tl-activity')?.dataset.points > 0")
    assert page.locator(".tl-activity-path").get_attribute("d").startswith("M")
    expect(page.locator("#tl-day")).to_have_value("2026-11-20")
    expect(page.locator("#tl-clock")).to_contain_text("20 November 2026")
    expect(page.locator(".tl-tick").first).to_be_visible()
    expect(page.get_by_role("link", name="Timeline")).to_have_attribute("aria-current", "page")
    watched.assert_no_errors()


SAMPLE_PLAYHEAD = """() => {
    const video = document.querySelector('#tl-video');
    window.playheadSamples = [];
    video.addEventListener('timeupdate', () => window.playheadSamples.push(
        [performance.now(), Number(document.querySelector('#tl-clock').dataset.time)]));
}"""


def test_playback_crosses_the_segment_boundaries_steadily(open_page, server):
    watched = open_day(open_page, server)
    page = watched.page
    page.evaluate(SAMPLE_PLAYHEAD)
    zoom_to_five_minutes(page)
    boundary_ms = (NOON + 2 * SEGMENT_S + 1.0) * 1000  # past both boundaries
    page.wait_for_function(
        "(t) => Number(document.querySelector('#tl-clock')?.dataset.time) > t",
        arg=boundary_ms,
        timeout=30000,
    )
    samples = page.evaluate("() => window.playheadSamples")
    assert len(samples) >= 10
    wall = [(b[0] - a[0]) / 1000 for a, b in itertools.pairwise(samples)]
    media = [(b[1] - a[1]) / 1000 for a, b in itertools.pairwise(samples)]
    assert all(step >= 0 for step in media), media  # never backwards
    assert max(media) < 1.0, media  # no jump
    assert max(wall) < 1.5, wall  # no stall
    rate = sum(media) / sum(wall)
    assert 0.7 < rate < 1.3, rate
    assert samples[0][1] < (NOON + SEGMENT_S) * 1000 < samples[-1][1]
    watched.assert_no_errors()


def fragmented_clip_with_sound(path: Path, seconds: float) -> Path:
    """H.264 + AAC in a fragmented MP4, as a camera with sound records it (ffmpeg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=10",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-ac", "1", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
         str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def test_playback_goes_on_from_silent_footage_into_footage_with_sound(
    open_page, tmp_path_factory: pytest.TempPathFactory
):
    """A microphone heard from the second segment on: each file's tracks are named to its
    SourceBuffer (a file with sound was refused before), and where they change playback
    starts over at that file instead of stopping."""
    camera = CameraConfig(name="cam", source="demo", fps=5, width=160, height=120)
    config = demo_config(str(tmp_path_factory.mktemp("data")), cameras=[camera])
    with ServerThread(config, factory=timeline_only) as server:
        assert server.service is not None and server.service.context.segments is not None
        root = store_of(server).root
        for i in range(SEGMENTS):
            start = NOON + i * SEGMENT_S
            path = segment_path(root, "cam", start, f"{i + 1:012x}")
            if i == 0:
                write_fragmented_clip(path, int(SEGMENT_S * 10), width=160, height=120)
            else:
                fragmented_clip_with_sound(path, SEGMENT_S)
            server.service.context.segments.put(
                SegmentRecord(f"{i + 1:012x}", "cam", start, start + SEGMENT_S - 0.1,
                              str(path.relative_to(root)), path.stat().st_size, "complete")
            )  # fmt: skip
        watched = open_day(open_page, server)
        page = watched.page
        zoom_to_five_minutes(page)
        past = (NOON + 2 * SEGMENT_S + 1.0) * 1000  # into the third file, the second with sound
        page.wait_for_function(
            "(t) => Number(document.querySelector('#tl-clock')?.dataset.time) > t",
            arg=past,
            timeout=30000,
        )
        decoded = page.locator("#tl-video").evaluate(
            "(video) => [video.webkitVideoDecodedByteCount, video.error && video.error.code]"
        )
        print("decoded video bytes, error:", decoded)
        assert decoded[0] > 0 and decoded[1] is None
        watched.assert_no_errors()


def test_tapping_an_event_plays_it(open_page, server):
    watched = open_day(open_page, server)
    page = watched.page
    zoom_to_five_minutes(page)
    page.locator("#tl-video").evaluate("(video) => video.pause()")
    page.locator("#tl-strip .tl-event").click()
    page.wait_for_function(
        """([start, end]) => {
            const video = document.querySelector('#tl-video');
            const at = Number(document.querySelector('#tl-clock').dataset.time);
            return !video.paused && at > start + 200 && at < end + 1000;
        }""",
        arg=[EVENT_AT * 1000, (EVENT_AT + 2) * 1000],
    )
    watched.assert_no_errors()


def test_selecting_a_range_exports_a_playable_mp4(open_page, server, tmp_path: Path):
    watched = open_day(open_page, server)
    page = watched.page
    zoom_to_five_minutes(page)
    page.locator("#tl-video").evaluate("(video) => video.pause()")
    footage = page.locator("#tl-strip .tl-footage")
    first, last = footage.first.bounding_box(), footage.last.bounding_box()
    assert first is not None and last is not None
    y = first["y"] + first["height"] / 2
    page.locator("#tl-select").click()
    expect(page.locator("#tl-select")).to_have_attribute("aria-pressed", "true")
    page.mouse.move(first["x"] + 1, y)
    page.mouse.down()
    page.mouse.move(last["x"] + last["width"] - 1, y, steps=5)
    page.mouse.up()
    expect(page.locator("#tl-export")).to_be_visible()
    expect(page.locator("#tl-selection-label")).to_contain_text("12:00")
    with page.expect_download() as download_info:
        page.locator("#tl-export").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".mp4")
    path = tmp_path / "export.mp4"
    download.save_as(path)
    info = probe(path)
    assert info["codec_name"] == "h264"
    assert info["duration"] >= SEGMENT_S * SEGMENTS - 2.5  # the strip is ~0.25 s a pixel here
    watched.assert_no_errors()


def test_phone_layout_is_usable_with_one_thumb(open_page, server):
    watched = open_day(open_page, server, width=390, height=844, is_mobile=True, has_touch=True)
    page = watched.page
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390
    for control in ("#tl-prev-event", "#tl-next-event", "#tl-zoom-in", "#tl-zoom-out", "#tl-live"):
        box = page.locator(control).bounding_box()
        assert box is not None and box["width"] >= 44 and box["height"] >= 43.5, control
        assert box["y"] + box["height"] <= 844 + 400, control  # within a thumb's reach of a scroll
    page.locator("#tl-strip").tap()
    page.wait_for_function("() => Number(document.querySelector('#tl-clock')?.dataset.time) > 0")
    watched.assert_no_errors()


def test_the_live_edge_follows_a_camera_recording_right_now(open_page, tmp_path: Path):
    camera = CameraConfig(name="cam", source="demo", fps=10, width=320, height=240)
    camera.record = "continuous"
    camera.segment_seconds = 4  # type: ignore[assignment]  # below the config's 10 s for a short test
    config = demo_config(str(tmp_path / "data"), cameras=[camera])
    with ServerThread(config) as live_server:
        began = time.time()

        def segments() -> list[dict[str, Any]]:
            query = f"start={began - 5}&end={time.time()}"
            found = live_server.get_json(f"/api/cameras/cam/recordings?{query}")["segments"]
            return list(found)

        def just_begun() -> bool:
            """The file being written is still empty: its header waits for its first fragment,
            a keyframe interval (2 s) in."""
            live = [s for s in segments() if s["live"]]
            begun = dt.datetime.fromisoformat(live[-1]["start"]).timestamp() if live else 0.0
            return time.time() - begun < 0.5

        wait_until(lambda: len(segments()) >= 2, timeout=30, message="a finished segment")
        watched = open_page()
        page = watched.page
        wait_until(just_begun, timeout=30, interval=0.05, message="a segment just begun")
        page.goto(live_server.url + "/#timeline/cam")
        expect(page.locator("#tl-strip .tl-footage").first).to_be_visible()
        page.locator("#tl-live").click()  # most likely before the new file has a byte
        page.wait_for_function(  # playing, near now
            "(now) => !document.querySelector('#tl-video').paused"
            " && Number(document.querySelector('#tl-clock')?.dataset.time) > now - 15000",
            arg=time.time() * 1000,
        )
        started = page.evaluate("() => Number(document.querySelector('#tl-clock').dataset.time)")
        # the picture goes on past what was on disk when Live was pressed (the growing file)
        page.wait_for_function(
            "(t) => Number(document.querySelector('#tl-clock').dataset.time) > t",
            arg=started + 6000,
            timeout=45000,
        )
        watched.assert_no_errors()


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def descriptor(tag: int, body: bytes) -> bytes:
    return bytes([tag, len(body)]) + body  # a one-byte length (FFmpeg writes four)


def test_the_timeline_names_a_files_aac_by_its_object_type_as_the_live_stream_does(
    open_page, server, tmp_path: Path
):
    """Debian's FFmpeg has no HE-AAC encoder: an AAC-LC file as recorded, the same file with
    its AudioSpecificConfig's object type made 5 (HE-AAC), and an esds written here with short
    descriptor lengths and an ES_Descriptor option, object type 29 (HE-AAC v2)."""
    recorded = fragmented_clip_with_sound(tmp_path / "lc.mp4", 1.0).read_bytes()
    with av.open(str(tmp_path / "lc.mp4")) as container:
        config = bytes(container.streams.audio[0].codec_context.extradata or b"")
    at = recorded.index(config, recorded.index(b"esds"))
    he_aac = recorded[:at] + bytes([5 << 3 | config[0] & 7]) + recorded[at + 1 :]
    es = struct.pack(">HBH", 1, 0x80, 7)  # ES_ID, streamDependenceFlag, dependsOn_ES_ID
    decoder = bytes([0x40, 0x15]) + bytes(11)  # MPEG-4 audio, audio stream, sizes and rates
    esds = box(
        b"esds",
        bytes(4)
        + descriptor(3, es + descriptor(4, decoder + descriptor(5, bytes([29 << 3 | 2, 0x88])))),
    )
    written = box(b"avcC", bytes([1, 0x42, 0xC0, 0x1E]) + bytes(8)) + box(b"mp4a", bytes(28) + esds)
    watched = open_page()
    page = watched.page
    page.goto(server.url + "/")
    found = page.evaluate(
        """async (files) => {
            const footage = await import(new URL("static/js/footage.js", document.baseURI));
            return files.map((bytes) => {
                const mime = footage.codecOf(new Uint8Array(bytes).buffer);
                return [mime, MediaSource.isTypeSupported(mime)];
            });
        }""",
        [list(recorded[:8192]), list(he_aac[:8192]), list(written)],
    )
    assert [mime for mime, _ in found] == [
        'video/mp4; codecs="avc1.42c00a,mp4a.40.2"',
        'video/mp4; codecs="avc1.42c00a,mp4a.40.5"',
        'video/mp4; codecs="avc1.42c01e,mp4a.40.29"',
    ]
    assert all(supported for _, supported in found[:2]), found  # Chromium plays both
    watched.assert_no_errors()
