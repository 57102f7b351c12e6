"""Footage: the recorded files of a camera in a time range, checked against the disk."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camwatch.recording.export import Footage
from camwatch.recording.index import EventStore, iso_utc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recording:
    """One file of footage on disk. `path` is relative to the data dir and never leaves the
    server: the URL names the recording through the index."""

    kind: str  # "clip" (an event's clip, events mode)
    id: str
    camera: str
    start: float
    end: float
    path: str
    size_bytes: int

    @property
    def url(self) -> str:
        return f"/media/{self.id}.mp4"

    def to_json(self) -> dict[str, Any]:
        return {
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "url": self.url,
            "size_bytes": self.size_bytes,
            "kind": self.kind,
            "id": self.id,
        }


class FootageIndex:
    """Answers "what is on disk between these times" from the event index; a file deleted
    behind camwatch's back is dropped from the index when it is found missing."""

    def __init__(self, events: EventStore) -> None:
        self.events = events

    def recordings(self, camera: str, start: float, end: float) -> list[Recording]:
        """Oldest first."""
        found = []
        now = time.time()
        for record in self.events.overlapping(camera, start, end):
            path = self.events.path_of(record.video_path)
            if path is None or not path.is_file():
                if record.status != "recording":  # else its writer has not opened it yet
                    self._drop_missing(record.id, record.video_path)
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
                )
            )
        return found

    def files(self, recordings: list[Recording]) -> list[Footage]:
        """What the exporter reads for these recordings."""
        out = []
        for recording in recordings:
            path = self.events.path_of(recording.path)
            if path is not None:
                out.append(Footage(path, recording.start, recording.end))
        return out

    def _drop_missing(self, event_id: str, relative: str) -> None:
        log.warning("event %s: its clip %s is gone from the disk; dropped", event_id, relative)
        self.events.delete(event_id)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
