"""Reconciliation: make the event index agree with the clip files after a crash or a full disk."""

from __future__ import annotations

import calendar
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from camwatch.recording.clip_probe import probe_clip, trim_partial_fragment
from camwatch.recording.index import EventRecord, EventStore
from camwatch.recording.paths import clip_folder_files
from camwatch.recording.thumbnails import write_thumbnail

log = logging.getLogger(__name__)

# {camera}-{YYYYmmdd-HHMMSS}-{id}: the id is the last dash-separated part
CLIP_STEM = re.compile(r"^(?P<camera>[a-z0-9_-]+)-(?P<stamp>\d{8}-\d{6})-(?P<id>[A-Za-z0-9_]+)$")


@dataclass
class ReconcileReport:
    """What reconcile() changed, by event id or (for deleted files) path relative to data_dir."""

    dropped: list[str] = field(default_factory=list)  # rows whose video file was gone
    closed: list[str] = field(default_factory=list)  # crashed recordings closed as truncated
    indexed: list[str] = field(default_factory=list)  # clip files that had no row
    removed_files: list[str] = field(default_factory=list)  # undecodable or stray files

    @property
    def changed(self) -> bool:
        return bool(self.dropped or self.closed or self.indexed or self.removed_files)


def reconcile(store: EventStore) -> ReconcileReport:
    """Make the index agree with the files (run at start, before any recorder):
    rows without a video are dropped, recordings left open by a crash are closed as
    truncated, clip files without a row are indexed if they decode and deleted if not."""
    report = ReconcileReport()
    known: set[Path] = set()
    for record in store.records():
        if not record.video_path:
            _close_range(store, record, known, report)
            continue
        video = store.path_of(record.video_path)
        thumbnail = store.path_of(record.thumbnail_path)
        if video is None or not video.is_file():
            store.delete(record.id)
            report.dropped.append(record.id)
            continue
        known.add(video)
        if thumbnail is not None:
            known.add(thumbnail)
        if record.status == "recording":
            try:
                _close_crashed(store, record, video, thumbnail, report)
            except OSError as e:
                log.error("event %s: cannot close its clip after a crash: %s", record.id, e)
    _reconcile_files(store, known, report)
    if report.changed:
        log.info(
            "reconciled the event index: %d dropped, %d closed, %d indexed, %d files removed",
            len(report.dropped),
            len(report.closed),
            len(report.indexed),
            len(report.removed_files),
        )
    return report


def _close_range(
    store: EventStore, record: EventRecord, known: set[Path], report: ReconcileReport
) -> None:
    """An event of continuous mode (a range of the segments, which reconcile on their own)."""
    thumbnail = store.path_of(record.thumbnail_path)
    if thumbnail is not None:
        known.add(thumbnail)
    if record.status == "recording":
        record.ended_at = record.ended_at or record.started_at
        record.status = "truncated"
        store.update(record)
        report.closed.append(record.id)


def _close_crashed(
    store: EventStore,
    record: EventRecord,
    video: Path,
    thumbnail: Path | None,
    report: ReconcileReport,
) -> None:
    size = video.stat().st_size if video.is_symlink() else trim_partial_fragment(video)
    probe = probe_clip(video)
    if probe is None:
        report.removed_files += [
            relative
            for relative, path in ((record.video_path, video), (record.thumbnail_path, thumbnail))
            if path is not None and path.exists()
        ]
        store.delete(record.id)
        return
    if thumbnail is not None and not thumbnail.exists():
        write_thumbnail(probe.first_image, thumbnail)
    record.frames = probe.frames
    record.ended_at = record.started_at + probe.duration_s
    record.size_bytes = size
    record.status = "truncated"
    store.update(record)
    report.closed.append(record.id)


def _reconcile_files(store: EventStore, known: set[Path], report: ReconcileReport) -> None:
    """Index or delete clip files without a row; delete stray thumbnails and temp files."""
    videos: list[Path] = []
    others: list[Path] = []
    for path in clip_folder_files(store.root):
        if path in known or path.is_symlink():
            continue
        (videos if path.name.endswith(".mp4") else others).append(path)
    for video in videos:
        try:
            _index_orphan(store, video, known, report)
        except OSError as e:
            log.error("cannot index or delete %s: %s", video, e)
    for path in others:
        stray_thumbnail = path.suffix == ".jpg" and not path.with_suffix(".mp4").exists()
        if (stray_thumbnail or path.suffix == ".tmp") and path not in known:
            path.unlink(missing_ok=True)
            report.removed_files.append(str(path.relative_to(store.root)))


def _index_orphan(
    store: EventStore, video: Path, known: set[Path], report: ReconcileReport
) -> None:
    match = CLIP_STEM.match(video.stem)
    started_at = _parse_stamp(match["stamp"]) if match else None
    if match is None or started_at is None or store.get(match["id"]) is not None:
        log.warning(
            "leaving %s alone: not named like a clip of camwatch's, or its id is taken", video
        )
        return
    size = trim_partial_fragment(video)
    probe = probe_clip(video)
    thumbnail = video.with_suffix(".jpg")
    if probe is None:
        for path in (video, thumbnail):
            if path.exists():
                path.unlink()
                report.removed_files.append(str(path.relative_to(store.root)))
        return
    if not thumbnail.exists():
        write_thumbnail(probe.first_image, thumbnail)
    known.update((video, thumbnail))
    store.add(
        EventRecord(
            id=match["id"],
            camera=match["camera"],
            started_at=started_at,
            ended_at=started_at + probe.duration_s,
            frames=probe.frames,
            motion_frames=0,
            peak_delta=0.0,
            video_path=str(video.relative_to(store.root)),
            thumbnail_path=str(thumbnail.relative_to(store.root)),
            size_bytes=size,
            status="truncated",
        )
    )
    report.indexed.append(match["id"])


def _parse_stamp(stamp: str) -> float | None:
    """'20261124-093000' (UTC, as in clip names) -> epoch seconds."""
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y%m%d-%H%M%S")))
    except ValueError:
        return None
