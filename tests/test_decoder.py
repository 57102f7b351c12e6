"""Decoding on demand, with a real RTSP camera: nothing decoded while nobody needs pixels, the
footage still the camera's packets; a JPEG viewer, a snapshot or detection resumes it."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from camwatch import jpeg
from camwatch.capture.av_source import stream_info
from camwatch.capture.camera import Camera
from camwatch.capture.decoder import (
    DETECTION_DECODE_OPTIONS,
    FAITHFUL_DECODE_OPTIONS,
    PacketDecoder,
)
from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.config import CameraConfig
from camwatch.frame import Frame, Picture
from tests.helpers.camera_files import (
    camera_packets,
    packets,
    switching_stream,
    walking_figure,
)
from tests.helpers.http_client import request
from tests.helpers.live_clients import decode_jpeg, receive_sync
from tests.helpers.processes import free_port
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.support import ServerThread, demo_config, wait_until

pytestmark = pytest.mark.slow

# the figure walks only after the first phases (detection off) are over
WALKS = ((26.0, 32.0), (40.0, 46.0), (52.0, 58.0))


def camera_of(server: ServerThread) -> Camera:
    assert server.service is not None
    return server.service.context.cameras["cam"]


def metric(server: ServerThread, name: str) -> float:
    _, _, body = server.get("/metrics")
    line = next(x for x in body.decode().splitlines() if x.startswith(f'{name}{{camera="cam"}}'))
    return float(line.split()[-1])


def segment_files(server: ServerThread, data_dir: Path, since: float) -> list[Path]:
    query = urllib.parse.urlencode({"start": since, "end": time.time()})
    found = server.get_json(f"/api/cameras/cam/recordings?{query}")["segments"]

    def path_of(segment_id: str) -> str:
        assert server.service is not None and server.service.context.segments is not None
        record = server.service.context.segments.get(segment_id)
        assert record is not None
        return record.path

    return [data_dir / server.call(lambda i=s["id"]: path_of(i)) for s in found]


def wait_for_more_packets(camera: Camera, count: int) -> None:
    """Wait on the camera's own packet count (not a clock): `count` more video packets."""
    target = camera.state.frames_captured + count
    wait_until(lambda: camera.state.frames_captured >= target, timeout=20, message="packets")


def assert_decodes_nothing_now(camera: Camera) -> None:
    wait_until(lambda: camera.state.decoding_paused, timeout=20, message="decoding paused")
    wait_for_more_packets(camera, 5)  # whatever was queued before the pause is decoded by now
    before = camera.frames_decoded
    wait_for_more_packets(camera, 20)
    assert camera.frames_decoded == before


def test_nothing_is_decoded_until_a_viewer_a_snapshot_or_detection_needs_pixels(tmp_path):
    footage = walking_figure(tmp_path / "walk.mp4", seconds=64, gop=10, walks=WALKS)
    rtsp = RtspCamera(free_port(), {"walk": footage}).start()
    data_dir = tmp_path / "data"
    try:
        camera_config = CameraConfig(name="cam", source=rtsp.url("walk"), fps=10, width=0)
        camera_config.height = 0
        camera_config.record = "continuous"
        camera_config.segment_seconds = 2  # type: ignore[assignment]  # short, for a short test
        camera_config.motion.enabled = False
        camera_config.motion.min_motion_frames = 3
        began = time.time()
        with ServerThread(demo_config(str(data_dir), cameras=[camera_config])) as server:
            camera = camera_of(server)
            wait_until(
                lambda: len(segment_files(server, data_dir, began - 5)) >= 3,
                timeout=60,
                message="three segments",
            )
            # detection off, nobody watching: not one picture decoded, the footage recorded
            assert camera.state.online and camera.state.decoding_paused
            assert camera.frames_decoded == 0
            assert metric(server, "camwatch_frames_decoded_total") == 0
            source = [p["data_hash"] for p in packets(footage)]
            finished = segment_files(server, data_dir, began - 5)[:2]
            joined = [p["data_hash"] for path in finished for p in packets(path)]
            first = source.index(joined[0])
            assert joined == source[first : first + len(joined)]  # byte for byte, none lost
            assert camera.hub.latest is None or not camera.hub.latest.online

            # a JPEG viewer arrives: frames from the next keyframe on, then none once it left
            url = f"ws://127.0.0.1:{server.port}/webcam"
            reception = receive_sync(url, 2.0)
            assert len(reception.messages) >= 10  # 2 s at 10 fps, give or take
            frame = decode_jpeg(bytes(reception.messages[-1]))  # type: ignore[arg-type]
            assert frame.shape[:2] == (360, 480)
            assert camera.frames_decoded > 0
            assert_decodes_nothing_now(camera)

            # a snapshot while nothing is decoded waits for the next keyframe's picture
            decoded = camera.frames_decoded
            response = request(server.port, "GET", "/snapshot.jpg")
            assert response.status == 200
            assert jpeg.dimensions(response.body) == (480, 360)
            assert camera.frames_decoded > decoded
            assert_decodes_nothing_now(camera)

            # detection switched on again (PATCH, as the UI and Home Assistant do) detects
            response = request(server.port, "PATCH", "/api/cameras/cam/motion", {"enabled": True})
            assert response.status == 200
            wait_until(lambda: not camera.state.decoding_paused, timeout=10, message="decoding")
            events = wait_until(
                lambda: server.get_json("/api/events"), timeout=60, message="a motion event"
            )
            assert events[0]["camera"] == "cam"
            assert camera.recorder is not None and camera.recorder.detect_count > 0

            # and off again: the event ends, decoding stops
            response = request(server.port, "PATCH", "/api/cameras/cam/motion", {"enabled": False})
            assert response.status == 200
            assert_decodes_nothing_now(camera)
            wait_until(lambda: not camera.recording, timeout=10, message="the event ended")
    finally:
        rtsp.stop()


def reference_decode(
    info: StreamInfo, sent: list[EncodedPacket], options: dict[str, str]
) -> list[np.ndarray]:
    """The pictures of `sent`, decoded as the decoder does with `options`, then copied."""
    reference = av.CodecContext.create("h264", "r")
    reference.extradata, reference.thread_count = info.extradata, 1
    reference.options = dict(options)
    copies = []
    for packet in sent:
        av_packet = av.Packet(packet.data)
        av_packet.pts, av_packet.dts = packet.pts, packet.dts
        copies += [picture.to_ndarray() for picture in reference.decode(av_packet)]
    return copies


def decode_all(
    info: StreamInfo, sent: list[EncodedPacket], faithful: Callable[[int], bool]
) -> list[Picture]:
    """Every packet through a PacketDecoder at the pace it decodes (none dropped), the i-th
    submitted with faithful(i)."""
    kept: list[Picture] = []
    decoder = PacketDecoder("cam", info, kept.append, faithful=faithful(0))
    decoder.start()
    try:
        for i, packet in enumerate(sent):
            wait_until(lambda i=i: decoder.frames_decoded >= i - 10, timeout=30)
            assert decoder.submit(packet, faithful=faithful(i))
        wait_until(lambda: len(kept) >= len(sent) - 2, timeout=30, message="pictures")
    finally:
        decoder.stop()
    return kept


def test_decoded_pictures_keep_their_pixels_while_later_ones_are_decoded(tmp_path):
    """Pictures hold the decoder's own planes (not copies): each one kept keeps its pixels as
    the decoder goes on, and gives the same yuv420p, grey image and JPEG as a copy would."""
    footage = walking_figure(tmp_path / "walk.mp4", seconds=5, gop=10, walks=((0.0, 5.0),))
    info, _, found = camera_packets(footage)
    sent = [p for p in found if p.is_video]
    copies = reference_decode(info, sent, DETECTION_DECODE_OPTIONS)
    kept = decode_all(info, sent, lambda i: False)
    assert len(kept) >= 40
    for picture, copy in zip(kept, copies, strict=False):
        frame = Frame.of(picture, 1)
        copied = Frame.of(Picture.of_i420(copy, captured_at=0, monotonic=0), 2)
        assert np.array_equal(frame.i420, copy)
        assert np.array_equal(frame.grey_small(80), copied.grey_small(80))
        assert frame.jpeg(80) == copied.jpeg(80)


@pytest.mark.parametrize("large", ["1280x720", "1920x1080"])  # decoded, and refused by FFmpeg
def test_a_switch_past_max_pixels_delivers_no_picture_of_it_and_is_a_failure(tmp_path, large):
    # MPEG-4 Part 2 (no SPS for the source to read): the decoder is the one that sees the size
    stream = switching_stream(tmp_path / "s.ts", ("320x240", large), codec="mpeg4", seconds=2)
    with av.open(str(stream)) as container:
        info = stream_info(container.streams.video[0])
        sent = [
            EncodedPacket(info, bytes(p), p.dts, p.pts, 0.0, 0.0, p.is_keyframe)
            for p in container.demux(video=0)
            if p.size and p.dts is not None and p.pts is not None
        ]
    kept: list[Picture] = []
    decoder = PacketDecoder("cam", info, kept.append, max_pixels=640 * 480)
    decoder.start()
    try:
        for i, packet in enumerate(sent):
            wait_until(lambda i=i: decoder.frames_decoded >= i - 10 or decoder.failure, timeout=30)
            decoder.submit(packet)
        wait_until(lambda: decoder.failure is not None, timeout=30, message="a failure")
    finally:
        decoder.stop()
    assert decoder.failure is not None and decoder.failure.startswith("mid-stream, frames")
    assert decoder.failure.endswith("larger than max_frame_pixels (307200)")
    assert f"frames of {large} are" in decoder.failure  # the size the stream declared
    assert {(p.width, p.height) for p in kept} == {(320, 240)} and len(kept) >= 15


def mpeg4_packets(path: Path) -> tuple[StreamInfo, list[EncodedPacket]]:
    with av.open(str(path)) as container:
        info = stream_info(container.streams.video[0])
        return info, [
            EncodedPacket(info, bytes(p), p.dts, p.pts, 0.0, 0.0, p.is_keyframe)
            for p in container.demux(video=0)
            if p.size and p.dts is not None and p.pts is not None
        ]


class _ForgetfulCodec:
    """A decoder that fails on a packet and forgets its size (as MPEG-4 does when it refuses
    one), here for a reason other than the size."""

    width = height = 0

    def decode(self, packet: av.Packet) -> list[av.VideoFrame]:
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")


def test_an_error_that_leaves_no_size_is_a_size_refused_only_when_the_stream_says_so(
    tmp_path, caplog
):
    stream = switching_stream(tmp_path / "s.ts", ("320x240",), codec="mpeg4", seconds=2)
    info, sent = mpeg4_packets(stream)
    decoder = PacketDecoder("cam", info, lambda picture: None, max_pixels=640 * 480)
    decoder.start()
    try:
        for packet in sent[:5]:
            decoder.submit(packet)
        wait_until(lambda: decoder.frames_decoded >= 5, timeout=30, message="frames decoded")
        decoder._codec = _ForgetfulCodec()  # type: ignore[assignment]
        decoder.submit(sent[5])  # a P-frame: no new codec context for it
        wait_until(lambda: "cannot decode a packet" in caplog.text or decoder.failure, timeout=30)
    finally:
        decoder.stop()
    assert decoder.failure is None  # its headers declare 320x240: not "too large"


def test_pictures_someone_sees_keep_the_loop_filter_from_the_next_keyframe(tmp_path):
    """Pictures for detection only are decoded without the loop filter; once someone will see
    them (faithful) they are decoded with it from the next keyframe on, and without it again
    from the keyframe after that stops: the same pixels as a whole decode in either mode."""
    footage = walking_figure(tmp_path / "walk.mp4", seconds=6, gop=10, walks=((0.0, 6.0),))
    info, _, found = camera_packets(footage)
    sent = [p for p in found if p.is_video]
    keyframes = [i for i, p in enumerate(sent) if p.keyframe]
    assert keyframes[:6] == [0, 10, 20, 30, 40, 50]
    faithful = {i: 15 <= i < 35 for i in range(len(sent))}  # asked mid-GOP, both ways
    kept = decode_all(info, sent, faithful.__getitem__)
    plain = reference_decode(info, sent, DETECTION_DECODE_OPTIONS)
    filtered = reference_decode(info, sent, FAITHFUL_DECODE_OPTIONS)
    assert len(kept) == len(plain) == len(filtered) == len(sent)
    assert not np.array_equal(plain[15], filtered[15])  # the filter changes this footage
    for i, picture in enumerate(kept):
        expected = filtered[i] if 20 <= i < 40 else plain[i]  # switched at keyframes 20 and 40
        assert np.array_equal(Frame.of(picture, i).i420, expected), i
