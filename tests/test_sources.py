"""Frame sources: file playback paced by timestamps, looping and ending, the demo scene, URLs,
and which source a `--source` value makes."""

from __future__ import annotations

import asyncio
import functools
import http.server
import threading
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from camwatch.capture.camera import Camera
from camwatch.capture.sources import (
    DemoSource,
    EndOfStream,
    FileSource,
    HttpSource,
    OpenCVSource,
    SourceError,
    make_source,
)
from camwatch.capture.thread import CaptureThread
from camwatch.config import CameraConfig, Config
from camwatch.frame import Frame, Picture
from camwatch.service import Service
from camwatch.wiring import add_integrations, attach_event_store, attach_recorder
from tests.helpers.live_clients import read_mjpeg_parts, websocket_binaries
from tests.helpers.media import probe
from tests.helpers.mjpeg_server import MjpegTestServer, jpeg_frame
from tests.helpers.support import ServerThread, demo_config, wait_until
from tests.helpers.webcam import FakeV4l2Webcam, mjpeg_file, split_jpegs, webcam_source

WIDTH, HEIGHT = 160, 120


def brightness(index: int) -> int:
    return 30 + 20 * index


def write_video(path: Path, times_s: Sequence[float]) -> Path:
    """An H.264 MP4 with one frame at each of `times_s` (variable rate allowed); frame i is a
    flat grey of brightness(i), so the order of playback can be read back."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"preset": "ultrafast", "crf": "10", "bf": "0"}
        for index, t in enumerate(times_s):
            image = np.full((HEIGHT, WIDTH, 3), brightness(index), np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def index_of(picture: Picture) -> int:
    """Which frame of write_video this is, from its brightness."""
    return round((float(pixels(picture).mean()) - 30) / 20)


def pixels(picture: Picture) -> np.ndarray:
    return Frame.of(picture, 1).bgr()


def read_timed(source: FileSource, count: int) -> tuple[list[int], list[float]]:
    """Indexes of the next `count` frames and when each arrived (seconds from the first)."""
    indexes, arrivals = [], []
    for _ in range(count):
        frame = source.read()
        arrivals.append(time.monotonic())
        indexes.append(index_of(frame))
    return indexes, [t - arrivals[0] for t in arrivals]


def test_a_file_plays_in_real_time_paced_by_its_timestamps(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.2, 0.8, 0.9, 1.5]  # uneven on purpose: pacing follows timestamps
    source = FileSource(str(write_video(tmp_path / "vfr.mp4", times)))
    source.open()
    try:
        indexes, arrivals = read_timed(source, len(times))
    finally:
        source.close()
    assert indexes == list(range(len(times)))
    for arrival, due in zip(arrivals, times, strict=True):
        assert due - 0.03 <= arrival <= due + 0.35, (arrivals, times)
    assert arrivals[3] - arrivals[2] > 0.4  # the gap in the file is a gap in playback


def test_a_file_without_loop_ends_cleanly(tmp_path: Path) -> None:
    source = FileSource(str(write_video(tmp_path / "short.mp4", [0.0, 0.05, 0.1])))
    source.open()
    try:
        assert [index_of(source.read()) for _ in range(3)] == [0, 1, 2]
        with pytest.raises(EndOfStream):
            source.read()
    finally:
        source.close()


def test_a_looping_file_starts_again_and_keeps_its_pace(tmp_path: Path) -> None:
    times = [0.0, 0.1, 0.2, 0.3]
    source = FileSource(str(write_video(tmp_path / "loop.mp4", times)), loop=True)
    source.open()
    try:
        indexes, arrivals = read_timed(source, 10)
    finally:
        source.close()
    assert indexes == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert 0.75 <= arrivals[-1] <= 1.6, arrivals  # about ten frame intervals, not a burst


def test_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        FileSource(str(tmp_path / "absent.mp4")).open()


def test_a_file_that_is_not_a_video_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video")
    with pytest.raises(SourceError):
        FileSource(str(path)).open()


def test_a_file_camera_ends_with_a_placeholder(tmp_path: Path) -> None:
    """Through the capture thread: every frame once, then offline with the reason, no reopen."""
    path = write_video(tmp_path / "clip.mp4", [0.0, 0.05, 0.1, 0.15])
    frames: list[Frame] = []
    opens: list[int] = []

    def factory() -> FileSource:
        opens.append(1)
        return FileSource(str(path))

    thread = CaptureThread("file", factory, frames.append, backoff_start=0.1, backoff_max=0.1)
    thread.start()
    try:
        # a second placeholder comes a second later, long after a reopen (backoff 0.1 s) would
        wait_until(lambda: sum(not f.online for f in frames) >= 2, message="two placeholders")
        assert [index_of(f) for f in frames if f.online] == [0, 1, 2, 3]
        assert not thread.state.online and "end of" in thread.state.message
        assert len(opens) == 1
    finally:
        thread.stop()


def test_the_demo_scene_is_paced_sized_and_moving() -> None:
    source = DemoSource(320, 240, fps=20, first_crossing_s=0.0, crossing_duration_s=1.0)
    source.open()
    started = time.monotonic()
    frames = [source.read() for _ in range(20)]
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed <= 2.0, elapsed  # 20 frames at 20 fps
    assert all((f.width, f.height) == (320, 240) for f in frames)
    first, middle = pixels(frames[0]).astype(int), pixels(frames[10]).astype(int)
    changed = (np.abs(first - middle).max(axis=2) > 40).mean()
    assert changed > 0.005  # the figure crossed


def test_the_demo_scene_stands_still_between_crossings() -> None:
    source = DemoSource(320, 240, fps=10, first_crossing_s=100.0, paced=False)
    source.open()
    frames = [pixels(source.read()).astype(int) for _ in range(5)]
    changed = (np.abs(frames[0] - frames[4]).max(axis=2) > 40).mean()
    assert changed < 0.01  # only noise and the clock


def test_the_demo_scene_defaults_to_720p() -> None:
    source = DemoSource(0, 0, fps=10, paced=False)
    source.open()
    assert pixels(source.read()).shape == (720, 1280, 3)


@pytest.mark.parametrize(
    "spec,kind",
    [
        ("demo", DemoSource),
        ("0", OpenCVSource),
        ("/dev/video2", OpenCVSource),
        ("http://cam.local/video.mjpg", HttpSource),
        ("https://cam.local/x", HttpSource),
        ("rtsp://cam.local/stream", OpenCVSource),
        ("clip.mp4", FileSource),
    ],
)
def test_make_source_picks_the_kind(spec: str, kind: type) -> None:
    source = make_source(spec, width=640, height=480, fps=5, loop=True)
    assert type(source) is kind
    if kind is FileSource:
        assert source.loop  # type: ignore[attr-defined]
    if kind is DemoSource:
        assert (source.width, source.height, source.fps) == (640, 480, 5)  # type: ignore


def test_a_device_that_does_not_exist_is_a_source_error() -> None:
    with pytest.raises(SourceError):
        make_source("/dev/video99").open()


def test_an_http_mjpeg_camera_passes_its_jpeg_through() -> None:
    with MjpegTestServer(fps=30) as camera:
        source = HttpSource(camera.url, timeout=5)
        source.open()
        try:
            frame = source.read()
        finally:
            source.close()
    assert frame.camera_jpeg == jpeg_frame(0)
    assert (frame.width, frame.height) == (160, 120)
    # viewers get the camera's bytes, not a re-encode
    assert Frame.of(frame, 1).jpeg(80) is frame.camera_jpeg


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """Plain HTTP file serving from tmp_path (a camera URL that is not MJPEG)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_an_http_url_that_is_not_mjpeg_is_read_by_ffmpeg(tmp_path: Path, file_server: str) -> None:
    write_video(tmp_path / "remote.mp4", [0.0, 0.1, 0.2])
    source = HttpSource(file_server + "/remote.mp4", timeout=5)
    source.open()
    try:
        frames = [source.read() for _ in range(3)]
    finally:
        source.close()
    assert [index_of(f) for f in frames] == [0, 1, 2]
    assert frames[0].camera_jpeg is None and pixels(frames[0]).shape == (HEIGHT, WIDTH, 3)


def test_an_http_url_that_does_not_answer_is_a_source_error(file_server: str) -> None:
    with pytest.raises(SourceError):
        HttpSource(file_server.rsplit(":", 1)[0] + ":1/video", timeout=2).open()


def test_an_http_404_is_a_source_error(file_server: str) -> None:
    with pytest.raises(SourceError, match="404"):
        HttpSource(file_server + "/missing.mjpg", timeout=5).open()


def test_a_file_held_up_resumes_in_real_time_instead_of_bursting(tmp_path: Path) -> None:
    source = FileSource(str(write_video(tmp_path / "steady.mp4", [i / 10 for i in range(12)])))
    source.open()
    try:
        source.read()
        time.sleep(1.2)  # the capture thread was held up for twelve frame intervals
        _, arrivals = read_timed(source, 6)
    finally:
        source.close()
    assert arrivals[-1] >= 0.35, arrivals  # five intervals of 0.1 s, not six frames at once


def test_the_demo_scene_held_up_resumes_in_real_time() -> None:
    source = DemoSource(160, 120, fps=10)
    source.open()
    source.read()
    time.sleep(1.2)
    source.read()
    started = time.monotonic()
    for _ in range(5):
        source.read()
    assert time.monotonic() - started >= 0.35


# -- V4L2 webcams in MJPG mode (through the capture seam: no webcam on the test machines) -------


def test_mjpg_webcam_hands_over_its_own_jpeg_bytes(tmp_path):
    jpegs = split_jpegs(mjpeg_file(tmp_path / "cam.mjpeg", seconds=2).read_bytes())
    fake = FakeV4l2Webcam(jpegs, fps=100)
    source = webcam_source(fake)
    source.open()
    pictures = [source.read() for _ in range(10)]
    assert source.camera_jpeg and not fake.convert_rgb
    assert [p.camera_jpeg for p in pictures] == jpegs[:10]
    assert all(p.image is None and (p.width, p.height) == (640, 480) for p in pictures)


def test_yuyv_only_webcam_keeps_the_decoded_path(tmp_path):
    jpegs = split_jpegs(mjpeg_file(tmp_path / "cam.mjpeg", seconds=1).read_bytes())
    source = webcam_source(FakeV4l2Webcam(jpegs, fps=100, mjpg=False))
    source.open()
    picture = source.read()
    assert not source.camera_jpeg
    assert picture.camera_jpeg is None and picture.image is not None
    assert picture.image.shape == (480, 640, 3)


def test_mjpg_webcam_reaches_viewers_byte_for_byte_and_records_h264(tmp_path):
    jpegs = split_jpegs(mjpeg_file(tmp_path / "cam.mjpeg", seconds=8).read_bytes())
    fake = FakeV4l2Webcam(jpegs, fps=10)
    config = demo_config(str(tmp_path / "data"))
    camera_config = CameraConfig(name="cam", source="/dev/video0", width=640, height=480)
    camera_config.motion.min_motion_frames = 3

    def build(config: Config) -> Service:
        camera = Camera(camera_config, source_factory=lambda: webcam_source(fake))
        service = Service(config, cameras=[camera])
        add_integrations(service)
        attach_event_store(service)
        attach_recorder(service, camera)
        return service

    with ServerThread(config, factory=build) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        parts = read_mjpeg_parts(server.port, "/stream.mjpg", 8)
        binaries = asyncio.run(websocket_binaries(server.url.replace("http", "ws") + "/webcam", 8))
        camera = server.get_json("/api/cameras")[0]
        events = wait_until(lambda: server.get_json("/api/events"), timeout=30, message="an event")
    sent = set(fake.handed_out)
    assert camera["codec"] == "mjpeg"
    assert len(parts) == 8 and all(data in sent for _, data in parts)  # untouched
    assert len(binaries) == 8 and all(data in sent for data in binaries)
    clip = next((tmp_path / "data" / "clips").rglob("*.mp4"))
    assert probe(clip)["codec_name"] == "h264" and events[0]["frames"] >= 0
