"""IndexWriter: failed writes are kept and made later, an add stays an add, nothing raises."""

from __future__ import annotations

import pytest

from camwatch.recording.index import EventRecord
from camwatch.recording.index_writer import IndexWriter
from tests.helpers.fakes import MemoryEventSink, sqlite_disk_full


class FlakyIndex(MemoryEventSink):
    """An index that refuses every write while `full` is set, and the next `failures` writes,
    as SQLite does on a full disk."""

    full = False
    failures = 0

    def _refuse(self) -> None:
        if self.full or self.failures > 0:
            self.failures = max(0, self.failures - 1)
            raise sqlite_disk_full()

    def add(self, record: EventRecord) -> None:
        self._refuse()
        super().add(record)

    def update(self, record: EventRecord) -> None:
        self._refuse()
        super().update(record)


def record(event_id: str) -> EventRecord:
    return EventRecord(event_id, "cam", 1.0, None, 0, 5, 1.0, f"clips/{event_id}.mp4", "x.jpg")


def test_a_failed_add_is_kept_and_made_before_the_next_write():
    index = FlakyIndex()
    writer = IndexWriter(index)
    index.full = True
    assert writer.write(record("a"), new=True) is False  # logged, not raised
    assert writer.pending == 1 and index.calls == []
    index.full = False
    finished = record("a")
    finished.status = "complete"
    assert writer.write(finished, new=False) is True
    assert index.calls == [("add", "a"), ("update", "a")]
    assert index.records["a"].status == "complete"
    assert writer.pending == 0


def test_an_add_still_waiting_stays_an_add_when_the_event_is_updated():
    index = FlakyIndex()
    writer = IndexWriter(index)
    index.failures = 2  # the add, and its retry before the update
    writer.write(record("a"), new=True)
    finished = record("a")
    finished.status = "complete"
    assert writer.write(finished, new=False) is True
    assert index.calls == [("add", "a")]  # an update would have found no row
    assert index.records["a"].status == "complete" and writer.pending == 0


def test_other_events_waiting_are_retried_before_a_new_write():
    index = FlakyIndex()
    writer = IndexWriter(index)
    index.full = True
    writer.write(record("a"), new=True)
    index.full = False
    assert writer.write(record("b"), new=True)
    assert index.calls == [("add", "a"), ("add", "b")]


def test_delete_drops_a_write_still_waiting():
    index = FlakyIndex()
    writer = IndexWriter(index)
    index.full = True
    writer.write(record("a"), new=True)
    index.full = False
    writer.delete("a")
    writer.retry()
    assert index.records == {} and writer.pending == 0


def test_without_an_index_nothing_is_written_or_kept():
    writer = IndexWriter(None)
    assert writer.write(record("a"), new=True) is False
    assert writer.pending == 0
    writer.delete("a")


def test_a_delete_that_fails_raises_for_the_caller_to_log():
    class Broken(MemoryEventSink):
        def delete(self, event_id: str) -> bool:
            raise sqlite_disk_full()

    with pytest.raises(Exception, match="full"):
        IndexWriter(Broken()).delete("a")
