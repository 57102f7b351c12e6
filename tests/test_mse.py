"""The websocket's ?format=mp4 from a real RTSP camera: an init segment, then fMP4 fragments of
the camera's own packets; Chromium's live tile plays it through MSE; a slow viewer skips ahead
instead of queueing; a JPEG camera refuses it so the page falls back to JPEG."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from pathlib import Path
from typing import Any

import pytest
import tornado.websocket

from camwatch.capture import fmp4
from camwatch.capture.fmp4 import SOUND_GONE_S, FragmentHub, LiveMuxer
from tests.helpers.camera_files import (
    camera_packets,
    decode_errors,
    packets,
    sound_timeline,
    streams,
    switching_stream,
    walking_figure,
)
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.live_clients import bytes_waiting, stuck_websocket_client
from tests.helpers.processes import free_port
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 s: the cameras end then (reconnect, and close every live viewer with 1012), so the
    tests on them must be done well before, also on a busy machine."""
    folder = tmp_path_factory.mktemp("footage")
    return walking_figure(folder / "cam.mp4", seconds=120, walks=((3.0, 8.0),), gop=10)


@pytest.fixture(scope="module")
def camwatch(tmp_path_factory: pytest.TempPathFactory, footage: Path) -> Any:
    """Three RTSP cameras of the same footage: H.264 with AAC ("cam"), without sound ("mute")
    and with G.711 ("g711"), and a JPEG one."""
    servers = {
        audio: RtspCamera(free_port(), {"cam": footage}, audio=audio).start()
        for audio in ("aac", "none", "pcma")
    }
    cameras = f"""
[[cameras]]
name = "cam"
source = "{servers["aac"].url("cam")}"
[[cameras]]
name = "mute"
source = "{servers["none"].url("cam")}"
[[cameras]]
name = "g711"
source = "{servers["pcma"].url("cam")}"
[[cameras]]
name = "jpeg"
source = "demo"
width = 320
height = 240
"""
    process = CamwatchProcess(tmp_path_factory.mktemp("camwatch"), cameras=cameras).start()
    wait_until(
        lambda: all(_camera(process, name)["online"] for name in ("cam", "mute", "g711")),
        timeout=30,
        message="the RTSP cameras online",
    )
    yield process
    process.kill()
    for server in servers.values():
        server.stop()


def _camera(process: CamwatchProcess, name: str) -> dict[str, Any]:
    cameras: list[dict[str, Any]] = process.get_json("/api/cameras")
    return next(c for c in cameras if c["name"] == name)


async def _messages(url: str, binary: int) -> list[str | bytes]:
    connection = await tornado.websocket.websocket_connect(url)
    received: list[str | bytes] = []
    try:
        while sum(isinstance(m, bytes) for m in received) < binary:
            message = await asyncio.wait_for(connection.read_message(), 15)
            assert message is not None, f"closed after {received[:1]}"
            received.append(message)
    finally:
        connection.close()
    return received


async def _until_closed(url: str) -> tuple[list[str | bytes], int | None]:
    """Everything a viewer gets until the server closes the socket, and the close code."""
    connection = await tornado.websocket.websocket_connect(url)
    received: list[str | bytes] = []
    while (message := await asyncio.wait_for(connection.read_message(), 30)) is not None:
        received.append(message)
    return received, connection.close_code


def _video_size(tmp_path: Path, name: str, received: list[str | bytes]) -> tuple[int, int]:
    """The size a live stream's init segment declares; its pictures must all decode at it."""
    stream = tmp_path / name
    stream.write_bytes(b"".join(m for m in received if isinstance(m, bytes)))
    video = next(s for s in streams(stream) if s["codec_type"] == "video")
    assert decode_errors(stream) == "", name
    return video["width"], video["height"]


def test_a_camera_changing_size_in_band_restarts_live_viewers_on_a_new_init(tmp_path):
    # a real RTSP camera: 10 s at 480x360, then 10 s at 640x480 (SPS/PPS in band); nothing
    # decoded (detection off), so the new size is learnt from the stream, not from pictures
    footage = switching_stream(tmp_path / "switch.ts", ("480x360", "640x480"), seconds=10)
    rtsp = RtspCamera(free_port(), {"cam": footage}).start()
    cameras = f"""
[[cameras]]
name = "cam"
source = "{rtsp.url("cam")}"
[cameras.motion]
enabled = false
"""
    process = CamwatchProcess(tmp_path, cameras=cameras).start()
    url = f"ws://127.0.0.1:{process.port}/cameras/cam/ws?format=mp4"
    try:
        wait_until(lambda: _camera(process, "cam")["online"], timeout=30, message="online")
        assert (_camera(process, "cam")["width"], _camera(process, "cam")["height"]) == (480, 360)
        before, code = asyncio.run(_until_closed(url))  # open at 480x360
        assert code == 1012, f"closed with {code} after {len(before)} messages"
        after = asyncio.run(_messages(url, 21))
        size = _camera(process, "cam")["width"], _camera(process, "cam")["height"]
    finally:
        process.kill()
        rtsp.stop()
    assert sum(isinstance(m, bytes) for m in before) > 10  # the old size played
    assert _video_size(tmp_path, "before.mp4", before) == (480, 360)
    assert json.loads(after[0])["type"] == "init"
    assert _video_size(tmp_path, "after.mp4", after) == (640, 480)
    assert size == (640, 480)
    assert "Traceback" not in process.log_text()


def test_mp4_socket_sends_init_then_fragments_of_the_cameras_packets(camwatch, footage, tmp_path):
    assert _camera(camwatch, "cam")["codec"] == "h264"
    url = f"ws://127.0.0.1:{camwatch.port}/cameras/cam/ws?format=mp4"
    received = asyncio.run(_messages(url, 41))
    init = json.loads(received[0])
    assert init["type"] == "init" and init["mime"].startswith('video/mp4; codecs="avc1.')
    assert init["mime"].endswith(',mp4a.40.2"') and init["audio"] == "aac"  # its sound too
    binary = [m for m in received if isinstance(m, bytes)]
    assert binary[0][4:8] == b"ftyp" and b"moov" in binary[0]
    assert all(m[4:8] == b"moof" for m in binary[1:])
    stream = tmp_path / "live.mp4"
    stream.write_bytes(b"".join(binary))
    ours = packets(stream)
    theirs = {p["data_hash"] for p in packets(footage)}
    assert len(ours) == 40 and ours[0]["flags"].startswith("K")
    assert all(p["data_hash"] in theirs for p in ours)  # the camera's bytes, not re-encoded
    sound = packets(stream, "a")
    assert len(sound) > 60  # 4 s of AAC (47 packets a second), the camera's own
    camera_sound = {q["data_hash"] for q in packets(footage, "a")}  # one ffprobe, not one a packet
    assert all(p["data_hash"] in camera_sound for p in sound)
    video_start, video_end, sound_start, sound_end, gap = sound_timeline(stream)
    assert abs(sound_start - video_start) <= 0.3 and gap < 0.2, (sound_start, gap)
    assert sound_end >= video_end - 0.5
    assert decode_errors(stream) == ""


@pytest.mark.parametrize("camera", ["mute", "g711"])
def test_cameras_without_aac_stream_video_only(camwatch, camera, tmp_path):
    """No sound, or sound MSE does not play (G.711): the live MP4 is the video alone."""
    url = f"ws://127.0.0.1:{camwatch.port}/cameras/{camera}/ws?format=mp4"
    received = asyncio.run(_messages(url, 21))
    init = json.loads(received[0])
    assert init["audio"] is None and "mp4a" not in init["mime"]
    stream = tmp_path / "live.mp4"
    stream.write_bytes(b"".join(m for m in received if isinstance(m, bytes)))
    kinds = [s["codec_type"] for s in streams(stream)]
    assert kinds == ["video"] and len(packets(stream)) == 20


def test_live_picture_goes_on_when_the_cameras_sound_stops(footage):
    """FFmpeg's interleaver would hold the video until the sound comes back (10 s by default):
    every frame still comes out, two frames later (the interleaver holds one, the muxer cuts
    a fragment when the next packet arrives), one message a frame."""
    video, audio, found = camera_packets(footage)
    muxer = LiveMuxer(video, audio)
    assert muxer.mime.endswith(',mp4a.40.2"')
    frames: list[tuple[float, list[tuple[bytes, bool]]]] = []
    for packet in found[: len(found) // 4]:
        if not packet.is_video and packet.t > 2.0:
            continue  # the sound stops at 2 s
        fed = muxer.feed(packet)
        if packet.is_video:
            frames.append((packet.t, fed))
    muxer.close()
    late = [(t, fed) for t, fed in frames if t > 2.5]
    assert len(late) > 20
    # one fragment per frame: the one two frames back, keyframes where the camera's were
    assert all(len(fed) == 1 for _, fed in late), [
        (t, len(fed)) for t, fed in late if len(fed) != 1
    ]
    keyframes = {round(p.t, 3) for p in found if p.is_video and p.keyframe}
    previous = [round(t - 0.2, 3) for t, _ in late]
    assert [fed[0][1] for _, fed in late] == [t in keyframes for t in previous]


def test_a_stream_whose_sound_comes_a_moment_after_its_video_starts_with_it(footage):
    """Right after connecting the camera's first keyframe may come before its first sound:
    the live stream waits for it (up to SOUND_GONE_S) rather than start video only and then
    make every viewer start over."""
    video, audio, found = camera_packets(footage)
    hub = FragmentHub()
    hub.on_streams(video, audio)
    hub.join()
    generations = set()
    for packet in found:
        if packet.t > 4:
            break
        if not packet.is_video and packet.t < 0.5:
            continue  # the sound begins half a second after the video
        hub.on_packet(packet)
        if hub.muxer is not None:
            generations.add(hub.generation)
            assert hub.muxer.audio is not None
    hub.leave()
    assert len(generations) == 1  # one muxer, with sound, from the keyframe at 1 s


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def fragment(track: int, payload: bytes) -> bytes:
    """moof (mfhd, traf > tfhd of `track`) + mdat, as FFmpeg's MP4 muxer writes them."""
    tfhd = box(b"tfhd", struct.pack(">II", 0x020000, track))
    return box(b"moof", box(b"mfhd", bytes(8)) + box(b"traf", tfhd)) + box(b"mdat", payload)


def test_muxer_output_is_split_into_fragments_by_track_and_a_cut_box_waits():
    sound, frame = fragment(2, b"aac"), fragment(1, b"h264")
    data = sound + frame + frame[:20]
    found, rest = fmp4._fragments(data)
    assert found == [(2, sound), (1, frame)] and rest == frame[:20]
    found, rest = fmp4._fragments(rest + frame[20:])
    assert found == [(1, frame)] and rest == b""


def test_muxer_bytes_that_never_complete_a_box_start_the_live_stream_over_logged_once(
    footage, caplog
):
    """A box whose end never comes (here one declared 1 GB long) would keep every later byte
    and frame waiting: the muxer is given up and a new one starts at the next keyframe."""
    video, audio, found = camera_packets(footage)
    hub = FragmentHub()
    hub.on_streams(video, audio)
    hub.join()
    cut: list[float] = []  # capture times of the packets that yielded a fragment
    broken_at, first_generation = 0.0, 0
    for packet in found:
        if packet.t > 6:
            break
        muxer = hub.muxer
        if packet.t > 2.05 and not broken_at and muxer is not None:
            muxer._sink.write(struct.pack(">I4s", 2**30, b"mdat") + bytes(64))
            broken_at, first_generation = packet.t, hub.generation
        sent = hub._seq
        hub.on_packet(packet)
        if hub._seq > sent:
            cut.append(packet.t)
        if broken_at and muxer is not None:
            assert len(muxer._unfinished) <= fmp4.MAX_PENDING_BYTES
    hub.leave()
    assert broken_at and hub.generation == first_generation + 1  # one new muxer, at 3 s
    assert next(t for t in cut if t > broken_at) > 3.0  # from the keyframe at 3 s on
    assert max(cut) > 5.8  # and the live stream goes on
    warned = [r for r in caplog.records if r.name == "camwatch.capture.fmp4"]
    assert [r.levelno for r in warned] == [logging.WARNING], warned


def test_live_stream_drops_the_sound_track_while_the_camera_sends_none(footage):
    """A browser waits for a track that stops (the picture would freeze): with no sound for
    SOUND_GONE_S the stream starts over video only at a keyframe, and with sound once back."""
    video, audio, found = camera_packets(footage)
    hub = FragmentHub()
    hub.on_streams(video, audio)
    hub.join()
    carried: dict[float, bool] = {}  # at each video keyframe: the live stream has sound
    generations = set()
    for packet in found:
        if packet.t > 14:
            break
        if not packet.is_video and 4.0 <= packet.t < 10.0:
            continue  # the camera's sound stops for 6 s
        hub.on_packet(packet)
        if packet.is_video and packet.keyframe:
            assert hub.muxer is not None
            carried[round(packet.t)] = hub.muxer.audio is not None
            generations.add(hub.generation)
    hub.leave()
    print(carried)
    assert all(carried[t] for t in (0, 1, 2, 3, 4, 5))
    assert min(t for t, sound in carried.items() if not sound) == 4 + SOUND_GONE_S
    assert not any(carried[t] for t in (6, 7, 8, 9, 10))  # none since 4 s: video only
    assert all(carried[t] for t in (11, 12, 13))  # back at the first keyframe after 10 s
    assert len(generations) == 3  # with sound, without, with again: viewers start over


def test_a_jpeg_camera_refuses_mp4_with_a_fallback_message(camwatch):
    async def first_message_and_close() -> tuple[Any, int | None]:
        url = f"ws://127.0.0.1:{camwatch.port}/cameras/jpeg/ws?format=mp4"
        connection = await tornado.websocket.websocket_connect(url)
        first = await asyncio.wait_for(connection.read_message(), 10)
        closed = await asyncio.wait_for(connection.read_message(), 10)
        assert closed is None
        return first, connection.close_code

    first, code = asyncio.run(first_message_and_close())
    message = json.loads(first)
    assert message["type"] == "error" and message["fallback"] == "jpeg"
    assert code == 1003


def test_a_viewer_that_stops_reading_gets_nothing_queued_and_others_go_on(camwatch):
    stuck = stuck_websocket_client(camwatch.port, "/cameras/cam/ws?format=mp4")
    try:
        url = f"ws://127.0.0.1:{camwatch.port}/cameras/cam/ws?format=mp4"
        started = time.monotonic()
        received = asyncio.run(_messages(url, 31))  # 3 s of video while the other is stuck
        assert time.monotonic() - started < 15
        assert len(received) >= 31
        # what the stuck one was sent is bounded by the socket buffers, not a server queue
        assert bytes_waiting(stuck) < 16 * 1024 * 1024
    finally:
        stuck.close()


def test_live_tile_plays_the_cameras_h264_through_mse_in_chromium(camwatch, open_page):
    watched = open_page()
    page = watched.page
    page.goto(f"http://127.0.0.1:{camwatch.port}/")
    page.wait_for_selector('article[data-camera="cam"][data-stream="mp4"]')
    page.wait_for_selector('article[data-camera="jpeg"][data-stream="jpeg"]')
    played = page.wait_for_function(
        """() => {
            const v = document.querySelector('article[data-camera="cam"] video');
            return v && v.readyState >= 2 && v.currentTime > 1 && v.videoWidth > 0 &&
                   v.webkitVideoDecodedByteCount > 0 &&
                   [v.videoWidth, v.currentTime, v.webkitVideoDecodedByteCount];
        }""",
        timeout=30000,
    ).json_value()
    print("MSE live view:", played)
    assert played[0] == 480
    first = played[1]
    later = page.wait_for_function(
        """(t) => {
            const v = document.querySelector('article[data-camera="cam"] video');
            return v.currentTime > t + 2 && v.currentTime;
        }""",
        arg=first,
        timeout=20000,
    ).json_value()
    assert later > first + 2  # it keeps playing, near the live edge
    watched.assert_no_errors()


def test_live_tile_plays_the_cameras_sound_once_unmuted_and_a_silent_camera_still_plays(
    camwatch, open_page
):
    watched = open_page()
    page = watched.page
    page.goto(f"http://127.0.0.1:{camwatch.port}/")
    cam, mute = 'article[data-camera="cam"]', 'article[data-camera="mute"]'
    page.wait_for_selector(f'{cam}[data-stream="mp4"] button[data-role="sound"]:not([hidden])')
    button = page.locator(f'{cam} button[data-role="sound"]')
    assert button.inner_text() == "Sound off" and button.get_attribute("aria-pressed") == "false"
    assert page.eval_on_selector(f"{cam} video", "v => v.muted") is True  # muted by default
    button.click()
    heard = page.wait_for_function(
        """(selector) => {
            const v = document.querySelector(selector);
            return !v.muted && !v.paused && v.webkitAudioDecodedByteCount > 0 &&
                   v.webkitAudioDecodedByteCount;
        }""",
        arg=f"{cam} video",
        timeout=20000,
    ).json_value()
    later = page.wait_for_function(
        """([selector, before]) => {
            const v = document.querySelector(selector);
            return v.webkitAudioDecodedByteCount > before && v.webkitAudioDecodedByteCount;
        }""",
        arg=[f"{cam} video", heard],
        timeout=20000,
    ).json_value()
    print("live sound decoded:", heard, "then", later, "bytes")
    assert button.inner_text() == "Sound on" and button.get_attribute("aria-pressed") == "true"
    # the camera without sound plays its video through MSE, and offers no sound button
    played = page.wait_for_function(
        """(selector) => {
            const v = document.querySelector(selector);
            return v && v.currentTime > 1 && v.webkitVideoDecodedByteCount > 0 &&
                   v.webkitAudioDecodedByteCount === 0 && v.currentTime;
        }""",
        arg=f'{mute}[data-stream="mp4"] video',
        timeout=30000,
    ).json_value()
    assert played > 1
    assert page.locator(f'{mute} button[data-role="sound"]').is_hidden()
    watched.assert_no_errors()


# the tile shows the camera's JPEG frames (the MP4 socket never gets that far)
JPEG_LIVE = 'article[data-camera="jpeg"][data-stream="jpeg"][data-connection="live"]'


def test_a_camera_refusing_mp4_falls_back_to_jpeg_and_mse_is_tried_again_once_it_is_back(
    camwatch, open_page
):
    """The demo camera sends no H.264: a camera list that says it does (as for an H.264
    camera at the moment it drops) gets the server's refusal, and the tile shows JPEG without
    asking again every poll; once the list says it is not H.264 and then that it is again (the
    camera came back), MSE is tried again."""
    watched = open_page()
    page = watched.page
    claim = {"h264": True}

    def cameras(route: Any) -> None:
        response = route.fetch()
        listed = response.json()
        for camera in listed:
            if camera["name"] == "jpeg" and claim["h264"]:
                camera["codec"] = "h264"
        route.fulfill(response=response, json=listed)

    def polls(count: int) -> None:
        for _ in range(count):
            with page.expect_request(lambda r: r.url.endswith("/api/cameras"), timeout=15000):
                pass

    def mp4_socket(ws: Any) -> bool:
        return "/cameras/jpeg/ws?format=mp4" in ws.url

    attempts: list[str] = []
    page.on("websocket", lambda ws: mp4_socket(ws) and attempts.append(ws.url))
    page.route("**/api/cameras", cameras)
    with page.expect_websocket(mp4_socket, timeout=15000):
        page.goto(f"http://127.0.0.1:{camwatch.port}/")
    page.wait_for_selector(JPEG_LIVE)
    polls(3)  # the list still says H.264: no new attempt each poll
    assert len(attempts) == 1
    claim["h264"] = False  # the camera is offline or sends no H.264, and the list says so
    polls(2)
    claim["h264"] = True  # back with H.264
    with page.expect_websocket(mp4_socket, timeout=15000):
        pass
    page.wait_for_selector(JPEG_LIVE)
    polls(2)
    assert len(attempts) == 2
    watched.assert_no_errors()
