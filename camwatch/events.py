"""The event index: SQLite rows for recorded clips, retention, and reconciliation with the files."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def iso_utc(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class EventRecord:
    """One recorded event. Paths are relative to the data dir and never leave the server."""

    id: str
    camera: str
    started_at: float  # wall-clock seconds of the clip's first frame
    ended_at: float | None  # None while recording
    frames: int
    motion_frames: int
    peak_delta: float
    video_path: str  # relative to data_dir, e.g. "clips/cam/2026-11-24/cam-20261124-093000-ab12.mp4"
    thumbnail_path: str  # relative to data_dir
    size_bytes: int = 0
    status: str = "recording"  # recording | complete | truncated

    @property
    def duration_s(self) -> float:
        return 0.0 if self.ended_at is None else max(0.0, self.ended_at - self.started_at)

    def to_json(self) -> dict[str, Any]:
        """The event as the API shows it (contract fields plus `status`)."""
        return {
            "id": self.id,
            "camera": self.camera,
            "started_at": iso_utc(self.started_at),
            "ended_at": iso_utc(self.ended_at),
            "duration_s": round(self.duration_s, 3),
            "frames": self.frames,
            "motion_frames": self.motion_frames,
            "peak_delta": round(self.peak_delta, 3),
            "video_url": f"/media/{self.id}.mp4",
            "thumbnail_url": f"/media/{self.id}.jpg",
            "size_bytes": self.size_bytes,
            "status": self.status,
        }


class EventStore:
    """SQLite index under data_dir (WAL, one writer lock); thread-safe; the only SQL in camwatch."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        raise NotImplementedError

    def add(self, record: EventRecord) -> None:
        """Index a new event (called once the event has enough motion frames to keep)."""
        raise NotImplementedError

    def update(self, record: EventRecord) -> None:
        raise NotImplementedError

    def get(self, event_id: str) -> EventRecord | None:
        raise NotImplementedError

    def list(self, camera: str | None = None, limit: int = 50,
             before: float | None = None) -> list[EventRecord]:
        raise NotImplementedError

    def delete(self, event_id: str) -> bool:
        """Remove the row and its files; False if there was no such event."""
        raise NotImplementedError
