"""Retention: the policy deciding which clips go, and the service running it now and then."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

from camwatch.config import RetentionConfig
from camwatch.recording.index import EventIds, EventRecord, EventRecording, EventStore
from camwatch.recording.paths import clip_folder_files
from camwatch.recording.reconcile import reconcile
from camwatch.recording.segment_index import SegmentStore

log = logging.getLogger(__name__)

INTERVAL_S = 60.0
ORPHAN_STALE_S = 30.0  # a clip file untouched this long is not the one being recorded

Deletion = tuple[EventRecord, bool]  # the deleted event, and whether its row and files all went


class RetentionPolicy:
    """Deletes finished clips: older than max_days, then oldest first while the clips take
    more than max_bytes or the disk has less than min_free_bytes free. An event still
    recording is never deleted. Remembers rows whose files went while the index could not be
    written (a full disk), and deletes those rows once it can."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._rows_to_delete: set[str] = set()

    def enforce(self, retention: RetentionConfig, now: float | None = None) -> EventIds:
        """One pass; returns the ids (or, for unindexed clips, the file stems) deleted."""
        now = time.time() if now is None else now
        self._delete_leftover_rows()
        deleted = self._delete_older_than(retention.max_days, now)
        if retention.max_bytes > 0:
            deleted += self._delete_beyond_bytes(retention.max_bytes)
        if retention.min_free_bytes > 0:
            deleted += self._delete_for_free_space(retention.min_free_bytes)
        if deleted:
            log.info("retention deleted %d clip(s): %s", len(deleted), ", ".join(deleted))
        self.store.keep_reserve()
        return deleted

    def _delete_older_than(self, max_days: float, now: float) -> EventIds:
        if max_days <= 0:
            return []
        old = self.store.finished_started_before(now - max_days * 86400)
        return [event_id for event_id in old if self._delete(event_id) is not None]

    def _delete_beyond_bytes(self, max_bytes: int) -> EventIds:
        deleted: EventIds = []
        total = self.store.total_bytes()
        while total > max_bytes:
            outcome = self._delete_oldest_finished()
            if outcome is None:
                break
            deleted.append(outcome[0].id)
            total -= outcome[0].size_bytes
            if not outcome[1]:
                break  # the row or files would not go: the next pass tries again
        return deleted

    def _delete_for_free_space(self, min_free_bytes: int) -> EventIds:
        deleted: EventIds = []
        while self.store.free_bytes() < min_free_bytes:
            outcome = self._delete_oldest_finished()
            if outcome is None:
                orphan = self._delete_oldest_stale_orphan()
                if orphan is not None:
                    deleted.append(orphan)
                    continue
                log.warning(
                    "less than %d bytes free in %s and no finished clip left to delete",
                    min_free_bytes,
                    self.store.root,
                )
                break
            deleted.append(outcome[0].id)
            if not outcome[1]:
                break  # the row or files would not go: the next pass tries again
        return deleted

    def _delete_leftover_rows(self) -> None:
        """Rows whose files an earlier pass deleted when the index could not be written."""
        for event_id in sorted(self._rows_to_delete):
            try:
                self.store.delete_row(event_id, allow_recording=False)
            except (EventRecording, sqlite3.OperationalError):
                continue
            self._rows_to_delete.discard(event_id)

    def _delete_oldest_finished(self) -> Deletion | None:
        # Rows whose files are gone already (their DELETE waits for space) are skipped, or a
        # full disk would have retention pick the same row, with nothing left to free, forever.
        event_id = self.store.oldest_finished(excluding=self._rows_to_delete)
        return None if event_id is None else self._delete(event_id)

    def _delete_oldest_stale_orphan(self) -> str | None:
        """Last resort on a full disk: the oldest clip file that has no row (its row could not
        be written for lack of space) and has not been written to for ORPHAN_STALE_S, so it is
        not the clip being recorded. Without this, such files would wedge the disk for good."""
        root = self.store.root
        indexed = self.store.video_paths()
        now = time.time()
        candidates = []
        for path in clip_folder_files(root):
            if path.suffix != ".mp4" or str(path.relative_to(root)) in indexed:
                continue
            try:
                modified = path.stat().st_mtime
            except OSError:
                continue
            if now - modified >= ORPHAN_STALE_S:
                candidates.append((modified, path))
        if not candidates:
            return None
        _, oldest = min(candidates)
        log.warning("disk full: deleting %s, a clip that could not be indexed", oldest.name)
        oldest.unlink(missing_ok=True)
        oldest.with_suffix(".jpg").unlink(missing_ok=True)
        return oldest.stem

    def _delete(self, event_id: str) -> Deletion | None:
        """Delete an event's row and files, or None if it is not deletable (recording)."""
        try:
            record = self.store.delete_row(event_id, allow_recording=False)
        except EventRecording:
            return None  # re-added as recording meanwhile
        except sqlite3.OperationalError as e:
            # Most likely the disk is full and the index cannot be written: free the space
            # now; the row goes on a later pass, or at the next start (its video is gone).
            record = self.store.get(event_id)
            if record is None or record.status == "recording":
                return None
            log.error(
                "cannot delete event %s from the index (%s); deleting its files first", event_id, e
            )
            removed = self.store.remove_files(record)
            self._rows_to_delete.add(event_id)  # skipped from now on: the next one is tried
            return record, removed
        if record is None:
            return None
        return record, self.store.remove_files(record)


class RetentionService:
    """A Component: `start()` reconciles the index with the files (before any recorder runs),
    then a daemon thread enforces retention every `interval_s` and whenever
    `request_cleanup()` is called (a clip ended, a write hit a full disk).
    """

    def __init__(
        self, store: EventStore, retention: RetentionConfig, interval_s: float = INTERVAL_S
    ) -> None:
        self.store = store
        self.retention = retention
        self.policy = RetentionPolicy(store)
        self.interval_s = interval_s
        self.passes = 0
        self.deleted_total = 0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.segments: SegmentStore | None = None  # continuous footage, retained by kind

    def start(self) -> None:
        try:
            reconcile(self.store)
        except Exception:
            log.exception("reconciling the event index failed; going on without it")
        try:
            if self.segments is not None:
                self.segments.reconcile()
        except Exception:
            log.exception("reconciling the segment index failed; going on without it")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def request_cleanup(self) -> None:
        """Run a pass soon, on the retention thread (returns at once)."""
        self._wake.set()

    def run_once(self) -> list[str]:
        deleted: list[str] = []
        if self.segments is not None:  # first: footage outside events goes before events
            deleted += self.segments.enforce_retention(self.retention)
        deleted += self.policy.enforce(self.retention)
        self.deleted_total += len(deleted)
        self.passes += 1
        return deleted

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("retention pass failed")
            self._wake.wait(self.interval_s)
            self._wake.clear()
