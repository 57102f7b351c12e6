"""Clips from a real RTSP camera (GStreamer's RTSP server) are the camera's own packets: the same
bytes, from a keyframe, with its AAC audio; they play with sound in Chromium, survive kill -9,
and a camera that goes away mid-event leaves a closed, playable clip and reconnects."""

from __future__ import annotations

import dataclasses
import errno
import shutil
import signal
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from camwatch.capture.av_source import stream_info
from camwatch.capture.h264_sps import sps_sizes
from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.config import MotionConfig
from camwatch.recording.packet_writer import PacketClipWriter
from camwatch.recording.recorder import EventRecorder
from tests.helpers.browser import play_to_end
from tests.helpers.camera_files import (
    camera_packets,
    decodes,
    packets,
    sound_timeline,
    streams,
    switching_stream,
    walking_figure,
)
from tests.helpers.camwatch_process import CamwatchProcess
from tests.helpers.processes import free_port
from tests.helpers.rtsp_camera import RtspCamera
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow
PRE_ROLL_S = 2.0


def camera_toml(url: str, *, pre_roll: float = PRE_ROLL_S) -> str:
    return f"""
[[cameras]]
name = "cam"
source = "{url}"
fps = 10

[cameras.motion]
pre_roll_seconds = {pre_roll}
min_motion_frames = 3
"""


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("footage")
    return {
        # one walk 4-9 s after the camera connects; keyframes every 3 s (0, 3, 6...)
        "walk": walking_figure(folder / "walk.mp4", seconds=40, walks=((4.0, 9.0),), gop=30),
        # someone in the picture the whole time: the event goes on until we stop it
        "busy": walking_figure(
            folder / "busy.mp4",
            seconds=60,
            walks=tuple((3.0 + 4 * i, 7.0 + 4 * i) for i in range(14)),
        ),
    }


@pytest.fixture(scope="module")
def rtsp(footage: dict[str, Path]) -> Any:
    camera = RtspCamera(free_port(), footage).start()
    yield camera
    camera.stop()


def camera_info(camwatch: CamwatchProcess) -> dict[str, Any]:
    cameras: list[dict[str, Any]] = camwatch.get_json("/api/cameras")
    return next(c for c in cameras if c["name"] == "cam")


def event_of(camwatch: CamwatchProcess, *, ended: bool, timeout: float = 60.0) -> dict[str, Any]:
    """The latest event that has ended (or is still recording, with ended=False)."""
    found = wait_until(
        lambda: [
            e for e in camwatch.get_json("/api/events") if (e["ended_at"] is not None) == ended
        ],
        timeout=timeout,
        interval=0.2,
        message="an ended event" if ended else "an event in progress",
    )
    event: dict[str, Any] = found[-1]
    return event


def clip_path(camwatch: CamwatchProcess, event: dict[str, Any]) -> Path:
    clips = list((camwatch.data_dir / "clips").rglob(f"*-{event['id']}.mp4"))
    assert len(clips) == 1, clips
    return clips[0]


def matched(clip: Path, source: Path, kind: str = "v") -> tuple[int, int, list[dict[str, Any]]]:
    """(packets in the clip, how many are byte for byte one of the source's, the clip's)."""
    theirs = {p["data_hash"] for p in packets(source, kind)}
    ours = packets(clip, kind)
    return len(ours), sum(p["data_hash"] in theirs for p in ours), ours


def test_rtsp_clip_is_the_cameras_packets_from_a_keyframe_with_its_audio(
    tmp_path, rtsp, footage, open_page
):
    camwatch = CamwatchProcess(tmp_path, cameras=camera_toml(rtsp.url("walk"))).start()
    try:
        event = event_of(camwatch, ended=True)
        camera = camera_info(camwatch)
    finally:
        camwatch.kill()
    assert camera["codec"] == "h264" and camera["audio"] is True
    assert event["has_audio"] is True
    clip = clip_path(camwatch, event)
    total, same, ours = matched(clip, footage["walk"])
    print(f"video packets: {same}/{total} byte for byte the camera's")
    assert total >= 50 and same / total >= 0.9
    assert ours[0]["flags"].startswith("K")
    # The clip starts at the keyframe at or before the pre-roll start: the walk is seen from
    # about 4.2 s, so the pre-roll starts at about 2.2 s; the keyframe before it is at 0 s
    # (a long GOP makes a longer pre-roll, not a clip starting on a P-frame).
    source = packets(footage["walk"])
    keyframes = [float(p["pts_time"]) for p in source if p["flags"].startswith("K")]
    assert keyframes[:3] == [0.0, 3.0, 6.0]
    first = next(i for i, p in enumerate(source) if p["data_hash"] == ours[0]["data_hash"])
    assert float(source[first]["pts_time"]) == 0.0
    audio_total, audio_same, _ = matched(clip, footage["walk"], "a")
    print(f"audio packets: {audio_same}/{audio_total} byte for byte the camera's")
    assert audio_total > 100 and audio_same / audio_total >= 0.9
    kinds = {s["codec_type"]: s for s in streams(clip)}
    assert kinds["video"]["codec_name"] == "h264" and kinds["audio"]["codec_name"] == "aac"
    assert decodes(clip)
    # the camera's sound is in the pre-roll too: from the clip's first frame, without a hole
    video_start, video_end, audio_start, audio_end, gap = sound_timeline(clip)
    print(f"video {video_start:.3f}-{video_end:.2f} s, audio {audio_start:.3f}-{audio_end:.2f} s")
    assert abs(audio_start - video_start) <= 0.3 and gap < 0.1, (audio_start, gap)
    assert audio_end >= video_end - 0.5

    shutil.copy(clip, tmp_path / "clip.mp4")
    played = play_to_end(open_page, tmp_path / "clip.mp4")
    print("played in Chromium:", played)
    assert played.get("muted") is False and played["audio"] > 0 and played["video"] > 0
    assert played["t"] > 3


def test_kill_9_mid_event_leaves_a_playable_clip_of_camera_packets(tmp_path, rtsp, footage):
    camwatch = CamwatchProcess(tmp_path, cameras=camera_toml(rtsp.url("busy"))).start()
    try:
        event = event_of(camwatch, ended=False)
        clip = clip_path(camwatch, event)
        # wait for a few fragments (one per keyframe, every 2 s) to reach the disk
        wait_until(lambda: clip.stat().st_size > 1_000_000, timeout=30, message="fragments")
        assert camwatch.process is not None
        camwatch.process.send_signal(signal.SIGKILL)
        camwatch.process.wait(10)
    finally:
        camwatch.kill()
    assert event["has_audio"] is True  # said while recording: a clip with the camera's sound
    total, same, ours = matched(clip, footage["busy"])
    print(f"after kill -9: {same}/{total} packets the camera's")
    assert total >= 20 and same / total >= 0.9 and ours[0]["flags"].startswith("K")
    assert decodes(clip)
    # the next start lists it once, closed, with its sound
    again = CamwatchProcess(tmp_path, cameras=camera_toml(rtsp.url("busy"))).start()
    try:
        listed = wait_until(
            lambda: [e for e in again.get_json("/api/events") if e["id"] == event["id"]],
            timeout=30,
            message="the event after the restart",
        )
    finally:
        again.kill()
    assert len(listed) == 1 and listed[0]["ended_at"] is not None
    assert listed[0]["has_audio"] is True


def test_camera_gone_mid_event_closes_the_clip_and_reconnects(tmp_path, footage):
    port = free_port()
    server = RtspCamera(port, {"busy": footage["busy"]}).start()
    camwatch = CamwatchProcess(tmp_path, cameras=camera_toml(server.url("busy"))).start()
    try:
        event = event_of(camwatch, ended=False)
        wait_until(
            lambda: clip_path(camwatch, event).stat().st_size > 300_000,
            timeout=30,
            message="a fragment on disk",
        )
        server.stop()
        wait_until(lambda: not camera_info(camwatch)["online"], timeout=30, message="offline")
        ended = wait_until(
            lambda: camwatch.get_json(f"/api/events/{event['id']}")["ended_at"],
            timeout=30,
            message="the event closed",
        )
        assert ended
        server = RtspCamera(port, {"busy": footage["busy"]}).start()
        wait_until(lambda: camera_info(camwatch)["online"], timeout=60, message="back online")
    finally:
        camwatch.kill()
        server.stop()
    clip = clip_path(camwatch, event)
    assert decodes(clip)
    total, same, _ = matched(clip, footage["busy"])
    assert total >= 10 and same / total >= 0.9
    offline_lines = [line for line in camwatch.log_text().splitlines() if "offline" in line]
    print("\n".join(offline_lines))
    assert len(offline_lines) == 1, offline_lines  # once when it went, not per retry
    assert "Traceback" not in camwatch.log_text()


def test_g711_audio_is_transcoded_to_aac_beside_the_copied_video(tmp_path, footage):
    server = RtspCamera(free_port(), {"walk": footage["walk"]}, audio="pcma").start()
    camwatch = CamwatchProcess(tmp_path, cameras=camera_toml(server.url("walk"))).start()
    try:
        event = event_of(camwatch, ended=True)
    finally:
        camwatch.kill()
        server.stop()
    clip = clip_path(camwatch, event)
    kinds = {s["codec_type"]: s for s in streams(clip)}
    assert kinds["audio"]["codec_name"] == "aac" and event["has_audio"] is True
    video_s, audio_s = float(kinds["video"]["duration"]), float(kinds["audio"]["duration"])
    assert abs(video_s - audio_s) < 1.0, (video_s, audio_s)  # sound all along the clip
    video_start, _, audio_start, _, gap = sound_timeline(clip)  # the pre-roll's included
    assert abs(audio_start - video_start) <= 0.3 and gap < 0.1, (audio_start, gap)
    total, same, _ = matched(clip, footage["walk"])
    assert same / total >= 0.9 and decodes(clip)


def test_audio_in_a_codec_nobody_decodes_leaves_a_video_only_clip(tmp_path, caplog):
    recorder = EventRecorder("cam", MotionConfig(), tmp_path)
    video = StreamInfo("video", "h264", Fraction(1, 90000), width=480, height=360)
    odd = StreamInfo("audio", "not_a_codec", Fraction(1, 8000), sample_rate=8000, channels=1)
    with caplog.at_level("WARNING"):
        recorder.on_streams(video, odd)
        recorder.on_streams(video, odd)  # a reconnect: not logged again
    assert recorder.copies_packets and not recorder.records_audio
    lines = [r for r in caplog.records if "not_a_codec" in r.getMessage()]
    assert len(lines) == 1


def ts_file(path: Path, size: str, seconds: int = 8) -> Path:
    """H.264 in MPEG-TS (SPS/PPS in band, as cameras stream): a box moving all the time."""
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"color=c=0x607080:s={size}:r=10,noise=alls=5:allf=t",
            "-f", "lavfi", "-i", "color=c=0x202020:s=60x150:r=10",
            "-filter_complex", "[0][1]overlay=x='mod(t*100,W)':y=H/3[v]", "-map", "[v]",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "baseline",
            "-g", "20", "-bf", "0", "-pix_fmt", "yuv420p", "-f", "mpegts", str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


def test_resolution_change_mid_stream_closes_the_clip_and_starts_a_playable_one(tmp_path):
    # two recordings back to back: the resolution changes and the timestamps start over
    parts = [ts_file(tmp_path / f"{size}.ts", size) for size in ("480x360", "640x480")]
    joined = tmp_path / "change.ts"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    camwatch = CamwatchProcess(tmp_path, cameras=camera_toml(str(joined), pre_roll=1.0)).start()
    try:
        ended = wait_until(
            lambda: (
                len([e for e in camwatch.get_json("/api/events") if e["ended_at"]]) >= 2
                and camwatch.get_json("/api/events")
            ),
            timeout=60,
            message="two closed clips",
        )
    finally:
        camwatch.kill()
    sizes = set()
    for event in ended:
        clip = clip_path(camwatch, event)
        video = next(s for s in streams(clip) if s["codec_type"] == "video")
        sizes.add((video["width"], video["height"]))
        assert decodes(clip), clip
        assert packets(clip)[0]["flags"].startswith("K")
    assert {(480, 360), (640, 480)} <= sizes
    log = camwatch.log_text()
    assert log.count("resolution changed") == 1 and log.count("broken timestamps") == 1
    assert "Traceback" not in log


def test_a_camera_switching_past_max_frame_pixels_is_offline_once_with_its_clip_closed(tmp_path):
    # a real RTSP camera: 4 s at 480x360, then 1280x720 past max_frame_pixels (640x480)
    stream = switching_stream(tmp_path / "switch.ts", ("480x360", "1280x720"))
    rtsp = RtspCamera(free_port(), {"cam": stream}).start()
    cameras = camera_toml(rtsp.url("cam"), pre_roll=1.0).replace(
        "fps = 10\n", "fps = 10\nmax_frame_pixels = 307200\n", 1
    )
    camwatch = CamwatchProcess(tmp_path, cameras=cameras).start()
    try:
        offline = wait_until(
            lambda: [
                c for c in camwatch.get_json("/api/cameras") if "max_frame_pixels" in c["status"]
            ],
            timeout=60,
            message="the camera offline for its new size",
        )
        log_then = camwatch.log_text()
        ended = wait_until(
            lambda: [e for e in camwatch.get_json("/api/events") if e["ended_at"]],
            timeout=30,
            message="the clip closed",
        )
        wait_until(
            lambda: camwatch.log_text().count("camera cam: online") >= 2,
            timeout=60,
            message="online again (the camera reconnected and sends 480x360 first)",
        )
    finally:
        camwatch.kill()
        rtsp.stop()
    assert not offline[0]["online"] and "1280x720" in offline[0]["status"]
    assert log_then.count("larger than max_frame_pixels") == 1, log_then  # once, not per packet
    clip = clip_path(camwatch, ended[0])
    assert decodes(clip) and packets(clip)[0]["flags"].startswith("K")
    video = next(s for s in streams(clip) if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (480, 360)
    with av.open(str(clip)) as container:
        extradata = container.streams.video[0].codec_context.extradata
        sizes = {size for p in container.demux(video=0) for size in sps_sizes(bytes(p), extradata)}
    with av.open(str(clip)) as container:
        sizes |= {(f.width, f.height) for f in container.decode(video=0)}
    assert sizes == {(480, 360)}  # nothing of the new size reached the clip
    assert "Traceback" not in camwatch.log_text()


class _FullDiskContainer:
    """An output container on a full disk: muxing fails with ENOSPC; close is recorded."""

    def __init__(self) -> None:
        self.closed = False

    def mux(self, packets: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self.closed = True


class _Track:
    def flush(self) -> list[object]:
        return [object()]


def test_a_clip_whose_last_packets_hit_a_full_disk_is_still_closed(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"fragments so far")
    video = StreamInfo("video", "h264", Fraction(1, 90000), width=64, height=48)
    writer = PacketClipWriter(path, lambda result: None, video=video)
    container = _FullDiskContainer()
    writer._close(container, {"video": _Track()}, abort=False)  # type: ignore[arg-type,dict-item]
    assert container.closed  # no descriptor left open per failed clip
    assert writer.result.disk_full and writer.result.size_bytes == len(b"fragments so far")


def test_a_gop_is_on_disk_once_the_camera_sends_the_next_one_without_finishing(tmp_path):
    """The writer is woken by video packets (not each audio packet), and the fragment is cut at
    a keyframe: the GOP before it is on disk, as a crash would leave it, once the packets up to
    the next video frame after that keyframe are in (the muxer interleaves by timestamp)."""
    source = walking_figure(tmp_path / "cam.mp4", seconds=6, gop=20)
    video, audio, all_packets = camera_packets(source)
    frames = [i for i, p in enumerate(all_packets) if p.is_video]
    keyframes = [i for i in frames if all_packets[i].keyframe]
    after = next(i for i in frames if i > keyframes[1])  # the first frame after the keyframe
    gop_video = sum(p.is_video for p in all_packets[: keyframes[1]])
    writer = PacketClipWriter(tmp_path / "clip.mp4", lambda result: None, video=video, audio=audio)
    writer.start()
    try:
        for packet in all_packets[: after + 1]:
            assert writer.submit(packet)
        wait_until(
            lambda: writer.path.exists() and len(packets(writer.path)) >= gop_video,
            timeout=20,
            message="the first GOP's fragment on disk",
        )
        theirs = [p["data_hash"] for p in packets(source)][:gop_video]
        assert [p["data_hash"] for p in packets(writer.path)][:gop_video] == theirs
    finally:
        writer.finish()
        writer.join(20)
    assert writer.result.frames == gop_video + 2


def test_packets_between_keyframes_are_muxed_after_a_bounded_batch(tmp_path):
    source = walking_figure(tmp_path / "cam.mp4", seconds=4, gop=40)
    video, audio, all_packets = camera_packets(source)
    first_keyframe = next(p for p in all_packets if p.is_video and p.keyframe)
    sounds = [p for p in all_packets if not p.is_video and p.t >= first_keyframe.t][:40]
    writer = PacketClipWriter(tmp_path / "clip.mp4", lambda result: None, video=video, audio=audio)
    writer.start()
    try:
        assert writer.submit(first_keyframe)
        for packet in sounds:  # no further video: only the batch size wakes the writer
            assert writer.submit(packet)
        wait_until(lambda: writer.result.audio_packets >= 32, timeout=20, message="a batch")
    finally:
        writer.finish()
        writer.join(20)
    assert writer.result.audio_packets == len(sounds)


def clip_of(path: Path, video: StreamInfo, audio: StreamInfo, found: list[EncodedPacket]) -> Path:
    """`found` (a keyframe first) written by a PacketClipWriter, as the recorder hands them."""
    writer = PacketClipWriter(path, lambda result: None, video=video, audio=audio)
    writer.start()
    for packet in found:
        assert writer.submit(packet)
    writer.finish()
    writer.join(30)
    assert not writer.is_alive() and writer.result.error is None
    return path


def test_g711_begun_before_the_first_frame_sounds_from_the_frame_on(tmp_path):
    """Sound decoded anyway (G.711 here, a microphone's PCM likewise) keeps the samples from
    the clip's first frame on, rather than dropping the packet and starting 0.05 s late."""
    source = walking_figure(tmp_path / "cam.mp4", seconds=3, gop=10, audio=False)
    with av.open(str(source)) as container:
        video = stream_info(container.streams.video[0])
        frames = []
        for p in container.demux(video=0):
            if p.dts is not None:
                t = float(p.dts * p.time_base)
                frames.append(EncodedPacket(video, bytes(p), p.dts, p.pts, t, t, p.is_keyframe))
    g711 = StreamInfo("audio", "pcm_alaw", Fraction(1, 8000), sample_rate=8000, channels=1)
    # 0.1 s packets of silence, the first from 0.05 s before the clip's first frame: silent
    # until the frame, then a loud 4 kHz square wave (A-law 0xAA, 0x2A) up to its end
    first = b"\xd5" * 400 + b"\xaa\x2a" * 200
    sound = [
        EncodedPacket(g711, first if i == 0 else b"\xd5" * 800, i * 800, i * 800, t, t, True)
        for i, t in enumerate(frames[0].t - 0.05 + 0.1 * i for i in range(25))
    ]
    found = [frames[0], *sorted(frames[1:] + sound, key=lambda p: p.t)]
    clip = clip_of(tmp_path / "clip.mp4", video, g711, found)
    video_start, _, sound_start, _, gap = sound_timeline(clip)
    assert abs(sound_start - video_start) < 0.02 and gap < 0.1, (sound_start, video_start)
    with av.open(str(clip)) as container:
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    # at 16 kHz; the encoder's 1024 samples of priming are cut by the clip's edit list
    loud = np.flatnonzero(np.abs(samples) > 0.3)
    assert len(loud) > 0, "the loud half of the first packet is lost"
    # the sound's first samples are the frame's (its silent half cut), 0.05 s of them
    assert loud[0] < 40 and abs(loud[-1] - loud[0] - 800) < 80, (loud[0], loud[-1])


@pytest.mark.parametrize(("before_s", "kept"), [(0.008, True), (0.015, False)])
def test_copied_aac_begun_before_the_first_frame_is_kept_when_mostly_after_it(
    tmp_path, before_s, kept
):
    """An AAC frame cannot be cut: one starting before the clip's first frame is kept (at the
    clip's start) when more than half of it (21 ms at 48 kHz) comes after."""
    source = walking_figure(tmp_path / "cam.mp4", seconds=3, gop=10)
    video, audio, found = camera_packets(source)
    frames = [p for p in found if p.is_video]
    zero = frames[0].t
    sound = [p for p in found if not p.is_video and p.t >= zero]
    lead = zero - before_s - sound[0].t
    sound = [dataclasses.replace(p, t=p.t + lead, captured_at=p.t + lead) for p in sound]
    clip = clip_of(
        tmp_path / "clip.mp4",
        video,
        audio,
        [frames[0], *sorted(frames[1:] + sound, key=lambda p: p.t)],
    )
    ours = [p["data_hash"] for p in packets(clip, "a")]
    theirs = [p["data_hash"] for p in packets(source, "a") if float(p["pts_time"]) >= zero]
    assert ours[:5] == (theirs[:5] if kept else theirs[1:6])


@pytest.mark.parametrize("late_s", [0.04, 0.085])
def test_sound_starting_after_the_first_frame_keeps_its_time(tmp_path, late_s):
    """The camera's first sound 40 ms after the clip's first frame plays 40 ms in, not at 0 s
    (where FFmpeg puts a track's first packet when the header is written before it comes)."""
    source = walking_figure(tmp_path / "cam.mp4", seconds=3, gop=10)
    video, audio, found = camera_packets(source)
    frames = [p for p in found if p.is_video]
    sound = [p for p in found if not p.is_video and p.t >= frames[0].t]
    lead = frames[0].t + late_s - sound[0].t
    sound = [dataclasses.replace(p, t=p.t + lead, captured_at=p.t + lead) for p in sound]
    clip = clip_of(
        tmp_path / "clip.mp4",
        video,
        audio,
        [frames[0], *sorted(frames[1:] + sound, key=lambda p: p.t)],
    )
    first, second = (float(p["pts_time"]) for p in packets(clip, "a")[:2])
    assert abs(first - late_s) < 0.002, first
    assert abs(second - first - 1024 / 48000) < 0.002, (first, second)
