"""Continuous recording (demo, MJPEG and RTSP cameras): seamless segments, events as marked
ranges, export, retention by kind, and kill -9 mid-segment."""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from camwatch.config import CameraConfig, RetentionConfig
from camwatch.frame import Frame
from camwatch.recording.clip_writer import ClipResult
from camwatch.recording.index import DB_NAME, RESERVE_BYTES, RESERVE_NAME, EventRecord, EventStore
from camwatch.recording.segment_index import (
    PENDING_ROWS_MAX,
    RANGES_DIR,
    SegmentRecord,
    SegmentRows,
    SegmentStore,
    segment_path,
)
from camwatch.recording.segments import SegmentRecorder
from tests.helpers.camera_files import (
    packets,
    sound_timeline,
    streams,
    switching_stream,
    walking_figure,
)
from tests.helpers.event_files import whole_fragments, write_fragmented_clip
from tests.helpers.fakes import sqlite_disk_full
from tests.helpers.media import probe
from tests.helpers.microphone import PulseMicrophone, system_alsa_for_this_test, tone_packet
from tests.helpers.mjpeg_server import MjpegTestServer
from tests.helpers.processes import camwatch_env, free_port, stop_process, wait_for_health
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.support import ServerThread, assert_waits_for, demo_config, wait_until

FPS = 10
FRAME_S = 1 / FPS


def packet_times(path: Path) -> list[float]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts_time", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return sorted(float(p["pts_time"]) for p in json.loads(result.stdout)["packets"])


def continuous_config(
    data_dir: Path,
    segment_seconds: float = 2.0,
    source: str = "demo",
    *,
    fps: int = FPS,
    size: tuple[int, int] = (160, 120),
):
    camera = CameraConfig(name="cam", source=source, fps=fps, width=size[0], height=size[1])
    camera.record = "continuous"
    camera.segment_seconds = segment_seconds  # type: ignore[assignment]  # below the config's 10 s to keep the test short
    return demo_config(str(data_dir), cameras=[camera])


def recordings(server: ServerThread, start: float, end: float) -> list[dict]:
    query = urllib.parse.urlencode({"start": start, "end": end})
    return server.get_json(f"/api/cameras/cam/recordings?{query}")["segments"]


def segments_since(server: ServerThread, began: float, count: int) -> list[dict]:
    """The recordings listed from `began` on, once there are `count` of them."""
    return wait_until(
        lambda: (r := recordings(server, began - 5, time.time())) and len(r) >= count and r,
        timeout=60,
        message=f"{count} segments",
    )


def segment_file(server: ServerThread, data_dir: Path, recording: dict) -> Path:
    return data_dir / server.call(lambda: _path_of(server, recording["id"]))


def epoch(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_segments_follow_each_other_without_a_gap_and_export_across_three(tmp_path):
    began = time.time()
    with ServerThread(continuous_config(tmp_path / "data")) as server:
        check_seamless_segments_and_export(server, began, tmp_path)


def test_an_mjpeg_cameras_segments_follow_each_other_and_export_across_three(tmp_path):
    """The network-MJPEG path (camera JPEGs encoded once into the segments) is seamless too."""
    began = time.time()
    with MjpegTestServer(fps=FPS) as camera:
        config = continuous_config(tmp_path / "data", source=camera.url)
        with ServerThread(config) as server:
            check_seamless_segments_and_export(server, began, tmp_path)


def check_seamless_segments_and_export(server: ServerThread, began: float, tmp_path: Path) -> None:
    """Five segments that meet within the camera's own frame jitter, H.264 from a keyframe,
    served through the index, and an export across three with the asked duration."""

    found = segments_since(server, began, 5)
    finished = list(found[:-1])  # the last one is still recording
    for item in finished:
        assert item["kind"] == "segment" and item["url"] == f"/media/segments/{item['id']}.mp4"
    # each segment file: H.264, starting on a keyframe at time 0
    data_dir = tmp_path / "data"
    files = [segment_file(server, data_dir, item) for item in finished]
    for path in files:
        assert probe(path)["codec_name"] == "h264"
    assert not any(settled_has_audio(server, item["id"]) for item in finished)  # no sound
    # where one segment ends and the next begins: one frame interval, no more than the
    # camera's own frame-to-frame jitter (a busy machine delays some frames)
    inner = [
        max(itertools.pairwise(packet_times(path)), key=lambda p: p[1] - p[0]) for path in files
    ]
    jitter = max(FRAME_S * 1.6, *(b - a for a, b in inner))
    for left, right, left_file in zip(finished, finished[1:], files, strict=False):
        last_frame = epoch(left["start"]) + packet_times(left_file)[-1]
        gap = epoch(right["start"]) - last_frame
        assert 0 < gap <= jitter + 0.002, (left, right, gap)
    # an export across three segments has the asked duration within one GOP (2 s)
    start = epoch(finished[0]["start"]) + 1.0
    end = epoch(finished[2]["end"]) - 0.5
    query = urllib.parse.urlencode({"start": start, "end": end})
    status, headers, body = server.get(f"/api/cameras/cam/export.mp4?{query}")
    assert status == 200, body[:200]
    assert headers["Content-Disposition"].startswith("attachment")
    exported = tmp_path / "export.mp4"
    exported.write_bytes(body)
    info = probe(exported)
    assert end - start - 2 * FRAME_S <= info["duration"] <= end - start + 2.0
    times = packet_times(exported)
    assert max(b - a for a, b in itertools.pairwise(times)) <= jitter + 0.002
    # the segment media URL serves the file through the index
    status, _, data = server.get(finished[1]["url"])
    assert status == 200 and data == files[1].read_bytes()


def _path_of(server: ServerThread, segment_id: str) -> str:
    assert server.service is not None and server.service.context.segments is not None
    record = server.service.context.segments.get(segment_id)
    assert record is not None
    return record.path


def settled_has_audio(server: ServerThread, segment_id: str) -> bool:
    """The index's has_audio of a segment, once its writer has closed it."""

    def has_audio() -> bool | None:
        assert server.service is not None and server.service.context.segments is not None
        record = server.service.context.segments.get(segment_id)
        return None if record is None or record.status == "recording" else record.has_audio

    found = wait_until(lambda: server.call(has_audio) is not None, timeout=30, message="closed")
    assert found
    return bool(server.call(has_audio))


def test_a_database_from_before_has_audio_gains_the_column_with_not_known_in_it(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / DB_NAME) as db:  # the segments table as it was made
        db.execute(
            "CREATE TABLE segments (id TEXT PRIMARY KEY, camera TEXT NOT NULL, "
            "started_at REAL NOT NULL, ended_at REAL NOT NULL, path TEXT NOT NULL, "
            "size_bytes INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'recording')"
        )
        db.execute("INSERT INTO segments VALUES ('old', 'cam', 1.0, 61.0, 'a.mp4', 10, 'complete')")
    store = EventStore(data_dir)
    try:
        segments = SegmentStore(store)
        assert segments.get("old").has_audio is None  # type: ignore[union-attr]
        for segment_id, has_audio in (("mute", False), ("sound", True)):
            segments.put(SegmentRecord(segment_id, "cam", 70.0, 80.0, "b.mp4", has_audio=has_audio))
            assert segments.get(segment_id).has_audio is has_audio  # type: ignore[union-attr]
        segments.close()
    finally:
        store.close()


def test_an_event_in_continuous_mode_is_a_marked_range_with_one_playable_mp4(tmp_path):
    with ServerThread(continuous_config(tmp_path / "data", segment_seconds=3)) as server:

        def finished_event():
            events = server.get_json("/api/events?limit=5")
            done = [e for e in events if e["ended_at"] is not None]
            return done and done[0]

        [camera] = server.get_json("/api/cameras")
        assert camera["record"] == "continuous"
        event = wait_until(finished_event, timeout=90, message="a demo crossing to end")
        clips = list((tmp_path / "data" / "clips").rglob("*.mp4"))
        assert clips == []  # no second copy of the footage
        path = tmp_path / "event.mp4"

        def whole_event_served():
            # the event's last seconds reach the disk with the fragment that holds them
            status, headers, body = server.get(event["video_url"])
            assert status == 200 and headers["Content-Type"] == "video/mp4"
            path.write_bytes(body)
            info = probe(path)
            return info["duration"] >= event["duration_s"] - 0.3 and info

        info = wait_until(whole_event_served, timeout=20, interval=1, message="the whole event")
        assert info["codec_name"] == "h264"
        assert info["duration"] <= event["duration_s"] + 3.5  # from the keyframe before it
        status, _, thumbnail = server.get(event["thumbnail_url"])
        assert status == 200 and thumbnail[:2] == b"\xff\xd8"
        cache = tmp_path / "data" / RANGES_DIR
        shutil.rmtree(cache)
        cache.write_bytes(b"")  # the remux has nowhere to go (as on a full disk)
        status, headers, body = server.get(event["video_url"])
        assert status == 500 and headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["error"].startswith("cannot make the event's video:")


# -- retention by kind ---------------------------------------------------------------------------

DAY = 86400.0
NOW = 1_790_000_000.0


class FakeDisk:
    def __init__(self, free: int) -> None:
        self.free = free

    def __call__(self, path: Path) -> int:
        return self.free


def add_segment(segments: SegmentStore, start: float, seconds: float = 60) -> SegmentRecord:
    path = segment_path(segments.root, "cam", start, f"{int(start):x}")
    write_fragmented_clip(path, 10)
    record = SegmentRecord(
        f"{int(start):x}", "cam", start, start + seconds, str(path.relative_to(segments.root)),
        size_bytes=path.stat().st_size, status="complete",
    )  # fmt: skip
    segments.put(record)
    return record


def mark_event(store, event_id: str, start: float, seconds: float = 10) -> None:
    store.add(
        EventRecord(event_id, "cam", start, start + seconds, 100, 50, 3.0, "",
                    "", 0, "complete")
    )  # fmt: skip


def test_retention_by_kind_keeps_event_footage_longer(store):
    segments = SegmentStore(store, free_bytes=FakeDisk(10**12))
    old_plain = add_segment(segments, NOW - 5 * DAY)
    old_event = add_segment(segments, NOW - 5 * DAY + 600)
    mark_event(store, "ev1", NOW - 5 * DAY + 620)
    recent = add_segment(segments, NOW - 3600)
    retention = RetentionConfig(max_days=30, continuous_days=3, max_bytes=0, min_free_bytes=0)
    deleted = segments.enforce_retention(retention, now=NOW)
    assert deleted == [old_plain.id]
    assert {r.id for r in segments.records()} == {old_event.id, recent.id}
    assert not (store.root / old_plain.path).exists()
    # once the event goes (max_days), its footage follows the continuous_days rule
    store.delete("ev1")
    assert segments.enforce_retention(retention, now=NOW) == [old_event.id]


def test_on_a_small_disk_footage_outside_events_goes_first(store):
    segments = SegmentStore(store)
    first = add_segment(segments, NOW - 3000)
    with_event = add_segment(segments, NOW - 2000)
    mark_event(store, "ev", NOW - 1990)
    plain = add_segment(segments, NOW - 1000)
    size = max(r.size_bytes for r in segments.records())
    capacity = 4 * size
    segments._free_bytes = lambda path: capacity - segments.total_bytes()  # a small disk
    retention = RetentionConfig(
        max_days=30, continuous_days=3, max_bytes=0, min_free_bytes=3 * size
    )
    deleted = segments.enforce_retention(retention, now=NOW)
    assert deleted == [first.id, plain.id]  # both plain segments before the event's
    assert [r.id for r in segments.records()] == [with_event.id]
    assert store.get("ev") is not None


def test_when_only_event_footage_is_left_the_oldest_event_goes_with_its_footage(store):
    segments = SegmentStore(store, free_bytes=FakeDisk(0))
    a = add_segment(segments, NOW - 3000)
    mark_event(store, "old", NOW - 2990)
    b = add_segment(segments, NOW - 1000)
    mark_event(store, "new", NOW - 990)
    retention = RetentionConfig(max_days=30, continuous_days=3, max_bytes=b.size_bytes + 10,
                                min_free_bytes=0)  # fmt: skip
    deleted = segments.enforce_retention(retention, now=NOW)
    assert deleted == [a.id]
    assert store.get("old") is None and store.get("new") is not None
    assert [r.id for r in segments.records()] == [b.id]


# -- kill -9 mid-segment -------------------------------------------------------------------------


def test_kill_9_mid_segment_then_restart_keeps_it_playable_and_listed_once(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    config = tmp_path / "camwatch.toml"
    config.write_text(f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data_dir}"

[[cameras]]
name = "cam"
source = "demo"
fps = {FPS}
width = 160
height = 120
record = "continuous"
segment_seconds = 60
""")
    command = [sys.executable, "-m", "camwatch", "--config", str(config)]
    process = subprocess.Popen(command, env=camwatch_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_health(port, process)
        segment_dir = data_dir / "segments" / "cam"
        wait_until(lambda: list(segment_dir.rglob("*.mp4")), timeout=20, message="a segment")
        wait_until(
            lambda: whole_fragments(next(segment_dir.rglob("*.mp4"))) >= 2,
            timeout=30,
            message="two whole fragments of the segment on disk",
        )
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        stop_process(process)
    [path] = list(segment_dir.rglob("*.mp4"))
    process = subprocess.Popen(command, env=camwatch_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_health(port, process)
        url = f"http://127.0.0.1:{port}/api/cameras/cam/recordings?start={time.time() - 600}"

        def two_listed():
            with urllib.request.urlopen(url, timeout=10) as response:
                found = json.loads(response.read())["segments"]
            return len(found) >= 2 and found

        listed = wait_until(two_listed, timeout=20, message="the new segment too")
        ids = [s["id"] for s in listed]
        assert len(ids) == len(set(ids)) == 2  # the crashed one (closed) and the new one
        crashed = next(s for s in listed if path.stem.endswith(s["id"]))
        assert epoch(crashed["end"]) - epoch(crashed["start"]) >= 2.0
        facts = probe(path)
        assert facts["codec_name"] == "h264" and facts["frames"] >= 20
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        finally:
            stop_process(process)


# -- the RTSP test camera: segments are the camera's own packets ---------------------------------


def test_rtsp_camera_segments_are_its_packets_back_to_back_and_export_copies_them(tmp_path):
    footage = walking_figure(tmp_path / "walk.mp4", seconds=60, gop=10)  # a keyframe a second
    rtsp = RtspCamera(free_port(), {"walk": footage}).start()
    try:
        config = continuous_config(tmp_path / "data", source=rtsp.url("walk"), fps=10, size=(0, 0))
        began = time.time()
        with ServerThread(config) as server:
            finished = segments_since(server, began, 5)[:4]
            files = [segment_file(server, tmp_path / "data", item) for item in finished]
            copied = [packets(path) for path in files]
            source = [p["data_hash"] for p in packets(footage)]
            joined = [p["data_hash"] for segment in copied for p in segment]
            first = source.index(joined[0])
            assert joined == source[first : first + len(joined)]  # the camera's packets, none lost
            for segment in copied:
                assert "K" in segment[0]["flags"]  # each segment starts on a keyframe
            assert [s["codec_type"] for s in streams(files[0])] == ["video", "audio"]
            assert all(settled_has_audio(server, item["id"]) for item in finished)
            for left, right, left_packets in zip(finished, finished[1:], copied, strict=False):
                last = epoch(left["start"]) + float(left_packets[-1]["pts_time"])
                assert 0 < epoch(right["start"]) - last <= FRAME_S * 1.6
            start, end = epoch(finished[0]["start"]) + 0.5, epoch(finished[2]["end"]) - 0.3
            query = urllib.parse.urlencode({"start": start, "end": end})
            status, _, body = server.get(f"/api/cameras/cam/export.mp4?{query}")
            assert status == 200
            exported = tmp_path / "export.mp4"
            exported.write_bytes(body)
            info = probe(exported)
            assert end - start - 2 * FRAME_S <= info["duration"] <= end - start + 1.0  # one GOP
            exported_hashes = [p["data_hash"] for p in packets(exported)]
            assert exported_hashes == joined[: len(exported_hashes)]  # copied, not encoded
            assert packets(exported, "a")  # with the camera's audio
    finally:
        rtsp.stop()


def frame_sizes(path: Path) -> set[tuple[int, int]]:
    """The sizes of the pictures a file decodes to (not what its header says)."""
    import av

    with av.open(str(path)) as container:
        return {(frame.width, frame.height) for frame in container.decode(video=0)}


def test_an_rtsp_camera_switching_size_mid_stream_starts_a_segment_of_the_new_size(
    tmp_path, caplog
):
    # nothing is decoded (no detection): the size change is seen in the packets' SPS
    stream = switching_stream(tmp_path / "switch.ts", ("480x360", "640x480"), seconds=5)
    rtsp = RtspCamera(free_port(), {"cam": stream}).start()
    try:
        config = continuous_config(
            tmp_path / "data", segment_seconds=60, source=rtsp.url("cam"), fps=10, size=(0, 0)
        )
        config.cameras[0].motion.enabled = False
        began = time.time()
        with ServerThread(config) as server:
            # the camera's 10 s end (a reconnect closes the second segment)
            found = segments_since(server, began, 3)[:2]
            files = [segment_file(server, tmp_path / "data", item) for item in found]
            wait_until(lambda: all(whole_fragments(f) for f in files), timeout=30)
    finally:
        rtsp.stop()
    for path, size in zip(files, [(480, 360), (640, 480)], strict=True):
        video = next(s for s in streams(path) if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == size  # its header says what it holds
        assert frame_sizes(path) == {size}
        assert "K" in packets(path)[0]["flags"]
    changed = [r.message for r in caplog.records if "resolution changed" in r.message]
    assert changed == [
        "camera cam: resolution changed from 480x360 to 640x480 mid-stream; a new segment"
    ]


def tone_hz(path: Path) -> tuple[float, float]:
    """(dominant frequency, RMS) of a file's sound, decoded to 48 kHz mono."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a", "-ac", "1", "-ar", "48000",
         "-f", "s16le", "-"],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    sound = np.frombuffer(result.stdout, np.int16).astype(np.float64)
    peak = float(np.argmax(np.abs(np.fft.rfft(sound)))) * 48000 / len(sound)
    return peak, float(np.sqrt(np.mean(sound**2)))


def test_a_webcams_segments_carry_its_microphones_sound(tmp_path, monkeypatch):
    system_alsa_for_this_test(monkeypatch)
    microphone = PulseMicrophone(tmp_path, 550, "mic_segments").start()
    try:
        config = continuous_config(tmp_path / "data")
        config.cameras[0].audio_source = f"pulse:{microphone.source}"
        began = time.time()
        with ServerThread(config) as server:
            found = segments_since(server, began, 4)
            files = [  # closed, and begun once the microphone was heard
                segment_file(server, tmp_path / "data", item) for item in found[1:3]
            ]
    finally:
        microphone.stop()
    for path in files:
        assert [s["codec_type"] for s in streams(path)] == ["video", "audio"]
        video_start, video_end, sound_start, sound_end, gap = sound_timeline(path)
        frequency, rms = tone_hz(path)
        print(f"{path.name}: sound {sound_start:.2f}-{sound_end:.2f} s of {video_end:.2f} s, "
              f"{frequency:.0f} Hz, rms {rms:.0f}")  # fmt: skip
        assert abs(sound_start - video_start) <= 0.3 and gap < 0.1
        assert sound_end >= video_end - 0.5
        assert abs(frequency - 550) < 20 and rms > 1000


def test_a_g711_cameras_segments_have_its_sound_as_aac_beside_its_copied_video(tmp_path):
    footage = walking_figure(tmp_path / "walk.mp4", seconds=60, gop=10)
    rtsp = RtspCamera(free_port(), {"walk": footage}, audio="pcma").start()
    try:
        config = continuous_config(tmp_path / "data", source=rtsp.url("walk"), fps=10, size=(0, 0))
        began = time.time()
        with ServerThread(config) as server:
            path = segment_file(server, tmp_path / "data", segments_since(server, began, 3)[1])
    finally:
        rtsp.stop()
    kinds = {s["codec_type"]: s["codec_name"] for s in streams(path)}
    assert kinds == {"video": "h264", "audio": "aac"}  # G.711 was dropped from segments before
    theirs = {p["data_hash"] for p in packets(footage)}
    assert all(p["data_hash"] in theirs for p in packets(path))  # the video still copied
    video_start, video_end, sound_start, sound_end, gap = sound_timeline(path)
    assert abs(sound_start - video_start) <= 0.3 and gap < 0.1, (sound_start, gap)
    assert sound_end >= video_end - 0.5
    assert abs(tone_hz(path)[0] - 440) < 20


def test_the_remuxed_mp4_of_a_deleted_event_goes_with_the_next_pass(store):
    segments = SegmentStore(store, free_bytes=FakeDisk(10**12))
    mark_event(store, "kept", NOW - 100)
    cache = store.root / RANGES_DIR
    cache.mkdir(parents=True)
    for name in ("kept", "gone"):
        (cache / f"{name}.mp4").write_bytes(b"mp4")
    retention = RetentionConfig(max_days=30, continuous_days=3, max_bytes=0, min_free_bytes=0)
    segments.enforce_retention(retention, now=NOW)
    assert sorted(p.name for p in cache.iterdir()) == ["kept.mp4"]


def test_a_remuxed_mp4_is_kept_a_day_at_most(store):
    segments = SegmentStore(store, free_bytes=FakeDisk(10**12))
    mark_event(store, "kept", NOW - 100)
    mark_event(store, "old", NOW - 200)
    cache = store.root / RANGES_DIR
    cache.mkdir(parents=True)
    for name in ("kept.mp4", "kept.1a2b3c4d.tmp.mp4", "old.mp4"):
        (cache / name).write_bytes(b"mp4")
    day_ago = time.time() - 86400 - 60
    os.utime(cache / "old.mp4", (day_ago, day_ago))
    retention = RetentionConfig(max_days=30, continuous_days=3, max_bytes=0, min_free_bytes=0)
    segments.enforce_retention(retention, now=NOW)
    # the second copy of an event's footage does not outlive a day; one being made stays
    assert sorted(p.name for p in cache.iterdir()) == ["kept.1a2b3c4d.tmp.mp4", "kept.mp4"]


# -- a full disk -----------------------------------------------------------------------------------


class FullSegmentStore(SegmentStore):
    """A SegmentStore whose next `failures` transactions, and every one while `full` is set,
    fail as SQLite does on a full disk."""

    failures = 0
    full = False

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.full or self.failures > 0:
            self.failures -= 1
            raise sqlite_disk_full()
        with super()._transaction() as db:
            yield db


def test_a_segment_row_is_written_with_the_index_reserve_when_the_disk_is_full(store):
    segments = FullSegmentStore(store)
    reserve = store.root / RESERVE_NAME
    assert reserve.stat().st_size == RESERVE_BYTES
    segments.failures = 1
    record = add_segment(segments, NOW - 60)  # written once the reserve made room
    assert not reserve.exists() and segments.get(record.id) == record
    store.keep_reserve()  # as retention does once there is room again
    assert reserve.stat().st_size == RESERVE_BYTES


def test_on_a_full_disk_segment_rows_are_kept_and_written_later_logged_once(
    tmp_path, store, caplog
):
    caplog.set_level(logging.INFO, logger="camwatch.recording")
    segments = FullSegmentStore(store)
    closed: list[ClipResult] = []
    recorder = SegmentRecorder(
        "cam", tmp_path, segments, segment_seconds=1.0, on_closed=closed.append
    )
    image = np.zeros((48, 64, 3), np.uint8)

    def feed(start: int, stop: int) -> None:
        for i in range(start, stop):  # 10 fps, capture times without waiting
            frame = Frame.from_image(image, i + 1, captured_at=NOW + i / 10, monotonic=i / 10)
            recorder.on_frame(frame)

    segments.full = True
    feed(0, 45)  # five segments, four of them closed, while nothing can be indexed
    wait_until(lambda: len(closed) == 4, timeout=30, message="four segments closed")
    assert segments.records() == []
    segments.full = False  # retention made room
    feed(45, 55)
    recorder.close()
    rows = segments.records()
    assert len(rows) == 6 and all(r.status == "complete" for r in rows)
    assert all((tmp_path / r.path).is_file() and r.size_bytes > 0 for r in rows)
    logged = [r for r in caplog.records if r.name == "camwatch.recording.segment_index"]
    assert [r.levelno for r in logged] == [logging.ERROR, logging.INFO], logged


def test_sound_that_comes_late_still_reaches_the_segment_it_was_captured_in(tmp_path, store):
    """A microphone's packets come once their last sample has, later on a busy machine (here
    0.5 s): the segment of frames still gets the sound of its last moments after the next
    one has begun."""
    segments = SegmentStore(store)
    recorder = SegmentRecorder("cam", tmp_path, segments, segment_seconds=1.0)
    recorder.on_packet(tone_packet(-8, NOW))  # heard before the first frame
    image = np.random.default_rng(1).integers(0, 255, (48, 64, 3), np.uint8)
    sent = -7
    for i in range(36):  # 10 fps, each sound packet handed over 0.5 s after it began
        recorder.on_frame(
            Frame.from_image(image, i + 1, captured_at=NOW + i / 10, monotonic=i / 10)
        )
        while sent / 10 <= i / 10 - 0.5:
            recorder.on_packet(tone_packet(sent, NOW))
            sent += 1
    recorder.close()
    rows = sorted(segments.records(), key=lambda r: r.started_at)
    assert len(rows) == 4 and all(r.has_audio for r in rows)
    for row in rows[:3]:
        video_start, video_end, sound_start, sound_end, gap = sound_timeline(tmp_path / row.path)
        assert abs(sound_start - video_start) <= 0.05 and gap < 0.1, row.path
        assert sound_end >= video_end - 0.05, (row.path, sound_end, video_end)


def test_close_waits_for_a_writer_still_finishing_its_segment(tmp_path, store):
    """close() returns once every writer is done with its segment (its row put too), also one
    that had already closed its file when close() was called."""
    entered, released = threading.Event(), threading.Event()

    def held(result: ClipResult) -> None:  # the writer thread, after the segment's row
        entered.set()
        released.wait(30)

    segments = SegmentStore(store)
    recorder = SegmentRecorder("cam", tmp_path, segments, segment_seconds=10.0, on_closed=held)
    image = np.zeros((48, 64, 3), np.uint8)
    for i in range(6):  # five frames, then the camera goes offline: the segment is closed
        frame = Frame.from_image(
            image, i + 1, captured_at=NOW + i / 10, monotonic=i / 10, online=i < 5
        )
        recorder.on_frame(frame)
    assert entered.wait(30)
    assert_waits_for(lambda: recorder.close(30.0), released)  # for the writer
    [row] = segments.records()
    assert row.status == "complete"


def test_kept_segment_rows_are_capped_oldest_puts_first_and_reconcile_restores_them(store, caplog):
    caplog.set_level(logging.INFO, logger="camwatch.recording")
    segments = FullSegmentStore(store)
    rows = SegmentRows(segments, "cam")
    first = add_segment(segments, NOW - 10**6)  # indexed, then deleted while the disk is full
    segments.full = True
    rows.delete(first)
    dropped = segment_path(segments.root, "cam", NOW - 10**5, "dead")
    write_fragmented_clip(dropped, 10)  # its row is the oldest put kept: the first given up
    rows.put(
        SegmentRecord(
            "dead", "cam", NOW - 10**5, NOW - 10**5, str(dropped.relative_to(segments.root))
        )
    )
    for i in range(PENDING_ROWS_MAX + 4):
        rows.put(SegmentRecord(f"{i:x}", "cam", NOW + i, NOW + i + 1, f"segments/none/{i}.mp4"))
    assert rows.pending == PENDING_ROWS_MAX
    segments.full = False
    rows.retry()
    written = {r.id for r in segments.records()}
    assert first.id not in written and not (store.root / first.path).exists()  # the delete kept
    assert "dead" not in written and len(written) == PENDING_ROWS_MAX - 1
    assert f"{PENDING_ROWS_MAX + 3:x}" in written and "0" not in written  # the newest kept
    logged = [r for r in caplog.records if r.name == "camwatch.recording.segment_index"]
    assert [r.levelno for r in logged] == [logging.ERROR, logging.WARNING, logging.INFO], logged
    report = segments.reconcile()  # the next start: the segment file gets its row back
    assert "dead" in report.indexed and segments.get("dead").status == "truncated"
