"""ClipWriter: bounded queue that drops evenly, and fragmented MP4 that survives kill -9."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from camwatch.recording.clip_writer import ClipFrame, ClipWriter
from tests.helpers.media import probe


def clip_frame(i: int, size=(64, 48)) -> ClipFrame:
    width, height = size
    return ClipFrame(
        t=i / 10,
        captured_at=1e9 + i / 10,
        width=width,
        height=height,
        i420=np.full((height * 3 // 2, width), i % 255, np.uint8),
    )


def test_a_stalled_encoder_drops_every_other_frame_then_all_without_blocking(tmp_path):
    writer = ClipWriter(
        tmp_path / "x.mp4", lambda result: None, fps_hint=10, pre_roll_seconds=0
    )  # not started: nothing drains the queue
    started = time.monotonic()
    accepted = [writer.submit(clip_frame(i)) for i in range(60)]
    assert time.monotonic() - started < 1.0
    first_drop = accepted.index(False)
    assert all(accepted[:first_drop])
    alternating = accepted[first_drop : first_drop + 8]
    assert alternating.count(True) == 4 and alternating.count(False) == 4
    assert not any(accepted[-10:])
    assert writer.result.dropped == accepted.count(False)


def test_pre_roll_burst_is_not_dropped(tmp_path):
    writer = ClipWriter(tmp_path / "x.mp4", lambda result: None, fps_hint=30, pre_roll_seconds=2)
    assert all(writer.submit(clip_frame(i)) for i in range(60))


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from camwatch.recording.clip_writer import ClipFrame, ClipWriter
    writer = ClipWriter(__import__("pathlib").Path(sys.argv[1]), lambda r: None, fps_hint=10)
    writer.start()
    for i in range(70):  # 7 s at 10 fps: three 2-second fragments are complete
        image = np.random.default_rng(i).integers(0, 255, (72, 128), dtype=np.uint8)
        writer.submit(ClipFrame(t=i / 10, captured_at=0, width=128, height=48 * 1,
                                i420=image))
        time.sleep(0.01)
    deadline = time.monotonic() + 30
    while writer.result.frames + writer.result.dropped < 70 and time.monotonic() < deadline:
        time.sleep(0.01)  # until every frame is encoded and muxed (flush_packets: on disk)
    print("written", flush=True)
    time.sleep(60)
""")


def test_clip_killed_mid_event_is_playable_up_to_its_last_fragment(tmp_path):
    path = tmp_path / "killed.mp4"
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "written"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    info = probe(path)
    assert info["codec_name"] == "h264"
    assert info["frames"] >= 40


@pytest.mark.parametrize(
    ("width", "sampling"),
    [
        (160, "420"),
        (162, "420"),  # 162: rows of the 81-wide chroma planes are padded
        (160, "422"),
    ],
)  # decoded as yuvj422p: converted by swscale instead
def test_camera_jpegs_are_encoded_in_their_colours_and_a_corrupt_one_is_skipped(
    tmp_path, width, sampling
):
    import threading

    import av
    import cv2

    ramp = np.tile(np.linspace(0, 255, width, dtype=np.uint8), (120, 1))  # full range shows
    background = np.dstack([ramp, ramp[:, ::-1], np.full_like(ramp, 128)])  # range errors
    images = [np.roll(background, 4 * i, axis=1) for i in range(12)]
    factor = {
        "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
        "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    }[sampling]

    def encode(image: np.ndarray) -> bytes:
        return cv2.imencode(
            ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor]
        )[1].tobytes()

    done = threading.Event()
    writer = ClipWriter(tmp_path / "cam.mp4", lambda result: done.set(), fps_hint=10)
    writer.start()
    for i, image in enumerate(images):
        writer.submit(
            ClipFrame(
                t=i / 10,
                captured_at=1e9 + i / 10,
                width=width,
                height=120,
                camera_jpeg=encode(image),
            )
        )
        if i == 5:
            writer.submit(
                ClipFrame(
                    t=0.55,
                    captured_at=1e9 + 0.55,
                    width=width,
                    height=120,
                    camera_jpeg=b"\xff\xd8 not really a jpeg \xff\xd9",
                )
            )
    writer.finish()
    assert done.wait(30)
    assert writer.result.frames == 12 and writer.result.dropped == 1
    info = probe(tmp_path / "cam.mp4")
    assert (info["codec_name"], info["pix_fmt"], info["frames"]) == ("h264", "yuv420p", 12)
    with av.open(str(tmp_path / "cam.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    difference = cv2.absdiff(first, images[0])
    assert difference.mean() < 3  # same colours and brightness, not shifted by range or order


@pytest.mark.browser
def test_camera_jpeg_clip_plays_in_chromium(tmp_path, open_page):
    import threading

    from camwatch import jpeg
    from tests.helpers.clips import scene

    done = threading.Event()
    writer = ClipWriter(tmp_path / "clip.mp4", lambda result: done.set(), fps_hint=10)
    writer.start()
    for i in range(30):
        image = np.roll(scene(320, 240), 6 * i, axis=1)
        writer.submit(
            ClipFrame(
                t=i / 10,
                captured_at=1e9 + i / 10,
                width=320,
                height=240,
                camera_jpeg=jpeg.encode(image, 80),
            )
        )
    writer.finish()
    assert done.wait(30)
    (tmp_path / "page.html").write_text('<video id="v" src="clip.mp4" muted></video>')
    watched = open_page()
    watched.page.goto((tmp_path / "page.html").as_uri())
    played = watched.page.evaluate("""() => new Promise(resolve => {
        const v = document.getElementById("v");
        v.onended = () => resolve([v.videoWidth, v.videoHeight, v.currentTime]);
        v.onerror = () => resolve(["error", v.error && v.error.code]);
        v.play().catch(e => resolve(["error", String(e)]));
        setTimeout(() => resolve(["timeout", v.currentTime]), 15000);
    })""")
    assert played[:2] == [320, 240] and played[2] > 2.5
    watched.assert_no_errors()
