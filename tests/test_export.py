"""export_range: footage of several files remuxed into one MP4, checked with ffprobe."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from camwatch.recording import export
from camwatch.recording.export import Footage, NoVideo, export_range
from tests.helpers.camera_files import streams
from tests.helpers.event_files import (
    FPS,
    KEYFRAME_EVERY,
    write_clip_with_audio,
    write_fragmented_clip,
)
from tests.helpers.media import probe

T0 = 1_790_000_000.0
GOP_S = KEYFRAME_EVERY / FPS
FRAME_S = 1 / FPS


def packet_times(path: Path, stream: str = "v:0") -> list[float]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
         "packet=pts_time,flags", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return sorted(float(p["pts_time"]) for p in json.loads(result.stdout)["packets"])


def three_segments(folder: Path, *, audio: bool = False) -> list[Footage]:
    """Three 3 s files back to back (as continuous segments are): T0, T0+3, T0+6."""
    out = []
    for i in range(3):
        path = folder / f"seg{i}.mp4"
        if audio:
            write_clip_with_audio(path, 30)
        else:
            write_fragmented_clip(path, 30)
        out.append(Footage(path, T0 + 3 * i, T0 + 3 * i + 2.9))
    return out


def test_an_export_across_three_segments_has_the_asked_duration_within_one_gop(tmp_path):
    sources = three_segments(tmp_path)
    target = tmp_path / "out.mp4"
    result = export_range(sources, T0 + 1.5, T0 + 7.5, target)
    info = probe(target)
    assert info["codec_name"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert 6.0 - FRAME_S <= info["duration"] <= 6.0 + GOP_S
    assert result.first_at == pytest.approx(T0 + 1.0)  # the keyframe before start
    assert result.last_at == pytest.approx(T0 + 7.4)
    times = packet_times(target)
    assert times[0] == pytest.approx(0.0, abs=0.002)
    assert len(times) == info["frames"] == result.video_packets == 65
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == pytest.approx(FRAME_S, abs=0.002)  # seamless where the files meet


def test_the_packets_are_copied_not_encoded_again(tmp_path):
    sources = three_segments(tmp_path)
    target = tmp_path / "out.mp4"
    export_range(sources, T0, T0 + 9, target)
    import av

    def payloads(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(video=0) if p.size]

    copied = [data for source in sources for data in payloads(source.path)]
    assert payloads(target) == copied


def test_audio_comes_along(tmp_path):
    sources = three_segments(tmp_path, audio=True)
    target = tmp_path / "out.mp4"
    result = export_range(sources, T0 + 2, T0 + 8, target)
    assert result.audio_packets > 0
    audio = packet_times(target, "a:0")
    assert audio[0] >= -0.07  # nothing from before the first frame (an AAC frame of slack)
    assert audio[-1] == pytest.approx(packet_times(target)[-1], abs=0.2)


def test_a_range_without_footage_is_no_video(tmp_path):
    sources = three_segments(tmp_path)
    with pytest.raises(NoVideo):
        export_range(sources, T0 + 100, T0 + 200, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_a_range_inside_one_gop_still_starts_on_its_keyframe(tmp_path):
    sources = three_segments(tmp_path)
    target = tmp_path / "out.mp4"
    result = export_range(sources, T0 + 1.2, T0 + 1.5, target)
    assert result.first_at == pytest.approx(T0 + 1.0)
    assert probe(target)["frames"] == 5  # 1.0 .. 1.4


def test_a_missing_file_is_skipped(tmp_path):
    sources = three_segments(tmp_path)
    sources[1].path.unlink()
    target = tmp_path / "out.mp4"
    result = export_range(sources, T0, T0 + 9, target)
    assert result.video_packets == 60


def sound_onsets(path: Path, level: float = 0.05) -> list[float]:
    """Times (s, by the decoded frames' timestamps) where the sound turns on after silence."""
    import av

    onsets, loud_before = [], False
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            samples = np.abs(frame.to_ndarray()).max(axis=0)
            loud = np.flatnonzero(samples > level)
            if loud.size and not loud_before:
                onsets.append(float(frame.time) + loud[0] / frame.sample_rate)
            loud_before = bool(loud.size) and loud[-1] > frame.samples - 64
    return onsets


def stream_duration(path: Path, stream: str) -> float:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
         "packet=pts_time,duration_time", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    packets = json.loads(result.stdout)["packets"]
    return max(float(p["pts_time"]) + float(p.get("duration_time", 0)) for p in packets)


def mixed_segments(folder: Path, with_sound: list[bool]) -> list[Footage]:
    """3 s files back to back, each with a tone or without an audio track."""
    out = []
    for i, sound in enumerate(with_sound):
        path = folder / f"seg{i}.mp4"
        (write_clip_with_audio if sound else write_fragmented_clip)(path, 30)
        out.append(Footage(path, T0 + 3 * i, T0 + 3 * i + 2.9))
    return out


def test_sound_that_begins_in_a_later_file_is_exported_in_step_with_the_video(tmp_path):
    sources = mixed_segments(tmp_path, [False, True, True])
    target = tmp_path / "out.mp4"
    result = export_range(sources, T0, T0 + 9, target)
    assert result.audio_packets > 0
    # where the tone starts in its own file (the muxer's priming shift), 3 s on
    onset = 3.0 + sound_onsets(sources[1].path)[0]
    assert sound_onsets(target)[0] == pytest.approx(onset, abs=0.002)
    video_end = stream_duration(target, "v:0")
    assert stream_duration(target, "a:0") == pytest.approx(video_end, abs=2 * FRAME_S)
    audio = packet_times(target, "a:0")
    assert audio[0] == pytest.approx(0.0, abs=0.07)  # silence from the first frame on
    assert max(b - a for a, b in itertools.pairwise(audio)) < 0.13  # two AAC frames at 16 kHz


def test_sound_that_stops_and_comes_back_is_silence_between_and_in_step_after(tmp_path):
    sources = mixed_segments(tmp_path, [True, False, True])
    target = tmp_path / "out.mp4"
    export_range(sources, T0, T0 + 9, target)
    onset = sound_onsets(sources[0].path)[0]
    assert sound_onsets(target) == [
        pytest.approx(onset, abs=0.002),
        pytest.approx(6.0 + onset, abs=0.002),
    ]
    audio = packet_times(target, "a:0")
    assert max(b - a for a, b in itertools.pairwise(audio)) < 0.13
    assert stream_duration(target, "a:0") == pytest.approx(
        stream_duration(target, "v:0"), abs=2 * FRAME_S
    )


def test_sound_that_ends_early_is_silence_to_the_last_frame(tmp_path):
    sources = mixed_segments(tmp_path, [True, False])
    target = tmp_path / "out.mp4"
    export_range(sources, T0, T0 + 6, target)
    assert stream_duration(target, "a:0") == pytest.approx(
        stream_duration(target, "v:0"), abs=2 * FRAME_S
    )


def test_sound_of_another_format_is_left_out_and_the_rest_kept(tmp_path, caplog):
    sources = mixed_segments(tmp_path, [True, True])
    write_clip_with_audio(sources[1].path, 30, rate=22050)
    target = tmp_path / "out.mp4"
    export_range(sources, T0, T0 + 6, target)
    assert "changes format" in caplog.text
    assert sound_onsets(target) == [pytest.approx(sound_onsets(sources[0].path)[0], abs=0.002)]
    assert stream_duration(target, "a:0") == pytest.approx(6.0, abs=2 * FRAME_S)


def test_files_of_different_timescales_meet_on_one_timeline(tmp_path):
    # a camera's copied packets (1/90000) before clips encoded from frames (1/16000)
    sources = three_segments(tmp_path)
    camera_clock = tmp_path / "seg0-90k.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(sources[0].path), "-c", "copy",
         "-video_track_timescale", "90000", str(camera_clock)],
        check=True, timeout=60,
    )  # fmt: skip
    sources[0] = Footage(camera_clock, sources[0].start, sources[0].end)
    assert {streams(s.path)[0]["time_base"] for s in sources} == {"1/90000", "1/16000"}
    target = tmp_path / "out.mp4"
    result = export_range(sources, T0, T0 + 9, target)
    times = packet_times(target)
    assert len(times) == result.video_packets == 90
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(FRAME_S, abs=0.002)
    assert max(gaps) == pytest.approx(FRAME_S, abs=0.002)
    assert times[-1] == pytest.approx(8.9, abs=0.002)


def test_files_the_index_says_are_silent_are_not_opened_to_look_for_sound(tmp_path, monkeypatch):
    silent = three_segments(tmp_path)
    with_sound = write_clip_with_audio(tmp_path / "seg3.mp4", 30)
    sources = [Footage(s.path, s.start, s.end, has_audio=False) for s in silent] + [
        Footage(with_sound, T0 + 9, T0 + 11.9, has_audio=True)
    ]
    opened: list[str] = []
    real_open = export.av.open

    def counting_open(target, *args, **kwargs):  # type: ignore[no-untyped-def]
        opened.append(Path(str(target)).name)
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(export.av, "open", counting_open)
    result = export_range(sources, T0, T0 + 12, tmp_path / "out.mp4")
    assert result.audio_packets > 0  # the sound of the last file, from the first frame on
    assert opened.count("seg1.mp4") == opened.count("seg2.mp4") == 1  # to copy their video
    assert opened.count("seg3.mp4") == 2  # for the sound's format, then to copy it
