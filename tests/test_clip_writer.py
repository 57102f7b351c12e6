"""ClipWriter: bounded queue that drops evenly, and fragmented MP4 that survives kill -9."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from camwatch.recording.clip_writer import (
    FRAMES_PER_WAKE,
    PICTURES_QUEUED,
    ClipFrame,
    ClipWriter,
)
from tests.helpers.camera_files import packets, streams
from tests.helpers.media import probe
from tests.helpers.microphone import MICROPHONE, tone_packet
from tests.helpers.support import wait_until


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
    assert writer.backlog == accepted.count(True)  # every frame accepted is still waiting


def test_a_writer_behind_is_given_no_more_decoded_pictures(tmp_path):
    """Decoded pictures are ten times the size of a JPEG: a writer that falls behind (a slow
    disk) gets the JPEGs alone, so at most PICTURES_QUEUED pictures wait in its queue beyond
    the frames it is woken for at once."""
    writer = ClipWriter(tmp_path / "x.mp4", lambda result: None, fps_hint=10, pre_roll_seconds=5)
    taken = []
    for i in range(12):  # not started: nothing drains the queue
        taken.append(writer.takes_pictures)
        writer.submit(clip_frame(i))
    waiting = PICTURES_QUEUED + FRAMES_PER_WAKE - 1
    assert taken == [True] * waiting + [False] * (12 - waiting)
    writer.finish()
    assert not writer.takes_pictures


def packets_on_disk(path):
    try:
        return packets(path, "v")
    except subprocess.CalledProcessError:
        return []


def test_frames_are_encoded_in_batches_and_each_fragment_is_written_at_its_end(tmp_path):
    """The writer is woken once per FRAMES_PER_WAKE frames, and for the frame after each
    keyframe, which has the muxer write the fragment that keyframe ends: a crash loses one
    fragment at most."""
    writer = ClipWriter(tmp_path / "b.mp4", lambda result: None, fps_hint=10, pre_roll_seconds=5)
    writer.start()
    try:
        for i in range(22):  # the keyframes: frames 0 and 20 (one each 2 s)
            writer.submit(clip_frame(i))
            if i % FRAMES_PER_WAKE == 1:  # woken: frame 1 follows a keyframe, then batches
                wait_until(lambda i=i: writer.result.frames == i + 1, timeout=15)
        # frames 0-19 are the first fragment: on disk once frame 21 is encoded (the file
        # has no header before it, so ffprobe reads nothing until then)
        wait_until(lambda: len(packets_on_disk(writer.path)) >= 20, timeout=15)
    finally:
        writer.finish()
        writer.join(10)
    assert writer.result.frames == 22
    flags = [p["flags"][0] for p in packets(writer.path, "v")]
    assert [i for i, flag in enumerate(flags) if flag == "K"] == [0, 20]


def test_pre_roll_burst_is_not_dropped(tmp_path):
    writer = ClipWriter(tmp_path / "x.mp4", lambda result: None, fps_hint=30, pre_roll_seconds=2)
    assert all(writer.submit(clip_frame(i)) for i in range(60))


def test_pre_roll_burst_of_frames_and_sound_is_written_whole_in_time(tmp_path):
    done = threading.Event()
    writer = ClipWriter(
        tmp_path / "x.mp4",
        lambda result: done.set(),
        fps_hint=10,
        pre_roll_seconds=5,
        audio=MICROPHONE,
    )  # 5 s of frames and 5 s of sound queued before the writer runs: neither crowds out the other
    frames = [writer.submit(clip_frame(i)) for i in range(50)]
    sound = [writer.submit_audio(tone_packet(i)) for i in range(50)]
    assert all(frames) and all(sound)
    writer.start()
    writer.finish()
    assert done.wait(30)
    assert writer.result.dropped == 0 and writer.result.frames == 50
    audio = [s for s in streams(writer.path) if s["codec_type"] == "audio"]
    assert audio and float(audio[0]["duration"]) == pytest.approx(5.0, abs=0.15)


def test_a_clip_whose_sound_stops_still_reaches_the_disk_fragment_by_fragment(tmp_path):
    writer = ClipWriter(
        tmp_path / "x.mp4", lambda result: None, fps_hint=10, pre_roll_seconds=8, audio=MICROPHONE
    )  # room for all 80 frames at once
    writer.start()
    try:
        for i in range(80):  # 8 s of frames; the microphone stops after 1 s
            writer.submit(clip_frame(i, size=(128, 96)))
            if i < 10:
                writer.submit_audio(tone_packet(i))
        # before the clip is finished, its fragments up to the last keyframe (6 s) are on disk
        # (what a crash leaves), not held waiting for sound that does not come
        on_disk = wait_until(
            lambda: [float(p["pts_time"]) for p in packets(writer.path, "v")][-1:] >= [5.9],
            timeout=15,
            message="the fragments up to 6 s on disk",
        )
        assert on_disk
    finally:
        writer.finish()
        writer.join(10)


KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from camwatch.recording.clip_writer import PICTURES_QUEUED, ClipFrame, ClipWriter
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
    assert (info["codec_name"], info["pix_fmt"], info["frames"]) == ("h264", "yuvj420p", 12)
    assert info["color_range"] == "pc"  # the JPEG's full range, flagged in the H.264 VUI
    assert info["profile"] == "Constrained Baseline"  # plays in every browser
    with av.open(str(tmp_path / "cam.mp4")) as container:
        first = next(container.decode(video=0)).to_ndarray(format="bgr24")
    difference = cv2.absdiff(first, images[0])
    assert difference.mean() < 3  # same colours and brightness, not shifted by range or order


@pytest.mark.parametrize("crf", [None, 20])
def test_a_clip_is_encoded_at_the_crf_it_is_given(tmp_path, crf):
    import threading

    from camwatch.recording.clip_writer import DEFAULT_CRF

    done = threading.Event()
    options = {} if crf is None else {"crf": crf}
    writer = ClipWriter(tmp_path / "q.mp4", lambda result: done.set(), fps_hint=10, **options)
    writer.start()
    for i in range(5):
        writer.submit(clip_frame(i))
    writer.finish()
    assert done.wait(30)
    # libx264 writes its settings into the stream (an SEI message): "... crf=28.0 ..."
    assert f" crf={crf or DEFAULT_CRF}.0 ".encode() in (tmp_path / "q.mp4").read_bytes()


def test_frames_of_the_other_range_are_converted_in_a_clip_of_camera_jpegs(tmp_path):
    """A camera that switches from JPEG to decoded video (or BGR) mid-clip: video-range planes
    are stretched to the clip's full range, not written as they are."""
    import threading

    import av
    import cv2

    from camwatch import jpeg

    grey = np.full((48, 64, 3), 60, np.uint8)
    grey[:, 32:] = 200
    video_range = cv2.cvtColor(grey, cv2.COLOR_BGR2YUV_I420)  # Y = 16 + 219 * v / 255
    done = threading.Event()
    writer = ClipWriter(tmp_path / "mixed.mp4", lambda result: done.set(), fps_hint=10)
    writer.start()
    for i in range(6):
        kind = {"camera_jpeg": jpeg.encode(grey, 95)} if i < 3 else {"i420": video_range}
        writer.submit(ClipFrame(t=i / 10, captured_at=1e9 + i / 10, width=64, height=48, **kind))
    writer.finish()
    assert done.wait(30) and writer.result.frames == 6
    assert probe(tmp_path / "mixed.mp4")["pix_fmt"] == "yuvj420p"
    with av.open(str(tmp_path / "mixed.mp4")) as container:
        pictures = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    for picture in pictures:
        assert abs(int(picture[24, 8, 1]) - 60) <= 4 and abs(int(picture[24, 56, 1]) - 200) <= 4


def full_range_frames(count: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """A moving scene with two fixed grey patches near black and white, where a player that
    took full-range planes for video range would be about 15 levels off."""
    from tests.helpers.clips import scene

    frames = []
    for i in range(count):
        image = np.roll(scene(width, height), 6 * i, axis=1)
        image[20:80, 20:100] = 24
        image[20:80, 220:300] = 232
        frames.append(image)
    return frames


@pytest.mark.browser
def test_camera_jpeg_clip_plays_in_chromium_in_its_colours(tmp_path, open_page):
    import threading

    from camwatch import jpeg
    from tests.helpers.file_server import FileServer

    done = threading.Event()
    writer = ClipWriter(tmp_path / "clip.mp4", lambda result: done.set(), fps_hint=10)
    writer.start()
    for i, image in enumerate(full_range_frames(30)):
        writer.submit(
            ClipFrame(
                t=i / 10,
                captured_at=1e9 + i / 10,
                width=320,
                height=240,
                camera_jpeg=jpeg.encode(image, 90),
            )
        )
    writer.finish()
    assert done.wait(30)
    (tmp_path / "page.html").write_text('<video id="v" src="clip.mp4" muted></video>')
    (tmp_path / "favicon.ico").write_bytes(b"")  # else a 404 in the console
    watched = open_page()
    with FileServer(tmp_path) as files:  # same origin: the canvas may read the video's pixels
        watched.page.goto(files.url("page.html"))
        played = watched.page.evaluate("""() => new Promise(resolve => {
            const v = document.getElementById("v");
            v.onended = () => {
                const canvas = document.createElement("canvas");
                canvas.width = v.videoWidth;
                canvas.height = v.videoHeight;
                const context = canvas.getContext("2d");
                context.drawImage(v, 0, 0);
                const grey = (x, y) => context.getImageData(x, y, 1, 1).data[1];
                resolve([v.videoWidth, v.videoHeight, v.currentTime, grey(60, 50), grey(260, 50)]);
            };
            v.onerror = () => resolve(["error", v.error && v.error.code]);
            v.play().catch(e => resolve(["error", String(e)]));
            setTimeout(() => resolve(["timeout", v.currentTime]), 15000);
        })""")
    assert played[:2] == [320, 240] and played[2] > 2.5
    dark, light = played[3:]
    assert abs(dark - 24) <= 6 and abs(light - 232) <= 6, played  # not 9 and 250
    watched.assert_no_errors()


def test_the_encoders_memory_is_given_back_once_the_clip_is_closed(tmp_path, monkeypatch):
    """heap.give_back runs after the file is whole (the encoder and muxer freed with it) and
    before on_done, so a camera between events does not keep the last clip's encoder heap."""
    from camwatch.recording import clip_writer

    seen: list[object] = []
    done = threading.Event()
    path = tmp_path / "g.mp4"

    def give_back() -> bool:
        seen.append(("give_back", done.is_set(), probe(path)["nb_read_frames"]))
        return True

    monkeypatch.setattr(clip_writer.heap, "give_back", give_back)
    writer = ClipWriter(path, lambda result: done.set(), fps_hint=10)
    writer.start()
    for i in range(5):
        writer.submit(clip_frame(i))
    writer.finish()
    assert done.wait(30)
    assert seen == [("give_back", False, "5")]
