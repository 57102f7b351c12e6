"""CaptureThread: reconnecting with backoff, offline placeholders, logging once per change of
state; against scripted fake sources and a real MJPEG camera that goes away and comes back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from camwatch.capture.camera import Camera
from camwatch.capture.library_log import RateLimit
from camwatch.capture.sources import EndOfStream, FrameSource, HttpSource, SourceError
from camwatch.capture.thread import CaptureThread
from camwatch.config import CameraConfig, Config
from camwatch.frame import Frame, Picture
from camwatch.service import Service
from tests.helpers.live_clients import decode_jpeg, receive_sync
from tests.helpers.mjpeg_server import MjpegTestServer, jpeg_frame
from tests.helpers.support import ServerThread, demo_config, wait_until


class ScriptedSource(FrameSource):
    """Opens (or fails to), delivers `frames` small frames, then raises `then`."""

    description = "scripted"

    def __init__(
        self,
        *,
        frames: int = 0,
        then: BaseException | None = None,
        open_error: BaseException | None = None,
        interval: float = 0.01,
    ) -> None:
        self.frames, self.then, self.open_error = frames, then, open_error
        self.interval = interval
        self.closed = False

    def open(self) -> None:
        if self.open_error is not None:
            raise self.open_error

    def read(self) -> Picture:
        if self.frames <= 0:
            raise self.then or SourceError("scripted end")
        self.frames -= 1
        time.sleep(self.interval)
        return Picture.of_image(np.zeros((24, 32, 3), np.uint8))

    def close(self) -> None:
        self.closed = True


class Collector:
    """The on_frame callback: remembers what the capture thread delivered."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def __call__(self, frame: Frame) -> None:
        self.frames.append(frame)

    @property
    def live(self) -> list[Frame]:
        return [f for f in self.frames if f.online]

    @property
    def placeholders(self) -> list[Frame]:
        return [f for f in self.frames if not f.online]


class CountingFactory:
    """A source factory that counts how often the capture thread (re)opens."""

    def __init__(self, make: Callable[[], FrameSource]) -> None:
        self.make = make
        self.calls = 0

    def __call__(self) -> FrameSource:
        self.calls += 1
        return self.make()


@pytest.fixture
def threads() -> Iterator[list[CaptureThread]]:
    started: list[CaptureThread] = []
    yield started
    for thread in started:
        thread.stop()
        assert not thread.is_alive()


def capture(
    threads: list[CaptureThread],
    factory: Callable[[], FrameSource],
    collector: Collector,
    *,
    backoff: float = 0.1,
    **options: object,
) -> CaptureThread:
    thread = CaptureThread(
        "test",
        factory,
        collector,
        width=64,
        height=48,
        backoff_start=backoff,
        backoff_max=2 * backoff,
        **options,
    )  # type: ignore[arg-type]
    threads.append(thread)
    thread.start()
    return thread


def offline_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "camwatch.capture.thread" and "offline" in r.getMessage()
    ]


def test_frames_are_numbered_and_counted(threads: list[CaptureThread]) -> None:
    collector = Collector()
    thread = capture(threads, lambda: ScriptedSource(frames=1000), collector)
    wait_until(lambda: len(collector.frames) >= 20, message="20 frames")
    seqs = [f.seq for f in collector.frames[:20]]
    assert seqs == list(range(1, 21))
    assert thread.state.online and thread.state.frames_captured >= 20
    assert (thread.state.width, thread.state.height) == (32, 24)
    assert 20 < thread.state.fps < 150  # about 1 / 10 ms


def test_a_source_that_cannot_open_shows_placeholders_and_logs_once(
    threads: list[CaptureThread], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="camwatch")
    factory = CountingFactory(lambda: ScriptedSource(open_error=SourceError("unplugged")))
    collector = Collector()
    thread = capture(threads, factory, collector)
    wait_until(lambda: factory.calls >= 4, message="four attempts")
    assert not thread.state.online and thread.state.message == "unplugged"
    assert collector.placeholders and not collector.live
    assert collector.placeholders[0].width == 64  # the configured size, as nothing was seen yet
    assert len(offline_warnings(caplog)) == 1


def test_a_source_that_opens_but_fails_at_once_does_not_spin(
    threads: list[CaptureThread], caplog: pytest.LogCaptureFixture
) -> None:
    """A camera that accepts the connection and drops it must be retried with backoff too."""
    caplog.set_level(logging.INFO, logger="camwatch")
    factory = CountingFactory(lambda: ScriptedSource(frames=0))
    started = time.monotonic()
    capture(threads, factory, Collector())
    wait_until(lambda: factory.calls >= 4, message="four attempts")
    # backoff 0.1 s doubling to 0.2 s: the fourth attempt comes 0.5 s after the first at the
    # earliest (a spinning loop would make it in a few milliseconds)
    assert time.monotonic() - started >= 0.45
    assert len(offline_warnings(caplog)) == 1


def test_a_source_that_delivered_frames_is_reopened_at_once(threads: list[CaptureThread]) -> None:
    """After a good run, the first retry is immediate (a network blip), not after a backoff."""
    factory = CountingFactory(lambda: ScriptedSource(frames=5, interval=0.05))
    collector = Collector()
    capture(threads, factory, collector, backoff=10)
    wait_until(lambda: factory.calls >= 3, timeout=5, message="three runs")
    assert len(collector.live) >= 10


def test_an_unexpected_error_in_a_source_does_not_kill_the_camera(
    threads: list[CaptureThread], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="camwatch")
    factory = CountingFactory(lambda: ScriptedSource(frames=3, then=ValueError("bug")))
    collector = Collector()
    thread = capture(threads, factory, collector)
    wait_until(lambda: factory.calls >= 3, timeout=5, message="reopened after the error")
    assert thread.is_alive()
    assert len(collector.live) >= 6


def test_an_error_opening_unexpectedly_does_not_kill_the_camera(
    threads: list[CaptureThread],
) -> None:
    factory = CountingFactory(lambda: ScriptedSource(open_error=KeyError("bug")))
    collector = Collector()
    thread = capture(threads, factory, collector)
    wait_until(lambda: factory.calls >= 3, timeout=5, message="retried")
    assert thread.is_alive() and collector.placeholders


def test_a_listener_error_does_not_kill_the_camera(threads: list[CaptureThread]) -> None:
    seen: list[int] = []

    def broken_listener(frame: Frame) -> None:
        seen.append(frame.seq)
        raise RuntimeError("downstream bug")

    capture(threads, lambda: ScriptedSource(frames=1000), broken_listener)  # type: ignore[arg-type]
    wait_until(lambda: len(seen) >= 10, message="frames after errors")


def test_the_end_of_a_file_shows_placeholders_without_reopening(
    threads: list[CaptureThread], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="camwatch")
    factory = CountingFactory(lambda: ScriptedSource(frames=3, then=EndOfStream("end of file")))
    collector = Collector()
    thread = capture(threads, factory, collector)
    # a second placeholder comes a second later, long after a reopen (backoff 0.1 s) would
    wait_until(lambda: len(collector.placeholders) >= 2, message="two placeholders")
    assert factory.calls == 1 and len(collector.live) == 3
    assert not thread.state.online and thread.state.message == "end of file"
    assert collector.placeholders[0].width == 32  # the source's size once it was seen
    assert offline_warnings(caplog) == ["camera test: offline: end of file"]  # no "retrying"


def test_auto_falls_back_to_the_demo_factory(threads: list[CaptureThread]) -> None:
    collector = Collector()
    thread = capture(
        threads,
        lambda: ScriptedSource(open_error=SourceError("no webcam")),
        collector,
        demo_fallback=lambda: ScriptedSource(frames=1000),
    )
    wait_until(lambda: len(collector.live) >= 3, message="demo frames")
    assert thread.state.demo_fallback and thread.state.online


def test_stop_is_prompt_during_a_long_backoff(threads: list[CaptureThread]) -> None:
    thread = CaptureThread(
        "slow",
        lambda: ScriptedSource(open_error=SourceError("gone")),
        Collector(),
        backoff_start=30,
        backoff_max=30,
    )
    thread.start()
    wait_until(lambda: thread.state.message == "gone", message="the first failure")  # backing off
    started = time.monotonic()
    thread.stop()
    assert not thread.is_alive() and time.monotonic() - started < 2


def test_corrupt_parts_from_an_mjpeg_camera_are_skipped_without_going_offline(
    threads: list[CaptureThread],
) -> None:
    def part(index: int) -> bytes:
        if index % 3 == 1:
            return b"\x00garbage\xff" * 50
        if index % 3 == 2:
            return jpeg_frame(index)[:-300]  # truncated
        return jpeg_frame(index)

    with MjpegTestServer(part, fps=30) as camera:
        factory = CountingFactory(lambda: HttpSource(camera.url, timeout=5))
        collector = Collector()
        thread = capture(threads, factory, collector)
        wait_until(lambda: len(collector.live) >= 1, message="first frame")
        online_samples = []
        for _ in range(20):
            online_samples.append(thread.state.online)
            time.sleep(0.05)
        wait_until(lambda: len(collector.live) >= 8, message="eight good frames")
        assert all(online_samples) and factory.calls == 1 and thread.state.frames_failed == 0
    for frame in collector.live[:8]:
        assert frame.camera_jpeg is not None
        assert decode_jpeg(frame.camera_jpeg).shape == (120, 160, 3)


def network_camera_service(url: str, factory: CountingFactory) -> Callable[[Config], Service]:
    def build(config: Config) -> Service:
        camera = Camera(
            config.cameras[0], source_factory=factory, backoff_start=0.2, backoff_max=0.5
        )
        return Service(config, cameras=[camera])

    return build


def test_a_network_camera_that_disappears_goes_offline_and_comes_back(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="camwatch")
    source = MjpegTestServer(fps=10).start()
    camera_config = CameraConfig(name="net", source=source.url, width=0, height=0)
    camera_config.motion.enabled = False
    config = demo_config(str(tmp_path), cameras=[camera_config])
    factory = CountingFactory(lambda: HttpSource(source.url, timeout=5))

    def online() -> bool:
        return bool(server.get_json("/api/cameras")[0]["online"])

    with ServerThread(config, network_camera_service(source.url, factory)) as server:
        try:
            wait_until(online, message="online")
            source.stop()
            wait_until(lambda: not online(), timeout=10, message="offline")
            opens_when_lost = factory.calls
            # placeholders keep coming, at the size the camera had
            reception = receive_sync(server.url.replace("http", "ws") + "/cameras/net/ws", 2.5)
            assert len(reception.messages) >= 2
            assert decode_jpeg(reception.messages[-1]).shape == (120, 160, 3)  # type: ignore
            status, _, body = server.get("/cameras/net/snapshot.jpg")
            assert status == 200 and decode_jpeg(body).shape == (120, 160, 3)
            assert not server.call(lambda: server.service.context.cameras["net"].hub.latest.online)
            assert factory.calls >= opens_when_lost + 3  # it kept retrying...
            assert len(offline_warnings(caplog)) == 1  # ...and said so once
            source.start()
            wait_until(online, timeout=10, message="back online")
            status, _, body = server.get("/cameras/net/snapshot.jpg")
            assert decode_jpeg(body).shape == (120, 160, 3)
        finally:
            source.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "camwatch.capture.thread"]
    assert sum("online (" in m for m in messages) == 2


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RateLimit())  # as setup_logging's handler

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_downstream_error_on_every_frame_is_logged_once_a_minute_not_per_frame(threads):
    handler = _Records()
    logging.getLogger().addHandler(handler)
    delivered = []

    def failing(frame: Frame) -> None:
        delivered.append(frame)
        raise ValueError("a bug downstream")

    try:
        capture(threads, lambda: ScriptedSource(frames=1000, interval=0.001), failing)
        assert wait_until(lambda: len(delivered) >= 50, timeout=30)
    finally:
        logging.getLogger().removeHandler(handler)
    errors = [r for r in handler.records if "error processing frame" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is not None  # the first, with its traceback


def test_an_error_on_every_offline_placeholder_is_logged_once_a_minute(threads, monkeypatch):
    monkeypatch.setattr("camwatch.capture.thread.PLACEHOLDER_INTERVAL_S", 0.01)
    handler = _Records()
    logging.getLogger().addHandler(handler)
    placeholders = []

    def failing(frame: Frame) -> None:
        placeholders.append(frame)
        raise ValueError("a bug downstream")

    try:
        capture(threads, lambda: ScriptedSource(open_error=SourceError("gone")), failing)
        assert wait_until(lambda: len(placeholders) >= 20, timeout=30)
    finally:
        logging.getLogger().removeHandler(handler)
    errors = [r for r in handler.records if "error processing placeholder" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is not None
