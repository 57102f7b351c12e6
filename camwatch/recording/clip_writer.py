"""ClipWriter: a thread encoding frames from a bounded queue to a fragmented H.264 MP4 (PyAV)."""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from camwatch import jpeg
from camwatch.capture.packets import EncodedPacket, StreamInfo
from camwatch.frame import Frame
from camwatch.recording import heap
from camwatch.recording.audio import AacTranscoder
from camwatch.recording.inbox import Inbox
from camwatch.recording.pictures import FULL_RANGE_FORMAT, JpegDecoder
from camwatch.recording.thumbnails import Thumbnail

log = logging.getLogger(__name__)

BACKLOG_SECONDS = 2.0  # encoder lag allowed beyond the pre-roll burst before frames are dropped
# Decoded pictures a writer's queue may hold beyond a wake-up's (each as large as the frame's
# pixels, ten times its JPEG): a writer further behind (a slow disk) is given the JPEG alone.
PICTURES_QUEUED = 3
KEYFRAME_INTERVAL_S = 2.0  # one MP4 fragment per keyframe: at most this much is lost on a crash
# The writer is woken once per few frames, not for each: every wake-up starts libx264 with cold
# caches (a busy 640x480 camera: ~0.1-0.3 ms a frame less in batches of 5, bench/RESULTS.md).
# It is woken for the frame after each keyframe too: libx264 hands a frame's packet over with
# the next frame's, and the keyframe's packet has the muxer write the fragment it ends, so a
# crash still loses the fragment in progress alone. The pictures waiting for a wake-up are
# kept within PICTURE_BYTES_PER_WAKE (a 1280x720 camera is woken for each frame).
FRAMES_PER_WAKE = 5
PICTURE_BYTES_PER_WAKE = 2_500_000
MP4_OPTIONS = {
    # delay_moov: the header waits for the first fragment, so that a track starting after the
    # clip's first frame (the camera's first sound 40 ms in) gets an edit list saying so;
    # with the header written up front FFmpeg moves that first sound to 0 s, early by the gap
    "movflags": "frag_keyframe+empty_moov+delay_moov+default_base_moof",
    "flush_packets": "1",
    # FFmpeg's interleaver holds a track's packets until every track has one, 10 s by default:
    # a clip whose sound stops (a microphone unplugged) would keep its video in memory that
    # long instead of on disk, all of it lost to a crash
    "max_interleave_delta": "1000000",
}
# libx264 for a small always-on box (measured with bench/, 640x480 at 10 fps): ultrafast on one
# thread costs about half the CPU of veryfast+zerolatency on its sliced threads, for files about
# twice as large (like Motion's, which also uses ultrafast); superfast sits in between (-25% size,
# +1% of a core). Constrained Baseline H.264 plays in every browser.
X264_OPTIONS = {"preset": "ultrafast", "threads": "1"}
# sound packets a second the queue makes room for: G.711 over RTP sends 50, AAC at 48 kHz 47,
# a microphone (capture/microphone.py) 10
AUDIO_PACKETS_PER_S = 50
# x264's constant rate factor: lower is better quality and larger files. 28 is about what Motion
# writes by default (movie_quality 45); on a noisy 640x480 camera it keeps 39 dB of luma PSNR
# against the camera's JPEGs at 45% of crf 23's bit rate, for 0.2-0.6 ms a frame less
# (bench/recording_cost.py). CameraConfig.record_crf sets it per camera.
DEFAULT_CRF = 28
VIDEO_RANGE_FORMAT = "yuv420p"  # decoded video, and pictures converted from BGR


@dataclass(frozen=True)
class ClipFrame:
    """A frame as the writer takes it: I420 pixels or the camera's JPEG, with its capture times.
    A camera JPEG may come already decoded (`picture`, when the capture thread decoded it for
    detection anyway); that is only for the writer's queue: what is kept (the pre-roll, the
    thumbnail's frame) holds the JPEG alone (`kept`)."""

    t: float  # monotonic seconds
    captured_at: float  # wall-clock seconds
    width: int
    height: int
    i420: np.ndarray | None = None
    camera_jpeg: bytes | None = None
    picture: av.VideoFrame | None = None  # the camera JPEG decoded (JpegDecoder.picture)

    @classmethod
    def of(cls, frame: Frame, picture: av.VideoFrame | None = None) -> ClipFrame:
        """Cheap to keep: the camera's JPEG as is (and its `picture`, if decoded), or pixels as
        I420 (half the size of BGR)."""
        if frame.camera_jpeg is not None:
            return cls(
                frame.monotonic,
                frame.captured_at,
                frame.width,
                frame.height,
                camera_jpeg=frame.camera_jpeg,
                picture=picture,
            )
        if frame.i420 is not None and frame.image is None:  # decoded video: planes as they are
            return cls(
                frame.monotonic, frame.captured_at, frame.width, frame.height, i420=frame.i420
            )
        image = frame.bgr()
        height, width = image.shape[0] & ~1, image.shape[1] & ~1
        i420 = cv2.cvtColor(image[:height, :width], cv2.COLOR_BGR2YUV_I420)
        return cls(frame.monotonic, frame.captured_at, width, height, i420=i420)

    def kept(self) -> ClipFrame:
        """The frame without its decoded picture, to hold on to."""
        return self if self.picture is None else dataclasses.replace(self, picture=None)

    def video_frame(self, decoder: JpegDecoder) -> av.VideoFrame:
        if self.picture is not None:
            return self.picture
        if self.i420 is not None:
            return av.VideoFrame.from_ndarray(self.i420, format="yuv420p")
        assert self.camera_jpeg is not None
        if self.width % 2 == 0 and self.height % 2 == 0:
            return decoder.picture(self.camera_jpeg)
        image = jpeg.decode(self.camera_jpeg)
        height, width = image.shape[0] & ~1, image.shape[1] & ~1
        return av.VideoFrame.from_ndarray(
            np.ascontiguousarray(image[:height, :width]), format="bgr24"
        )

    def bgr(self) -> np.ndarray:
        if self.i420 is not None:
            return cv2.cvtColor(self.i420, cv2.COLOR_YUV2BGR_I420)
        assert self.camera_jpeg is not None
        return jpeg.decode(self.camera_jpeg)


@dataclass
class ClipResult:
    path: Path
    frames: int = 0
    first_captured_at: float | None = None
    last_captured_at: float | None = None
    dropped: int = 0
    size_bytes: int = 0
    encode_seconds: float = 0.0
    error: str | None = None  # set when writing failed part way (e.g. disk full)
    disk_full: bool = False
    aborted: bool = False
    audio_packets: int = 0  # audio packets written (0: the clip has no sound)
    jpegs_decoded: int = 0  # camera JPEGs the writer decoded (the others came decoded)

    def fail(self, error: Exception) -> None:
        """Note the first error writing the clip (logged once, disk-full by errno)."""
        if self.error is None:
            self.error = str(error)
            # PyAV raises av.error.OSError (an OSError) with the errno FFmpeg reported
            self.disk_full = isinstance(error, OSError) and error.errno == errno.ENOSPC
            log.error("clip %s: writing failed: %s", self.path.name, error)

    def settle(self, *, abort: bool) -> None:
        """Once the file is closed: an aborted clip is deleted, else its size noted."""
        if abort:
            self.aborted = True
            self.path.unlink(missing_ok=True)
            return
        try:
            self.size_bytes = self.path.stat().st_size
        except OSError:
            self.size_bytes = 0


_FINISH = object()
_ABORT = object()


class ClipWriter(threading.Thread):
    """Encodes ClipFrames as they come; `submit` never blocks, dropping frames evenly if behind.

    Timing in the file follows the frames' capture times (millisecond time base). When the
    writer finishes (or fails), `on_done` is called on this thread with the ClipResult.
    """

    def __init__(
        self,
        path: Path,
        on_done: Callable[[ClipResult], None],
        *,
        fps_hint: float = 10.0,
        pre_roll_seconds: float = 0.0,
        audio: StreamInfo | None = None,
        crf: int = DEFAULT_CRF,
    ) -> None:
        super().__init__(name=f"clip-{path.stem}", daemon=True)
        self.path = path
        self.crf = crf
        self.audio = audio  # a microphone's sound, transcoded to AAC beside the frames
        self._transcoder: AacTranscoder | None = None
        self._on_done = on_done
        self._fps_hint = fps_hint
        # Room for the pre-roll burst plus BACKLOG_SECONDS of lag, frames and sound each
        # counted on their own (a burst of sound must not drop frames); spare slots for control.
        self._queue_frames = round(fps_hint * (pre_roll_seconds + BACKLOG_SECONDS)) + 8
        self._drop_evenly_from = self._queue_frames - max(4, round(fps_hint))
        backlog_s = pre_roll_seconds + BACKLOG_SECONDS
        self._queue_audio = round(AUDIO_PACKETS_PER_S * backlog_s) + 8 if audio else 0
        self._queue = Inbox()
        self._keyframe_every = max(1, round(fps_hint * KEYFRAME_INTERVAL_S))
        self._frames_per_wake = 1  # set by the first frame's size
        # each count is written by one thread only (submitting, or this one), so the backlog
        # of either kind is their difference without a lock
        self._frames_in = self._frames_out = 0
        self._audio_in = self._audio_out = 0
        self._submitted = 0
        self._warned = False
        self._closed = False
        self.result = ClipResult(path)
        # monotonic seconds where the pictures queued so far end (the last one lasts a frame)
        self.pictures_until: float | None = None

    def submit(self, frame: ClipFrame) -> bool:
        """Queue a frame; False if it was dropped because the encoder is behind."""
        if self._closed:
            return False
        self._submitted += 1
        backlog = self.backlog
        behind = backlog >= self._queue_frames or (
            backlog >= self._drop_evenly_from and self._submitted % 2 == 0
        )
        if behind:
            self.result.dropped += 1
            if not self._warned:
                self._warned = True
                log.warning(
                    "clip %s: encoder is falling behind; dropping frames evenly", self.path.name
                )
            return False
        if not self._frames_in:
            picture_bytes = max(1, frame.width * frame.height * 3 // 2)
            self._frames_per_wake = max(
                1, min(FRAMES_PER_WAKE, PICTURE_BYTES_PER_WAKE // picture_bytes)
            )
        after_keyframe = self._frames_in % self._keyframe_every == 1 % self._keyframe_every
        self._frames_in += 1
        self._queue.put(frame, wake=after_keyframe or self.backlog >= self._frames_per_wake)
        self.pictures_until = frame.t + 1 / self._fps_hint
        return True

    @property
    def backlog(self) -> int:
        """Frames queued and not yet encoded: what `submit` measures to drop frames."""
        return self._frames_in - self._frames_out

    @property
    def takes_pictures(self) -> bool:
        """Whether the next frame may come decoded (ClipFrame.picture): the writer is keeping
        up, with fewer than PICTURES_QUEUED frames waiting."""
        return not self._closed and self.backlog < PICTURES_QUEUED + self._frames_per_wake - 1

    def submit_audio(self, packet: EncodedPacket) -> bool:
        """Queue a packet of the clip's audio; dropped (False) when the writer is behind."""
        if self._closed or self.audio is None or not _same_stream(packet.stream, self.audio):
            return False
        if self._audio_in - self._audio_out >= self._queue_audio:
            return False
        self._audio_in += 1
        self._queue.put(packet, wake=False)  # written with the next frames
        return True

    def thumbnail(self, frame: ClipFrame, path: Path) -> None:
        if not self._closed:
            self._control(Thumbnail(frame, path))

    def finish(self) -> None:
        """Encode what is queued, close the file, then call on_done. Returns at once."""
        if not self._closed:
            self._closed = True
            self._control(_FINISH)

    def abort(self) -> None:
        """Stop and delete the file (an event that turned out too short)."""
        if not self._closed:
            self._closed = True
            self._control(_ABORT)

    def _control(self, item: object) -> None:
        self._queue.put(item)

    def run(self) -> None:
        self._write()
        # the encoder is gone with _write's locals: its megabytes back to the system now,
        # rather than kept by this thread's arena until the next clip
        heap.give_back()
        self._try(lambda: self._on_done(self.result))

    def _write(self) -> None:
        """Encode the queued items until finish or abort, then close the file."""
        container: av.container.OutputContainer | None = None
        stream: av.video.stream.VideoStream | None = None
        first_t: float | None = None
        last_pts = -1
        decoder = JpegDecoder()
        while True:
            item = self._queue.get()
            if item is _FINISH or item is _ABORT:
                break
            if isinstance(item, (Thumbnail, EncodedPacket)):
                self._audio_out += isinstance(item, EncodedPacket)
                self._write_beside(item, container, first_t)
                continue
            assert isinstance(item, ClipFrame)
            self._frames_out += 1
            if self.result.error is not None:
                continue  # failed: drain without writing
            started = time.perf_counter()
            try:
                if container is None:
                    container, stream = self._open(item)
                    first_t = item.t
                    self.result.first_captured_at = item.captured_at
                assert stream is not None and first_t is not None
                pts = max(last_pts + 1, round((item.t - first_t) * 1000))
                video_frame = self._prepared(item, decoder, stream, pts)
                if video_frame is None:
                    continue
                last_pts = pts
                for packet in stream.encode(video_frame):
                    container.mux(packet)
                self.result.frames += 1
                self.result.last_captured_at = item.captured_at
            except (OSError, av.FFmpegError) as e:
                self._fail(e)
            self.result.encode_seconds += time.perf_counter() - started
        self.result.jpegs_decoded = decoder.decoded
        self._close(container, stream, abort=item is _ABORT)

    def _prepared(
        self, item: ClipFrame, decoder: JpegDecoder, stream: av.video.stream.VideoStream, pts: int
    ) -> av.VideoFrame | None:
        """The frame's picture as the encoder takes it; None for a corrupt camera JPEG."""
        try:
            video_frame = item.video_frame(decoder)
        except jpeg.JpegError:
            self.result.dropped += 1
            return None
        if (video_frame.width, video_frame.height) != (stream.width, stream.height):
            # the camera changed resolution mid-clip (a reconnect, a setting)
            video_frame = video_frame.reformat(width=stream.width, height=stream.height)
        video_frame.pts = pts
        video_frame.time_base = Fraction(1, 1000)
        if (self._frames_out - 1) % self._keyframe_every == 0:  # as `submit` counts them
            video_frame.pict_type = av.video.frame.PictureType.I
        return video_frame

    def _write_beside(
        self,
        item: Thumbnail | EncodedPacket,
        container: av.container.OutputContainer | None,
        first_t: float | None,
    ) -> None:
        """A thumbnail, or sound placed by capture time from the clip's first frame."""
        if isinstance(item, Thumbnail):
            self._try(item.write)
            return
        if container is None or self._transcoder is None or first_t is None:
            return
        if self.result.error is not None:
            return
        try:
            packets = self._transcoder.packets(item, first_t)
            if packets:
                container.mux(packets)
                self.result.audio_packets += len(packets)
        except (OSError, av.FFmpegError) as e:
            self._fail(e)

    def _open(
        self, first: ClipFrame
    ) -> tuple[av.container.OutputContainer, av.video.stream.VideoStream]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = av.open(str(self.path), mode="w", format="mp4", options=MP4_OPTIONS)
        stream = container.add_stream("libx264", rate=max(1, round(self._fps_hint)))
        stream.width, stream.height = first.width & ~1, first.height & ~1
        # Frames of the other range (a camera that changes what it sends mid-clip) are
        # converted by the encoder's swscale step.
        stream.pix_fmt = FULL_RANGE_FORMAT if first.camera_jpeg is not None else VIDEO_RANGE_FORMAT
        stream.time_base = Fraction(1, 1000)
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {
            **X264_OPTIONS,
            "crf": str(self.crf),
            "g": str(max(1, round(self._fps_hint * KEYFRAME_INTERVAL_S))),
        }
        if self.audio is not None:
            self._transcoder = AacTranscoder(self.audio, container)
        return container, stream

    def _close(
        self,
        container: av.container.OutputContainer | None,
        stream: av.video.stream.VideoStream | None,
        *,
        abort: bool,
    ) -> None:
        if container is not None:
            try:
                if stream is not None and self.result.error is None and not abort:
                    for packet in stream.encode(None):
                        container.mux(packet)
                    if self._transcoder is not None:
                        container.mux(self._transcoder.flush())
            except (OSError, av.FFmpegError) as e:
                self._fail(e)
            try:
                container.close()
            except (OSError, av.FFmpegError) as e:
                self._fail(e)
        self.result.settle(abort=abort)

    def _fail(self, error: Exception) -> None:
        self.result.fail(error)

    def _try(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception:
            log.exception("clip %s: error", self.path.name)


def _same_stream(stream: StreamInfo, expected: StreamInfo) -> bool:
    """Usually the very object the source announced: identity first, the fields if not."""
    return stream is expected or stream == expected
