"""What the pipeline does per frame, and what it must not: no JPEG encoding when nobody watches,
camera JPEG bytes passed to viewers untouched, camera JPEGs never decoded to BGR, and while a
clip of them is recorded each decoded once (for the clip and detection both)."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from camwatch import jpeg
from camwatch.capture.camera import Camera
from camwatch.capture.hub import Hub
from camwatch.capture.sources import FrameSource
from camwatch.config import CameraConfig, Config, MotionConfig
from camwatch.frame import Frame, Picture
from camwatch.motion.detector import DETECT_WIDTH
from camwatch.recording.recorder import EventRecorder
from camwatch.service import Service
from tests.helpers.clips import frame_at, scene
from tests.helpers.fakes import CountedFrame, MemoryEventSink
from tests.helpers.live_clients import read_mjpeg_parts, websocket_binaries
from tests.helpers.media import probe
from tests.helpers.support import ServerThread, demo_config, wait_until


def camera_jpegs(count: int, intervals=((0.0, 1e9),), size=(320, 240)) -> list[bytes]:
    rng = np.random.default_rng(5)
    background = scene(*size)
    return [jpeg.encode(frame_at(background, i / 10, intervals, rng), 85) for i in range(count)]


class JpegCamera(FrameSource):
    """A network camera stand-in: the given JPEG bytes in turn, at `fps`."""

    description = "fake jpeg camera"

    def __init__(self, jpegs: list[bytes], fps: float = 20) -> None:
        self.jpegs, self.fps = jpegs, fps
        self.index = 0

    def open(self) -> None:
        self.index = 0

    def read(self) -> Picture:
        time.sleep(1 / self.fps)
        data = self.jpegs[self.index % len(self.jpegs)]
        self.index += 1
        width, height = jpeg.dimensions(data)
        return Picture.of_jpeg(data, width, height)


def test_no_jpeg_is_encoded_for_a_frame_nobody_watches():
    hub = Hub()
    unwatched = Frame.from_image(np.zeros((48, 64, 3), np.uint8), 1)
    hub.publish(unwatched)
    assert not unwatched.has_jpeg
    hub.subscribe()
    watched = Frame.from_image(np.zeros((48, 64, 3), np.uint8), 2)
    hub.publish(watched)
    assert watched.has_jpeg


def test_while_recording_each_camera_jpeg_is_decoded_once_for_clip_and_detection(tmp_path):
    closed = []
    recorder = EventRecorder(
        "cam",
        MotionConfig(pre_roll_seconds=1.0, stable_frames=5),
        tmp_path,
        MemoryEventSink(),
        fps_hint=10,
        on_clip_closed=closed.append,
    )
    frames, decoded_here = [], []
    for i, data in enumerate(camera_jpegs(60, intervals=[(2.0, 4.0)])):
        frame = CountedFrame.from_jpeg(
            data, i + 1, 320, 240, captured_at=1e9 + i / 10, monotonic=i / 10
        )
        before = recorder.pictures_decoded
        recorder.on_frame(frame)
        frames.append(frame)
        decoded_here.append(recorder.pictures_decoded > before)
        # as a camera at 10 fps leaves the writer time to keep up (it is given pictures then)
        wait_until(lambda: not recorder.recording or recorder.clips.takes_pictures, timeout=10)
    recorder.close()
    [result] = closed
    # the writer decodes only the 1 s pre-roll (11 frames) and the trigger, kept as JPEG
    # before the clip existed; every later frame of the clip came decoded, once
    assert result.jpegs_decoded == 12
    assert result.jpegs_decoded + sum(decoded_here) == result.frames > 30
    for frame, decoded in zip(frames, decoded_here, strict=True):
        if decoded:  # detection shrank the clip's picture: no decode of its own
            assert frame.grey_decodes == []
        else:  # before and after the clip: detection decodes only what it needs
            assert DETECT_WIDTH not in frame.grey_decodes[1:]
    assert all(frame.image is None for frame in frames)  # no BGR anywhere


def test_recording_camera_jpegs_never_decodes_them_to_bgr(tmp_path):
    sink = MemoryEventSink()
    recorder = EventRecorder(
        "cam", MotionConfig(pre_roll_seconds=1.0, stable_frames=5), tmp_path, sink, fps_hint=10
    )
    frames = []
    for i, data in enumerate(camera_jpegs(60, intervals=[(1.0, 4.0)])):
        frame = Frame.from_jpeg(data, i + 1, 320, 240, captured_at=1e9 + i / 10, monotonic=i / 10)
        recorder.on_frame(frame)
        frames.append(frame)
    recorder.close()
    assert all(frame.image is None for frame in frames)
    [record] = sink.records.values()
    info = probe(tmp_path / record.video_path)
    assert (info["codec_name"], info["pix_fmt"], info["width"]) == ("h264", "yuvj420p", 320)
    assert info["color_range"] == "pc"  # the JPEG's own full-range planes, flagged as such
    assert info["frames"] == record.frames >= 30


def test_viewers_get_the_camera_jpeg_bytes_untouched(tmp_path):
    jpegs = camera_jpegs(5)
    config = demo_config(str(tmp_path))
    camera_config = CameraConfig(name="cam", source="http://camera.invalid/video.mjpg")

    def build(config: Config) -> Service:
        camera = Camera(camera_config, source_factory=lambda: JpegCamera(jpegs))
        return Service(config, cameras=[camera])

    with ServerThread(config, factory=build) as server:
        wait_until(lambda: server.get("/snapshot.jpg")[0] == 200, message="first frame")
        parts = read_mjpeg_parts(server.port, "/stream.mjpg", 6)
        binaries = asyncio.run(websocket_binaries(server.url.replace("http", "ws") + "/webcam", 6))
        snapshot = server.get("/snapshot.jpg")[2]
    assert all(data in jpegs for _, data in parts)
    assert all(data in jpegs for data in binaries)
    assert snapshot in jpegs
