"""EventRecorder: clips with pre-roll and stable tail, thumbnails, index calls, discards, splits."""

import itertools
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from camwatch.config import MotionConfig
from camwatch.recording.clip_writer import ClipFrame
from camwatch.recording.index import EventRecord
from camwatch.recording.preroll import PreRollBuffer
from camwatch.recording.recorder import EventRecorder
from tests.helpers.camera_files import sound_timeline
from tests.helpers.fakes import MemoryEventSink, RecordingListener
from tests.helpers.media import probe
from tests.helpers.microphone import tone_packet
from tests.helpers.recorder_feed import FPS, feed
from tests.helpers.support import assert_waits_for


def make_recorder(
    tmp_path: Path, recordings_on: Callable[[], bool] = lambda: True, **motion
) -> tuple[EventRecorder, MemoryEventSink, RecordingListener]:
    sink, listener = MemoryEventSink(), RecordingListener()
    recorder = EventRecorder(
        "cam",
        MotionConfig(**motion),
        tmp_path,
        sink,
        listener,
        fps_hint=FPS,
        recordings_on=recordings_on,
    )
    return recorder, sink, listener


def recordings_switch(on_at: Callable[[float], bool]) -> Callable[[], bool]:
    """The recorder asks once per detected frame; the feed's frames are 1/FPS apart from t=0."""
    frames = itertools.count()
    return lambda: on_at(next(frames) / FPS)


def motion_calls(listener: RecordingListener) -> list[object]:
    return [value for kind, value in listener.calls if kind == "motion"]


def test_clip_is_h264_with_pre_roll_motion_and_stable_tail(tmp_path):
    recorder, sink, listener = make_recorder(tmp_path, pre_roll_seconds=2.0, stable_frames=20)
    feed(recorder, 12, [(4.0, 7.0)])
    recorder.close()
    [record] = sink.records.values()
    assert record.status == "complete"
    info = probe(tmp_path / record.video_path)
    assert (info["codec_name"], info["pix_fmt"]) == ("h264", "yuv420p")
    assert (info["width"], info["height"]) == (320, 240)
    # 2 s pre-roll + 3 s motion + 20 stable frames (2 s) = about 7 s
    assert info["duration"] == pytest.approx(7.0, abs=0.35)
    assert record.duration_s == pytest.approx(7.0, abs=0.35)
    assert record.frames == info["frames"]
    assert record.motion_frames >= 25 and record.peak_delta > 0.3
    assert record.size_bytes == (tmp_path / record.video_path).stat().st_size
    assert (tmp_path / record.thumbnail_path).stat().st_size > 1000
    assert [c[0] for c in listener.calls] == ["motion", "started", "motion", "ended"]
    assert [c[1] for c in listener.calls if c[0] == "motion"] == [True, False]


def test_short_motion_is_discarded_without_files(tmp_path):
    recorder, sink, listener = make_recorder(tmp_path)
    feed(recorder, 6, [(2.0, 2.3)])
    recorder.close()
    assert sink.records == {} and listener.calls == []
    assert list(tmp_path.rglob("*.mp4")) == []


def test_long_event_is_split_into_clips(tmp_path):
    recorder, sink, _ = make_recorder(tmp_path, max_event_seconds=5.0, pre_roll_seconds=0)
    feed(recorder, 16, [(1.0, 4.0), (4.0, 7.0), (7.0, 10.0), (10.0, 13.0)])
    recorder.close()
    records = sorted(sink.records.values(), key=lambda r: r.started_at)
    assert len(records) >= 2
    assert all(r.status == "complete" for r in records)
    assert records[0].duration_s == pytest.approx(5.0, abs=0.25)
    assert records[0].frames == 5 * FPS  # none dropped (the feed waits for the writer)
    for earlier, later in itertools.pairwise(records):
        assert later.started_at >= earlier.ended_at


def test_camera_going_offline_mid_event_finishes_and_indexes_the_clip(tmp_path):
    recorder, sink, listener = make_recorder(tmp_path)
    feed(recorder, 8, [(2.0, 9.0)], offline_from=5.0)
    assert not recorder.recording
    assert listener.ended.wait(10)
    [record] = sink.records.values()
    assert record.status == "complete"
    assert probe(tmp_path / record.video_path)["duration"] == pytest.approx(5.0, abs=0.35)


def test_pre_roll_buffer_is_sized_in_time():
    buffer = PreRollBuffer()
    for i in range(50):
        buffer.push(ClipFrame(t=i * 0.1, captured_at=0, width=2, height=2), seconds=1.5)
    assert len(buffer) == 16  # frames from t=3.4 to t=4.9


def test_recordings_off_still_announces_motion_but_writes_and_indexes_nothing(tmp_path):
    recorder, sink, listener = make_recorder(tmp_path, recordings_on=lambda: False)
    feed(recorder, 12, [(2.0, 5.0), (7.0, 9.0)])
    recorder.close()
    assert listener.calls == [("motion", True), ("motion", False)] * 2
    assert sink.records == {} and sink.calls == []
    assert list(tmp_path.rglob("*")) == []  # not a clip, a thumbnail or a folder
    assert not recorder.recording


def test_recordings_switched_off_during_a_clip_keep_it_and_motion_stays_on(tmp_path):
    on = recordings_switch(lambda t: t < 5.0)
    recorder, sink, listener = make_recorder(tmp_path, on, pre_roll_seconds=1.0)
    feed(recorder, 12, [(2.0, 8.0)])
    assert listener.ended.wait(10)
    recorder.close()
    [record] = sink.records.values()
    assert record.status == "complete"
    # from the pre-roll (t=1) to the switch (t=5): the rest of the event is not recorded
    assert probe(tmp_path / record.video_path)["duration"] == pytest.approx(4.0, abs=0.35)
    assert motion_calls(listener) == [True, False]  # no OFF/ON blip at the switch
    assert [kind for kind, _ in listener.calls].count("started") == 1


def test_recordings_switched_on_during_an_event_record_the_rest_of_it(tmp_path):
    on = recordings_switch(lambda t: t >= 5.0)
    recorder, sink, listener = make_recorder(tmp_path, on, stable_frames=10)
    feed(recorder, 12, [(2.0, 8.0)])
    recorder.close()
    [record] = sink.records.values()
    assert record.started_at == pytest.approx(1_700_000_005.0, abs=0.01)
    # t=5 to the end of motion (8) and the stable tail (10 frames)
    assert probe(tmp_path / record.video_path)["duration"] == pytest.approx(4.0, abs=0.35)
    assert motion_calls(listener) == [True, False]
    assert [kind for kind, _ in listener.calls] == ["motion", "started", "motion", "ended"]


def test_motion_announced_without_recordings_goes_off_when_detection_stops(tmp_path):
    recorder, sink, listener = make_recorder(tmp_path, recordings_on=lambda: False)
    feed(recorder, 5, [(2.0, 9.0)])
    assert motion_calls(listener) == [True]
    recorder.settings.enabled = False
    feed(recorder, 0.2, [])
    assert motion_calls(listener) == [True, False]
    recorder.close()
    assert motion_calls(listener) == [True, False] and sink.records == {}


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_long_clip_of_camera_jpegs_holds_no_decoded_pictures(tmp_path):
    """Each camera JPEG is decoded once on the capture thread and handed to the writer; none
    of those pictures (460 KB each at 640x480) may stay behind: 300 would be 138 MB."""
    from camwatch import jpeg
    from camwatch.frame import Frame
    from tests.helpers.clips import frame_at, scene
    from tests.helpers.support import wait_until

    rng = np.random.default_rng(3)
    background = scene(640, 480)
    jpegs = [jpeg.encode(frame_at(background, i / 50, [(0, 1)], rng), 80) for i in range(50)]
    recorder, sink, _ = make_recorder(tmp_path, pre_roll_seconds=0.0, max_event_seconds=300)
    resident = {}
    for i in range(330):
        frame = Frame.from_jpeg(jpegs[i % 50], i + 1, 640, 480, monotonic=i / FPS)
        recorder.on_frame(frame)
        wait_until(lambda: not recorder.recording or recorder.clips.takes_pictures, timeout=10)
        if i in (100, 329):
            resident[i] = resident_bytes()
    recorder.close()
    assert recorder.pictures_decoded > 300  # the clip's frames came decoded
    [record] = sink.records.values()
    assert record.frames >= 320
    assert resident[329] - resident[100] < 40 * 2**20


class HeldListener(RecordingListener):
    """Holds the writer thread in its announcement of an event's end until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.released = threading.Event(), threading.Event()

    def event_ended(self, record: EventRecord) -> None:
        self.entered.set()
        self.released.wait(30)
        super().event_ended(record)


def test_close_waits_for_a_writer_still_finishing_its_clip(tmp_path):
    """close() returns once every writer is done with its clip (row, files, announcement),
    also one that already closed its file when close() was called."""
    listener = HeldListener()
    recorder = EventRecorder("cam", MotionConfig(), tmp_path, MemoryEventSink(), listener)
    feed(recorder, 10, [(2.0, 5.0)])  # the event ends at about 7 s: its writer finishes
    assert listener.entered.wait(30)
    assert_waits_for(lambda: recorder.close(30), listener.released)  # for the writer
    assert [kind for kind, _ in listener.calls] == ["motion", "started", "motion", "ended"]


def test_a_clip_gets_the_microphone_sound_that_comes_after_its_last_frame(tmp_path):
    """A microphone's packets come once their last sample has (here 0.5 s after their first):
    the clip still gets the sound of its last moments, after its event has ended, and then
    closes without waiting for the recorder to stop."""
    recorder, sink, listener = make_recorder(tmp_path, pre_roll_seconds=1.0, stable_frames=10)
    wall_zero = 1_700_000_000.0  # the feed's
    late = 5  # packets of 0.1 s
    recorder.on_packet(tone_packet(-late - 15, wall_zero))  # heard before the first frame

    def hand_over_sound(t: float) -> None:
        recorder.on_packet(tone_packet(round(t * 10) - late, wall_zero))

    feed(recorder, 8, [(2.0, 4.0)], after_frame=hand_over_sound)  # ends at about 5 s
    assert listener.ended.wait(30)  # before close(): the late sound did not hold it open
    recorder.close()
    [record] = sink.records.values()
    assert record.has_audio
    video_start, video_end, sound_start, sound_end, gap = sound_timeline(
        tmp_path / record.video_path
    )
    assert abs(sound_start - video_start) <= 0.05 and gap < 0.15
    assert sound_end >= video_end - 0.05, (video_end, sound_end)  # missing 0.5 s before
