"""AvSource against a real RTSP camera: a camera that goes silent without closing, or a server
that never answers, is a SourceError bounded by the read timeout, never a hang."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from camwatch.capture.av_source import AvSource
from camwatch.capture.h264_sps import sps_sizes
from camwatch.capture.packets import EncodedPacket
from camwatch.capture.sources import SourceError
from tests.helpers.camera_files import switching_stream, walking_figure
from tests.helpers.processes import free_port
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.stall_proxy import SilentServer, StallProxy

pytestmark = pytest.mark.slow

READ_TIMEOUT_S = 2.0
# a busy 2-core machine: the timeout itself, then closing and reporting it
MARGIN_S = 8.0


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtspCamera]:
    path = walking_figure(tmp_path_factory.mktemp("rtsp") / "cam.mp4", seconds=60)
    rtsp = RtspCamera(free_port(), {"cam": path}).start()
    yield rtsp
    rtsp.stop()


def read_until_error(source: AvSource, limit_s: float) -> tuple[list[EncodedPacket], float]:
    """Packets read until the source fails, and when it failed (monotonic); on a thread, so a
    read that hangs fails the test instead of hanging it."""
    packets: list[EncodedPacket] = []
    failed_at: list[float] = []

    def read() -> None:
        try:
            while True:
                packets.append(source.read_packet())
        except SourceError:
            failed_at.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(limit_s)
    assert failed_at, f"read_packet still blocked after {limit_s} s"
    return packets, failed_at[0]


def test_a_camera_that_goes_silent_mid_stream_is_a_source_error_within_the_timeout(
    camera: RtspCamera,
) -> None:
    proxy = StallProxy(("127.0.0.1", camera.port))
    source = AvSource(f"rtsp://127.0.0.1:{proxy.port}/cam", audio=True, read_timeout=READ_TIMEOUT_S)
    try:
        source.open()
        first = [source.read_packet() for _ in range(30)]
        assert any(p.is_video and p.keyframe for p in first)
        assert {p.stream.kind for p in first} == {"video", "audio"}
        proxy.stall()
        stalled_at = time.monotonic()
        _, failed_at = read_until_error(source, READ_TIMEOUT_S + 3 * MARGIN_S)
        # FFmpeg's socket timeout bounds it (its RTSP reader waits it out about twice here)
        assert failed_at - stalled_at < 2 * READ_TIMEOUT_S + MARGIN_S
    finally:
        source.close()
        proxy.close()


def test_a_server_that_never_answers_is_a_source_error_when_opening() -> None:
    server = SilentServer()
    source = AvSource(f"rtsp://127.0.0.1:{server.port}/cam", read_timeout=READ_TIMEOUT_S)
    started = time.monotonic()
    failure: list[BaseException] = []

    def open_it() -> None:
        try:
            source.open()
        except SourceError as e:
            failure.append(e)

    opener = threading.Thread(target=open_it, daemon=True)
    opener.start()
    opener.join(30)
    try:
        assert failure, "open() neither failed nor returned"
        # bounded by the socket timeout (or PyAV's open timeout, 10 s, whichever comes first)
        assert time.monotonic() - started < 10 + MARGIN_S
    finally:
        source.close()
        server.close()


def test_the_packets_are_the_cameras_in_order_with_its_streams(camera: RtspCamera) -> None:
    source = AvSource(camera.url("cam"))
    try:
        source.open()
        packets = [source.read_packet() for _ in range(120)]
    finally:
        source.close()
    video = [p for p in packets if p.is_video]
    audio = [p for p in packets if not p.is_video]
    assert video and audio
    assert all(p.stream == source.video for p in video)
    assert all(p.stream == source.audio for p in audio)
    for stream in (video, audio):  # the camera's timestamps, increasing, with capture times
        assert all(a.dts < b.dts for a, b in itertools.pairwise(stream))
        assert all(a.t <= b.t for a, b in itertools.pairwise(stream))
    # 90 kHz video at 10 fps: the camera's timestamps give capture times 0.1 s apart
    steps = [b.t - a.t for a, b in itertools.pairwise(video)]
    assert abs(sorted(steps)[len(steps) // 2] - 0.1) < 0.01


def test_a_camera_switching_to_frames_past_max_pixels_is_a_source_error_before_its_packets(
    tmp_path: Path,
) -> None:
    stream = switching_stream(tmp_path / "switch.ts", ("480x360", "1280x720"))
    camera = RtspCamera(free_port(), {"cam": stream}).start()
    source = AvSource(camera.url("cam"), max_pixels=640 * 480)
    try:
        source.open()
        packets, _ = read_until_error(source, 30)
    finally:
        source.close()
        camera.stop()
    sizes = {size for p in packets for size in sps_sizes(p.data, p.stream.extradata)}
    assert sizes == {(480, 360)}  # nothing of the new size came through
    assert len([p for p in packets if p.is_video]) >= 35  # the 4 s before it did
    # and the error says why, as the camera's offline status will
    source = AvSource(str(stream), max_pixels=640 * 480)
    source.open()
    with pytest.raises(SourceError, match=r"mid-stream, frames of 1280x720 .*max_frame_pixels"):
        for _ in range(1000):
            source.read_packet()
    source.close()
