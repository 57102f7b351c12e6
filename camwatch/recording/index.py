"""The event index: SQLite rows for recorded clips, and deleting them with their files."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from camwatch.recording.paths import clips_dir
from camwatch.recording.switches import CameraSwitches, JsonValue, MotionOverrides

log = logging.getLogger(__name__)

T = TypeVar("T")

DB_NAME = "camwatch.db"
# Space kept aside so the index can still be written when clips have filled the disk (SQLite
# needs free pages for its WAL); given up when the disk is nearly full, made again once
# retention has freed space.
RESERVE_NAME = "index.reserve"
RESERVE_BYTES = 256 * 1024
EVENT_ID = re.compile(r"^[A-Za-z0-9_-]+$")
COLUMNS = (
    "id",
    "camera",
    "started_at",
    "ended_at",
    "frames",
    "motion_frames",
    "peak_delta",
    "video_path",
    "thumbnail_path",
    "size_bytes",
    "status",
    "has_audio",
)
# columns added after the first release: (name, definition) added to older indexes at start
ADDED_COLUMNS = (("has_audio", "INTEGER NOT NULL DEFAULT 0"),)
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        frames INTEGER NOT NULL DEFAULT 0,
        motion_frames INTEGER NOT NULL DEFAULT 0,
        peak_delta REAL NOT NULL DEFAULT 0,
        video_path TEXT NOT NULL,
        thumbnail_path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'recording',
        has_audio INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (started_at, id)",
    "CREATE INDEX IF NOT EXISTS events_by_camera ON events (camera, started_at, id)",
    """CREATE TABLE IF NOT EXISTS motion_overrides (
        camera TEXT PRIMARY KEY,
        settings TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS camera_switches (
        camera TEXT PRIMARY KEY,
        switches TEXT NOT NULL)""",
)

FreeBytes = Callable[[Path], int]
EventIds = list[str]  # (aliases: EventStore.list shadows the builtin inside the class)


def disk_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def iso_utc(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
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
    video_path: (
        str  # relative to data_dir, e.g. "clips/cam/2026-11-24/cam-20261124-093000-ab12.mp4"
    )
    thumbnail_path: str  # relative to data_dir
    size_bytes: int = 0
    status: str = "recording"  # recording | complete | truncated
    has_audio: bool = False

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
            "has_audio": self.has_audio,
        }


Records = list[EventRecord]


class EventRecording(Exception):
    """The event's clip is still being written, so it cannot be deleted."""


@contextmanager
def transaction(db: sqlite3.Connection, lock: threading.RLock) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on `db` (ROLLBACK on any error) holding `lock`."""
    with lock:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def disk_full(error: BaseException) -> bool:
    """True for SQLite's "database or disk is full" (by its code)."""
    return getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


Transaction = Callable[[], AbstractContextManager[sqlite3.Connection]]


class IndexReserve:
    """The space kept aside in the data dir for the index database (events and segments
    alike): given up when a write finds the disk full, made again once there is room."""

    def __init__(self, root: Path, free_bytes: FreeBytes) -> None:
        self.path = root / RESERVE_NAME
        self._root, self._free_bytes = root, free_bytes

    def keep(self) -> None:
        """(Re)make the reserve file when there is room for it and then some."""
        try:
            if self.path.exists() or self._free_bytes(self._root) < 4 * RESERVE_BYTES:
                return
            with open(self.path, "wb") as f:
                f.write(bytes(RESERVE_BYTES))  # real blocks: a sparse file would free nothing
        except OSError as e:
            log.warning("cannot keep %s for the index: %s", self.path, e)
            self.path.unlink(missing_ok=True)

    def release(self) -> bool:
        """Give the reserve up (the disk is full); True if that freed space."""
        try:
            self.path.unlink()
        except OSError:
            return False
        log.warning("the disk of %s is full: using the space kept for the index", self._root)
        return True

    def write(self, transaction: Transaction, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work` in a transaction; on a full disk, once more with the reserve freed."""
        try:
            with transaction() as db:
                return work(db)
        except sqlite3.OperationalError as e:
            if not disk_full(e) or not self.release():
                raise
        with transaction() as db:
            return work(db)


class EventStore:
    """SQLite index under data_dir (WAL, one writer lock); thread-safe; the only SQL in camwatch.

    `free_bytes` reports the free space of the data dir's filesystem (a fake in tests).
    """

    def __init__(self, data_dir: str | Path, *, free_bytes: FreeBytes = disk_free_bytes) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._root = Path(os.path.abspath(self.data_dir))
        self._free_bytes = free_bytes
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(self._root / DB_NAME), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.row_factory = sqlite3.Row
        self.reserve = IndexReserve(self._root, free_bytes)
        self.reserve.keep()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._transaction() as db:
                for statement in SCHEMA:
                    db.execute(statement)
                present = {row[1] for row in db.execute("PRAGMA table_info(events)")}
                for name, definition in ADDED_COLUMNS:
                    if name not in present:
                        db.execute(f"ALTER TABLE events ADD COLUMN {name} {definition}")

    @property
    def root(self) -> Path:
        """The data dir as an absolute path (index paths are relative to it)."""
        return self._root

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- space for the index ---------------------------------------------------------------

    def free_bytes(self) -> int:
        """Free space on the data dir's disk."""
        return self._free_bytes(self._root)

    def keep_reserve(self) -> None:
        """(Re)make the index's reserve when there is room for it and then some."""
        self.reserve.keep()

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return self.reserve.write(self._transaction, work)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    def _query(self, sql: str, *params: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- rows ------------------------------------------------------------------------------------

    def add(self, record: EventRecord) -> None:
        """Index a new event (called once the event has enough motion frames to keep)."""
        sql = (
            f"INSERT OR REPLACE INTO events ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))})"
        )
        self._write(lambda db: db.execute(sql, _row_values(record)))

    def update(self, record: EventRecord) -> None:
        """Store the record's current values; a row deleted meanwhile is not brought back."""
        values = _row_values(record)
        assignments = ", ".join(f"{name} = ?" for name in COLUMNS[1:])
        self._write(
            lambda db: db.execute(
                f"UPDATE events SET {assignments} WHERE id = ?", values[1:] + values[:1]
            )
        )

    def get(self, event_id: str) -> EventRecord | None:
        rows = self._query("SELECT * FROM events WHERE id = ?", event_id)
        return _record(rows[0]) if rows else None

    def list(
        self,
        camera: str | None = None,
        limit: int = 50,
        before: float | None = None,
        before_id: str | None = None,
    ) -> Records:
        """Newest first. `before` (with `before_id` to break ties of equal start times) pages:
        only events that started before it are listed."""
        conditions: list[str] = []
        params: list[Any] = []
        if camera is not None:
            conditions.append("camera = ?")
            params.append(camera)
        if before is not None and before_id is not None:
            conditions.append("(started_at < ? OR (started_at = ? AND id < ?))")
            params += [before, before, before_id]
        elif before is not None:
            conditions.append("started_at < ?")
            params.append(before)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._query(
            f"SELECT * FROM events {where} ORDER BY started_at DESC, id DESC LIMIT ?",
            *params,
            limit,
        )
        return [_record(row) for row in rows]

    def overlapping(self, camera: str, start: float, end: float) -> Records:
        """The camera's events whose time overlaps [start, end), oldest first (one still
        recording counts as lasting until now)."""
        rows = self._query(
            "SELECT * FROM events WHERE camera = ? AND started_at < ? "
            "AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at, id",
            camera,
            end,
            start,
        )
        return [_record(row) for row in rows]

    def records(self) -> Records:
        """Every event, oldest first."""
        return [_record(row) for row in self._query("SELECT * FROM events ORDER BY started_at, id")]

    def total_bytes(self) -> int:
        rows = self._query("SELECT COALESCE(SUM(size_bytes), 0) FROM events")
        return int(rows[0][0])

    def finished_started_before(self, moment: float) -> EventIds:
        """Events no longer recording that started before `moment`, oldest first."""
        rows = self._query(
            "SELECT id FROM events WHERE status != 'recording' "
            "AND started_at < ? ORDER BY started_at, id",
            moment,
        )
        return [row["id"] for row in rows]

    def oldest_finished(self, excluding: Iterable[str] = ()) -> str | None:
        """The oldest event no longer recording, leaving out the ids in `excluding`."""
        skip = sorted(excluding)
        rows = self._query(
            "SELECT id FROM events WHERE status != 'recording' AND id NOT IN "
            f"({', '.join('?' * len(skip))}) ORDER BY started_at, id LIMIT 1",
            *skip,
        )
        return str(rows[0]["id"]) if rows else None

    def video_paths(self) -> set[str]:
        """Every indexed clip's path, relative to the data dir."""
        return {row["video_path"] for row in self._query("SELECT video_path FROM events")}

    def delete(self, event_id: str, *, allow_recording: bool = True) -> bool:
        """Remove the row and its files; False if there was no such event.

        With allow_recording=False an event still recording raises EventRecording instead.
        """
        record = self.delete_row(event_id, allow_recording=allow_recording)
        if record is None:
            return False
        self.remove_files(record)
        return True

    def delete_row(self, event_id: str, *, allow_recording: bool) -> EventRecord | None:
        """Remove the row only (its files stay); the deleted record, or None if there was none."""

        def work(db: sqlite3.Connection) -> EventRecord | None:
            rows = db.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchall()
            if not rows:
                return None
            record = _record(rows[0])
            if record.status == "recording" and not allow_recording:
                raise EventRecording(event_id)
            db.execute("DELETE FROM events WHERE id = ?", (event_id,))
            return record

        return self._write(work)

    def remove_files(self, record: EventRecord) -> bool:
        """Delete the clip and thumbnail; False if a file that exists could not be deleted."""
        removed = True
        for relative in (record.video_path, record.thumbnail_path):
            if not relative:
                continue  # an event of continuous mode: its footage is in the segments
            path = self.path_of(relative)
            if path is None:
                log.warning(
                    "event %s: not deleting %s, it is outside the data dir", record.id, relative
                )
                continue
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                log.error("event %s: cannot delete %s: %s", record.id, path, e)
                removed = False
        video = self.path_of(record.video_path)
        if video is not None:
            self._remove_day_dir_if_empty(video.parent)
        return removed

    def _remove_day_dir_if_empty(self, folder: Path) -> None:
        """Tidy up old day folders; today's is kept, a recorder may be about to write into it."""
        today = time.strftime("%Y-%m-%d", time.gmtime())
        if folder.name == today or folder.parent.parent != clips_dir(self._root):
            return
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty, or already gone

    def path_of(self, relative: str) -> Path | None:
        """The absolute path of a data-dir-relative path, or None if it leads outside the
        data dir as written (symlinks are the media handler's business)."""
        path = Path(os.path.abspath(self._root / relative))
        if path != self._root and self._root in path.parents:
            return path
        return None

    # -- motion settings ---------------------------------------------------------------------

    def save_motion_overrides(self, camera: str, overrides: MotionOverrides) -> None:
        """Keep a camera's run-time motion settings (replacing what was saved before)."""
        with self._transaction() as db:
            if overrides.settings:
                db.execute(
                    "INSERT INTO motion_overrides (camera, settings) VALUES (?, ?) "
                    "ON CONFLICT (camera) DO UPDATE SET settings = excluded.settings",
                    (camera, json.dumps(dict(overrides.settings), sort_keys=True)),
                )
            else:
                db.execute("DELETE FROM motion_overrides WHERE camera = ?", (camera,))

    def motion_overrides(self, camera: str) -> MotionOverrides:
        rows = self._query("SELECT settings FROM motion_overrides WHERE camera = ?", camera)
        return MotionOverrides(_json_object(rows, f"camera {camera}: saved motion settings"))

    def save_camera_switches(self, camera: str, switches: CameraSwitches) -> None:
        """Keep a camera's run-time switches (recordings on/off) across restarts."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO camera_switches (camera, switches) VALUES (?, ?) "
                "ON CONFLICT (camera) DO UPDATE SET switches = excluded.switches",
                (camera, json.dumps(switches.to_json(), sort_keys=True)),
            )

    def camera_switches(self, camera: str) -> CameraSwitches:
        rows = self._query("SELECT switches FROM camera_switches WHERE camera = ?", camera)
        return CameraSwitches.from_json(_json_object(rows, f"camera {camera}: saved switches"))


def _json_object(rows: list[sqlite3.Row], what: str) -> dict[str, JsonValue]:
    """The JSON object in the first row's first column; {} (with a warning) if it is not one."""
    if not rows:
        return {}
    try:
        saved = json.loads(rows[0][0])
    except ValueError:
        log.warning("%s are not valid JSON; ignored", what)
        return {}
    return saved if isinstance(saved, dict) else {}


def _row_values(record: EventRecord) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in COLUMNS)


def _record(row: sqlite3.Row) -> EventRecord:
    values = {name: row[name] for name in COLUMNS}
    values["has_audio"] = bool(values["has_audio"])
    return EventRecord(**values)
