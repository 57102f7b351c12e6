"""Export: a time range of recorded footage remuxed into one MP4, without re-encoding."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from camwatch.recording.silence import SAMPLES_PER_FRAME, silent_frame

log = logging.getLogger(__name__)

# An ordinary MP4 with its index first: any player can start it while it downloads.
EXPORT_OPTIONS = {"movflags": "+faststart"}
MAX_GOP_PACKETS = 10_000  # bound on the packets held back before the range starts


@dataclass(frozen=True)
class Footage:
    """One file of recorded video and the wall-clock time of its media time zero (its first
    frame); `end` is the wall-clock time of its last frame."""

    path: Path
    start: float
    end: float
    has_audio: bool | None = None  # from the index; None: not known, the file is looked at


@dataclass
class ExportResult:
    path: Path
    video_packets: int = 0
    audio_packets: int = 0
    first_at: float | None = None  # wall-clock time of the first frame written
    last_at: float | None = None  # and of the last


class ExportError(Exception):
    """The footage cannot be put into one file (the video changes format within the range)."""


class NoVideo(ExportError):
    """The range holds no video (the files are gone or hold nothing in it)."""


@dataclass
class _Packet:
    packet: Any
    at: float  # wall clock
    shift_s: float  # wall clock minus media time in its file
    is_video: bool


class _Track:
    """An output stream fed from the matching stream of each input file, on one timeline."""

    def __init__(self, output: av.container.OutputContainer, template: Any) -> None:
        self.stream = output.add_stream_from_template(template)
        self.codec = template.codec_context.name
        self.extradata = template.codec_context.extradata
        self.size = (getattr(template, "width", 0), getattr(template, "height", 0))
        self.last_dts: int | None = None
        self.end_s = 0.0  # output time where the last packet written ends

    def accepts(self, stream: Any) -> bool:
        size = (getattr(stream, "width", 0), getattr(stream, "height", 0))
        context = stream.codec_context
        return bool(
            context.name == self.codec and context.extradata == self.extradata and size == self.size
        )

    def mux(self, output: av.container.OutputContainer, packet: Any, offset_s: float) -> None:
        """Write `packet` with its times moved by offset_s seconds, in the output's time base
        (files of different timescales meet on one timeline); dts kept increasing."""
        output.start_encoding()  # the muxer settles its streams' time bases in the header
        time_base: Fraction = self.stream.time_base
        pts = _moved(packet.pts, packet.time_base, offset_s, time_base)
        dts = _moved(packet.dts, packet.time_base, offset_s, time_base)
        if dts is not None and self.last_dts is not None and dts <= self.last_dts:
            dts = self.last_dts + 1  # a rounding overlap where two files meet
            pts = None if pts is None else max(pts, dts)
        duration = _moved(packet.duration or 0, packet.time_base, 0.0, time_base)
        packet.time_base = time_base  # sets the unit only: the times are already in it
        packet.pts, packet.dts, packet.duration = pts, dts, duration
        if pts is not None:
            self.end_s = max(self.end_s, float((pts + (duration or 0)) * time_base))
        packet.stream = self.stream
        output.mux(packet)
        if dts is not None:
            self.last_dts = dts


def _moved(stamp: int | None, time_base: Fraction, offset_s: float, to: Fraction) -> int | None:
    """A timestamp in `time_base` moved by offset_s seconds, in `to` units."""
    if stamp is None:
        return None
    return round((stamp * time_base + Fraction(offset_s).limit_denominator(10**9)) / to)


class _AudioTrack(_Track):
    """The audio track: where the footage has no sound (a file without it, sound that began
    late or stopped), silent frames keep it continuous and in step with the video, when a
    silent frame for its configuration can be made (AAC-LC); else it has gaps there."""

    def __init__(self, output: av.container.OutputContainer, template: Any) -> None:
        super().__init__(output, template)
        context = template.codec_context
        self.rate = int(context.sample_rate or 0)
        self.silence: bytes | None = None
        if self.codec == "aac" and self.rate > 0:
            self.silence = silent_frame(self.extradata, self.rate, context.layout.name)
        self.time_base = Fraction(1, self.rate) if self.rate else Fraction(1, 1000)

    def mux(self, output: av.container.OutputContainer, packet: Any, offset_s: float) -> None:
        if packet.pts is not None:
            self.fill_to(output, float(packet.pts * packet.time_base) + offset_s)
        super().mux(output, packet, offset_s)

    def fill_to(self, output: av.container.OutputContainer, until_s: float) -> None:
        """Silent frames from where the sound ends to until_s (output time), the last one
        ending there; a gap shorter than a frame is left as it is."""
        if self.silence is None:
            return
        frame_s = SAMPLES_PER_FRAME / self.rate
        frames = int((until_s - self.end_s) / frame_s + 1e-6)
        for i in range(frames, 0, -1):
            packet = av.Packet(self.silence)
            packet.time_base = self.time_base
            packet.pts = packet.dts = round((until_s - i * frame_s) * self.rate)
            packet.duration = SAMPLES_PER_FRAME
            super().mux(output, packet, 0.0)


class _Exporter:
    """Feeds packets of the files in order; holds back the GOP that contains `start`."""

    def __init__(self, output: av.container.OutputContainer, start: float, end: float) -> None:
        self.output = output
        self.start = start
        self.end = end
        self.origin: float | None = None  # wall clock of the file's time 0
        self.held: list[_Packet] = []  # from the last keyframe before start
        self.video: _Track | None = None
        self.audio: _AudioTrack | None = None
        self.result = ExportResult(Path(output.name))
        self.done = False
        self._warned_audio = False

    def open_tracks(self, video: Any, audio: Any, later: Sequence[Footage]) -> None:
        """Tracks from the first file's streams; the audio from the first file that has
        sound, later in the range when this one has none (sound that began late)."""
        if self.video is None:
            self.video = _Track(self.output, video)
            if audio is not None:
                self._add_audio(audio)
            else:
                self._add_audio_from(later)
        elif not self.video.accepts(video):
            raise ExportError("the video changes format within the range; export it in parts")

    def _add_audio(self, template: Any) -> None:
        try:
            self.audio = _AudioTrack(self.output, template)
        except (av.FFmpegError, ValueError) as e:
            log.warning("export: leaving the audio out: %s", e)

    def _add_audio_from(self, sources: Sequence[Footage]) -> None:
        for source in sources:
            if source.has_audio is False:
                continue  # the index says it has none: not opened to look
            try:
                with av.open(str(source.path)) as container:
                    if container.streams.audio:
                        self._add_audio(container.streams.audio[0])
                        return
            except (av.FFmpegError, OSError) as e:
                log.debug("export: no audio from %s: %s", source.path.name, e)

    def takes_audio(self, stream: Any, name: str) -> bool:
        """Whether this file's sound goes into the audio track (it has the track's format)."""
        if self.audio is None or stream is None:
            return False
        if self.audio.accepts(stream):
            return True
        if not self._warned_audio:
            self._warned_audio = True
            log.warning("export: the sound of %s changes format; left out", name)
        return False

    def feed(self, item: _Packet) -> None:
        if item.at >= self.end:
            self.done = self.done or item.is_video
            return
        if self.origin is not None:
            self._write(item)
        elif item.is_video and item.at >= self.start:
            if self.held or item.packet.is_keyframe:
                self._begin(item)
        elif item.is_video and item.packet.is_keyframe:
            self.held = [item]  # a later keyframe still before start is a better first frame
        elif self.held and len(self.held) < MAX_GOP_PACKETS:
            self.held.append(item)

    def _begin(self, item: _Packet) -> None:
        held, self.held = self.held, []
        self.origin = held[0].at if held else item.at
        for earlier in held:
            self._write(earlier)
        self._write(item)

    def _write(self, item: _Packet) -> None:
        assert self.origin is not None
        if item.at < self.origin - 1e-6:
            return  # audio from before the first frame
        track = self.video if item.is_video else self.audio
        if track is None:
            return
        track.mux(self.output, item.packet, item.shift_s - self.origin)
        if item.is_video:
            self.result.video_packets += 1
            self.result.first_at = item.at if self.result.first_at is None else self.result.first_at
            self.result.last_at = item.at
        else:
            self.result.audio_packets += 1

    def finish(self) -> None:
        """A range that ends inside the GOP it starts in: write the held GOP (if footage
        went on past the range: else the GOP ended before start)."""
        if self.origin is None and self.held and self.done:
            first, *rest = self.held
            self.held = rest
            self._begin(first)
        if self.audio is not None and self.video is not None and self.origin is not None:
            self.audio.fill_to(self.output, self.video.end_s)  # silence to the last frame


def remove_leftovers(folder: Path) -> None:
    """Exports left behind by a crash mid-download (they are temporary files)."""
    try:
        for path in folder.glob("*.mp4"):
            path.unlink(missing_ok=True)
    except OSError as e:
        log.warning("cannot tidy up %s: %s", folder, e)


def export_range(
    sources: Sequence[Footage], start: float, end: float, target: Path
) -> ExportResult:
    """Write the video (and audio) of `sources` (oldest first) from start to end (wall clock)
    to target as one MP4, copying packets.

    The file starts on the last keyframe at or before `start` (at most a GOP early) so it plays
    from its first frame, and stops before `end`.
    """
    output = av.open(str(target), mode="w", format="mp4", options=EXPORT_OPTIONS)
    exporter = _Exporter(output, start, end)
    try:
        for i, source in enumerate(sources):
            _copy_file(exporter, source, sources[i + 1 :])
            if exporter.done:
                break
        exporter.finish()
    finally:
        try:
            output.close()
        except (av.FFmpegError, OSError) as e:  # nothing written: there was no header
            log.debug("closing export %s: %s", target, e)
    if exporter.result.video_packets == 0:
        target.unlink(missing_ok=True)
        raise NoVideo("no video in the range")
    return exporter.result


def _copy_file(exporter: _Exporter, source: Footage, later: Sequence[Footage]) -> None:
    try:
        container = av.open(str(source.path))
    except (av.FFmpegError, OSError) as e:
        log.warning("export: skipping %s: %s", source.path.name, e)
        return
    with container:
        if not container.streams.video:
            return
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        exporter.open_tracks(video, audio, later)
        if not exporter.takes_audio(audio, source.path.name):
            audio = None
        zero = 0.0
        if video.start_time is not None and video.time_base is not None:
            zero = float(video.start_time * video.time_base)
        shift_s = source.start - zero
        streams = [video] + ([audio] if audio is not None else [])
        try:
            for packet in container.demux(streams):
                if packet.size == 0 or packet.pts is None or packet.is_corrupt:
                    continue
                at = shift_s + float(packet.pts * packet.time_base)
                exporter.feed(_Packet(packet, at, shift_s, packet.stream.type == "video"))
                if exporter.done:
                    return
        except (av.FFmpegError, OSError, EOFError) as e:  # a file cut off by a crash
            log.debug("export: %s ends early: %s", source.path.name, e)
