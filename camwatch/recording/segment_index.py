"""The segment index: SQLite rows for continuous footage, retention by kind, reconciliation."""

from __future__ import annotations

import calendar
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camwatch.config import RetentionConfig
from camwatch.recording.clip_probe import probe_clip, trim_partial_fragment
from camwatch.recording.index import DB_NAME, EventStore, disk_free_bytes, transaction
from camwatch.recording.paths import CLIPS_DIR

log = logging.getLogger(__name__)

# An event of continuous mode played as one MP4: remuxed from the segments on first play and
# kept here (inside clips/, where media is served from) while the event is in the index.
RANGES_DIR = f"{CLIPS_DIR}/.ranges"
RANGE_CACHE_S = 86400.0  # how long an event's remuxed MP4 is kept for viewers
SEGMENTS_DIR = "segments"  # data_dir/segments/{camera}/{YYYY-MM-DD}/{camera}-{stamp}-{id}.mp4
SEGMENT_STEM = re.compile(r"^(?P<camera>[a-z0-9_-]+)-(?P<stamp>\d{8}-\d{6})-(?P<id>[a-f0-9]+)$")
# Rows a SegmentRows keeps while the index cannot be written: a day of 60 s segments (the
# default), or four hours of the shortest (10 s) ones, in under a megabyte. Past that the
# oldest kept *puts* go: their files stay on disk and SegmentStore.reconcile at the next start
# indexes a segment file without a row (closed as truncated, its start from the file's name to
# the second), so what is lost is only that row's exact start and "complete" status.
PENDING_ROWS_MAX = 1440
COLUMNS = ("id", "camera", "started_at", "ended_at", "path", "size_bytes", "status", "has_audio")
# Columns later versions added, for databases made before them: NULL there is "not known".
ADDED_COLUMNS = (("has_audio", "INTEGER"),)
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS segments (
        id TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'recording',
        has_audio INTEGER)""",
    "CREATE INDEX IF NOT EXISTS segments_by_camera ON segments (camera, started_at)",
    "CREATE INDEX IF NOT EXISTS segments_by_time ON segments (started_at)",
)
FreeBytes = Callable[[Path], int]


@dataclass
class SegmentRecord:
    """One file of continuous footage; `path` is relative to the data dir."""

    id: str
    camera: str
    started_at: float  # wall clock of its first frame
    ended_at: float  # of its last frame (grows while recording)
    path: str
    size_bytes: int = 0
    status: str = "recording"  # recording | complete | truncated
    has_audio: bool | None = None  # None: not known (still recording, or indexed before it was)


@dataclass
class SegmentReport:
    """What reconcile() changed: segment ids dropped, closed after a crash, or indexed."""

    dropped: list[str] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)
    removed_files: list[str] = field(default_factory=list)


def segment_path(data_dir: Path, camera: str, started_at: float, segment_id: str) -> Path:
    moment = time.gmtime(started_at)
    folder = data_dir / SEGMENTS_DIR / camera / time.strftime("%Y-%m-%d", moment)
    return folder / f"{camera}-{time.strftime('%Y%m%d-%H%M%S', moment)}-{segment_id}.mp4"


class SegmentStore:
    """Segments in the index database (its own connection; WAL lets it share the file)."""

    def __init__(self, events: EventStore, *, free_bytes: FreeBytes = disk_free_bytes) -> None:
        self.events = events
        self.root = events.root
        self._free_bytes = free_bytes
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            str(self.root / DB_NAME), check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.row_factory = sqlite3.Row
        with self._transaction() as db:
            for statement in SCHEMA:
                db.execute(statement)
            present = {row[1] for row in db.execute("PRAGMA table_info(segments)")}
            for name, definition in ADDED_COLUMNS:
                if name not in present:
                    db.execute(f"ALTER TABLE segments ADD COLUMN {name} {definition}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._db, self._lock)

    def _write(self, sql: str, *params: Any) -> None:
        """One statement; on a full disk, once more with the index's reserve given up (one
        database file: the event index's reserve is the segments' too)."""
        self.events.reserve.write(self._transaction, lambda db: db.execute(sql, params))

    def _query(self, sql: str, *params: Any) -> list[SegmentRecord]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_record(row) for row in rows]

    # -- rows ----------------------------------------------------------------------------------

    def put(self, record: SegmentRecord) -> None:
        values = tuple(getattr(record, name) for name in COLUMNS)
        sql = (
            f"INSERT OR REPLACE INTO segments ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))})"
        )
        self._write(sql, *values)

    def get(self, segment_id: str) -> SegmentRecord | None:
        found = self._query("SELECT * FROM segments WHERE id = ?", segment_id)
        return found[0] if found else None

    def overlapping(self, camera: str, start: float, end: float) -> list[SegmentRecord]:
        """Oldest first; the segment being recorded lasts until now."""
        return self._query(
            "SELECT * FROM segments WHERE camera = ? AND started_at < ? "
            "AND (ended_at >= ? OR status = 'recording') ORDER BY started_at",
            camera,
            end,
            start,
        )

    def is_recording(self, segment_id: str) -> bool:
        record = self.get(segment_id)
        return record is not None and record.status == "recording"

    def records(self) -> list[SegmentRecord]:
        return self._query("SELECT * FROM segments ORDER BY started_at")

    def total_bytes(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT COALESCE(SUM(size_bytes), 0) FROM segments").fetchone()
        return int(row[0])

    def delete(self, record: SegmentRecord) -> None:
        """The row and its file (the file first: a crash leaves a row reconcile drops)."""
        path = self.events.path_of(record.path)
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                log.error("segment %s: cannot delete %s: %s", record.id, path, e)
                return
            _remove_empty(path.parent)
        self._write("DELETE FROM segments WHERE id = ?", record.id)

    # -- retention by kind -----------------------------------------------------------------------

    def holds_event(self, record: SegmentRecord) -> bool:
        """True while the segment holds part of an event still in the index."""
        return bool(self.events.overlapping(record.camera, record.started_at, record.ended_at))

    def enforce_retention(self, retention: RetentionConfig, now: float | None = None) -> list[str]:
        """Footage outside events goes after continuous_days; a segment holding part of an
        event stays as long as the event does (max_days, by the event index). Over max_bytes
        or under min_free_bytes, footage outside events goes first (oldest first), then the
        oldest events with their footage. A segment still recording is never deleted."""
        now = time.time() if now is None else now
        deleted: list[str] = []
        if retention.continuous_days > 0:
            cutoff = now - retention.continuous_days * 86400
            for record in self._query(
                "SELECT * FROM segments WHERE status != 'recording' AND ended_at < ? "
                "ORDER BY started_at",
                cutoff,
            ):
                if not self.holds_event(record):
                    self.delete(record)
                    deleted.append(record.id)
        while self._over_budget(retention) and self._free_one(deleted):
            pass
        self._forget_ranges()
        if deleted:
            log.info("retention deleted %d segment(s)", len(deleted))
        return deleted

    def _forget_ranges(self) -> None:
        """The remuxed MP4s of events that are no longer in the index, and those made more than
        RANGE_CACHE_S ago (a second copy of footage that max_bytes does not count; made again
        when the event is watched again)."""
        try:
            cached = list((self.root / RANGES_DIR).glob("*.mp4"))
        except OSError:
            return
        stale = time.time() - RANGE_CACHE_S
        for path in cached:
            try:
                old = path.stat().st_mtime < stale
            except OSError:
                continue
            if old or self.events.get(path.name.split(".")[0]) is None:
                path.unlink(missing_ok=True)

    def _over_budget(self, retention: RetentionConfig) -> bool:
        total = self.total_bytes() + self.events.total_bytes()
        if retention.max_bytes > 0 and total > retention.max_bytes:
            return True
        return retention.min_free_bytes > 0 and self._free_bytes(self.root) < (
            retention.min_free_bytes
        )

    def _free_one(self, deleted: list[str]) -> bool:
        """Delete the oldest segment outside events, else the oldest event and its segments."""
        finished = self._query(
            "SELECT * FROM segments WHERE status != 'recording' ORDER BY started_at"
        )
        for record in finished:
            if not self.holds_event(record):
                self.delete(record)
                deleted.append(record.id)
                return True
        oldest = next((r for r in self.events.records() if r.status != "recording"), None)
        if oldest is None or not finished:
            return False
        log.warning("disk budget: deleting event %s and its footage", oldest.id)
        self.events.delete(oldest.id)
        end = oldest.ended_at or oldest.started_at
        for record in self.overlapping(oldest.camera, oldest.started_at, end):
            if record.status != "recording" and not self.holds_event(record):
                self.delete(record)
                deleted.append(record.id)
        return True

    # -- reconciliation --------------------------------------------------------------------------

    def reconcile(self) -> SegmentReport:
        """At start: rows without a file dropped, segments a crash left open cut back to their
        last whole fragment and closed, segment files without a row indexed (or deleted when
        nothing in them decodes)."""
        report = SegmentReport()
        known: set[Path] = set()
        for record in self.records():
            path = self.events.path_of(record.path)
            if path is None or not path.is_file():
                self._write("DELETE FROM segments WHERE id = ?", record.id)
                report.dropped.append(record.id)
                continue
            known.add(path)
            if record.status == "recording":
                self._close(record, path, report)
        for folder, _, names in os.walk(self.root / SEGMENTS_DIR):
            for name in sorted(names):
                path = Path(folder) / name
                if path not in known and name.endswith(".mp4"):
                    self._index_orphan(path, report)
        return report

    def _close(self, record: SegmentRecord, path: Path, report: SegmentReport) -> None:
        record.size_bytes = trim_partial_fragment(path)
        probe = probe_clip(path)
        if probe is None:
            self.delete(record)
            report.removed_files.append(record.path)
            return
        record.ended_at = record.started_at + probe.duration_s
        record.status = "truncated"
        self.put(record)
        report.closed.append(record.id)

    def _index_orphan(self, path: Path, report: SegmentReport) -> None:
        match = SEGMENT_STEM.match(path.stem)
        if match is None:
            log.warning("leaving %s alone: not named like a segment of camwatch's", path)
            return
        started_at = float(calendar.timegm(time.strptime(match["stamp"], "%Y%m%d-%H%M%S")))
        relative = str(path.relative_to(self.root))
        record = SegmentRecord(match["id"], match["camera"], started_at, started_at, relative)
        self._close(record, path, report)
        if record.status == "truncated":
            report.indexed.append(record.id)


def _record(row: sqlite3.Row) -> SegmentRecord:
    values = {name: row[name] for name in COLUMNS}
    values["has_audio"] = None if values["has_audio"] is None else bool(values["has_audio"])
    return SegmentRecord(**values)


class SegmentRows:
    """A recorder's writes to the segment index. One that fails (the disk is full even with
    the reserve given up) is kept and tried again, in order, before the next, so no segment
    drops out of the index (and out of retention's reach) while the disk is full; the first
    failure of a spell is logged, and the recovery, not every segment in between."""

    def __init__(self, store: SegmentStore, camera: str) -> None:
        self.store, self.camera = store, camera
        self._pending: dict[str, tuple[SegmentRecord, bool]] = {}  # id -> (record, delete)
        self._lock = threading.Lock()  # one write at a time: a retry never undoes a newer one
        self._failing = False
        self._dropping = False  # logged once a spell, when the first kept row is given up

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def put(self, record: SegmentRecord) -> None:
        self._write(record, delete=False)

    def delete(self, record: SegmentRecord) -> None:
        """The row and its file."""
        self._write(record, delete=True)

    def retry(self) -> None:
        """Try the kept writes once more (at shutdown, say)."""
        with self._lock:
            self._flush()

    def _write(self, record: SegmentRecord, *, delete: bool) -> None:
        with self._lock:
            self._pending.pop(record.id, None)
            self._pending[record.id] = (record, delete)  # the newest intent, last in line
            self._flush()
            self._cap()

    def _cap(self) -> None:
        """Give up the oldest kept puts past PENDING_ROWS_MAX (deletes go last: a delete
        whose row write failed has unlinked its file already, reconcile drops the row)."""
        excess = len(self._pending) - PENDING_ROWS_MAX
        if excess <= 0:
            return
        puts_first = sorted(self._pending, key=lambda key: self._pending[key][1])  # stable
        for key in puts_first[:excess]:
            del self._pending[key]
        if not self._dropping:
            self._dropping = True
            log.warning(
                "camera %s: %d segment rows kept while the index cannot be written; the oldest "
                "are given up (their files stay and are indexed again at the next start)",
                self.camera,
                PENDING_ROWS_MAX,
            )

    def _flush(self) -> None:
        kept = len(self._pending)
        for segment_id, (record, delete) in list(self._pending.items()):
            try:
                self.store.delete(record) if delete else self.store.put(record)
            except Exception as e:
                self._failed(segment_id, e)
                return
            del self._pending[segment_id]
        if self._failing:
            self._failing = self._dropping = False
            log.info("camera %s: segment index written again (%d kept)", self.camera, kept)

    def _failed(self, segment_id: str, error: Exception) -> None:
        if self._failing:
            return
        self._failing = True
        log.error(
            "camera %s: segment %s: cannot write to the segment index: %s; footage goes on, "
            "its rows are kept and written once the index can be (logged once)",
            self.camera,
            segment_id,
            error,
        )


def _remove_empty(folder: Path) -> None:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    if folder.name == today:
        return
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty, or already gone
