"""Footage: the recorded files of a camera in a time range, checked against the disk."""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camwatch.recording.export import Footage, export_range
from camwatch.recording.index import EventRecord, EventStore, iso_utc
from camwatch.recording.segment_index import RANGES_DIR, SegmentStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recording:
    """One file of footage on disk. `path` is relative to the data dir and never leaves the
    server: the URL names the recording through the index."""

    kind: str  # "clip" (an event's clip, events mode) or "segment" (continuous mode)
    id: str
    camera: str
    start: float
    end: float
    path: str
    size_bytes: int
    live: bool = False  # still being recorded (it grows)
    has_audio: bool | None = None  # whether the file has sound; None: not known

    @property
    def url(self) -> str:
        return f"/media/{self.id}.mp4" if self.kind == "clip" else f"/media/segments/{self.id}.mp4"

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "url": self.url,
            "size_bytes": self.size_bytes,
            "kind": self.kind,
            "id": self.id,
            "live": self.live,
        }


class FootageIndex:
    """Answers "what is on disk between these times" from the event and segment indexes; a
    file deleted behind camwatch's back is dropped from the index when it is found missing."""

    def __init__(self, events: EventStore, segments: SegmentStore) -> None:
        self.events = events
        self.segments = segments

    def recordings(self, camera: str, start: float, end: float) -> list[Recording]:
        """Event clips and segments overlapping [start, end), oldest first."""
        found = self._clips(camera, start, end) + self._segments(camera, start, end)
        return sorted(found, key=lambda item: item.start)

    def _clips(self, camera: str, start: float, end: float) -> list[Recording]:
        found = []
        now = time.time()
        for record in self.events.overlapping(camera, start, end):
            if not record.video_path:
                continue  # a marked range of the segments (continuous mode)
            path = self.events.path_of(record.video_path)
            if path is None or not path.is_file():
                if record.status != "recording":  # else its writer has not opened it yet
                    self._drop_event(record)
                continue
            found.append(
                Recording(
                    kind="clip",
                    id=record.id,
                    camera=camera,
                    start=record.started_at,
                    end=record.ended_at if record.ended_at is not None else now,
                    path=record.video_path,
                    size_bytes=record.size_bytes or _size(path),
                    live=record.status == "recording",
                    has_audio=None if record.status == "recording" else record.has_audio,
                )
            )
        return found

    def _segments(self, camera: str, start: float, end: float) -> list[Recording]:
        found = []
        now = time.time()
        for record in self.segments.overlapping(camera, start, end):
            path = self.events.path_of(record.path)
            if path is None or not path.is_file():
                if record.status != "recording":
                    log.warning("segment %s is gone from the disk; dropped", record.path)
                    self.segments.delete(record)
                continue
            live = record.status == "recording"
            found.append(
                Recording(
                    kind="segment",
                    id=record.id,
                    camera=camera,
                    start=record.started_at,
                    end=now if live else record.ended_at,
                    path=record.path,
                    size_bytes=_size(path) if live else record.size_bytes,
                    live=live,
                    has_audio=record.has_audio,
                )
            )
        return found

    def segment_path(self, segment_id: str) -> str | None:
        record = self.segments.get(segment_id)
        return None if record is None else record.path

    def files(self, recordings: list[Recording]) -> list[Footage]:
        """What the exporter reads for these recordings."""
        out = []
        for recording in recordings:
            path = self.events.path_of(recording.path)
            if path is not None:
                out.append(Footage(path, recording.start, recording.end, recording.has_audio))
        return out

    def event_video(self, record: EventRecord) -> str:
        """The data-dir-relative MP4 of an event of continuous mode, remuxed from the segments
        (again if the event was still recording when it was last made). Raises NoVideo."""
        target = self.events.root / RANGES_DIR / f"{record.id}.mp4"
        end = record.ended_at if record.ended_at is not None else time.time()
        segments = self._segments(record.camera, record.started_at, end)
        sources = self.files(segments)
        if not _up_to_date(target, [source.path for source in sources]) or any(
            self.segments.is_recording(item.id) for item in segments
        ):
            target.parent.mkdir(parents=True, exist_ok=True)
            # one partial file per request: a player's parallel range requests each make
            # their own, and the last one replaced wins (all are whole)
            partial = target.with_name(f"{record.id}.{secrets.token_hex(4)}.tmp.mp4")
            try:
                export_range(sources, record.started_at, end + 1e-3, partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        return str(target.relative_to(self.events.root))

    def _drop_event(self, record: EventRecord) -> None:
        log.warning(
            "event %s: its clip %s is gone from the disk; dropped", record.id, record.video_path
        )
        self.events.delete(record.id)


def _up_to_date(target: Path, sources: list[Path]) -> bool:
    """The remux exists and is newer than every file it was made from."""
    try:
        made = target.stat().st_mtime_ns
        return all(source.stat().st_mtime_ns < made for source in sources)
    except OSError:
        return False


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
