"""Listeners: every listener hears every call, in order, even when one of them fails."""

from __future__ import annotations

from camwatch.integrations.listeners import Listeners
from camwatch.recording.index import EventRecord


class Recording:
    """A fake listener that writes down what it heard."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, object]] = []

    def motion_changed(self, camera: str, active: bool) -> None:
        self.heard.append(("motion", (camera, active)))

    def event_started(self, record: EventRecord) -> None:
        self.heard.append(("started", record.id))

    def event_ended(self, record: EventRecord) -> None:
        self.heard.append(("ended", record.id))


class Broken(Recording):
    def motion_changed(self, camera: str, active: bool) -> None:
        raise RuntimeError("broker gone")

    def event_started(self, record: EventRecord) -> None:
        raise OSError("disk gone")


def record(event_id: str) -> EventRecord:
    return EventRecord(event_id, "cam", 1.0, None, 0, 5, 1.0, "v.mp4", "t.jpg")


def test_a_failing_listener_does_not_stop_the_others(caplog):
    first, broken, last = Recording(), Broken(), Recording()
    listeners = Listeners([first, broken])
    listeners.add(last)
    listeners.motion_changed("cam", True)
    listeners.event_started(record("e1"))
    listeners.event_ended(record("e1"))
    expected = [("motion", ("cam", True)), ("started", "e1"), ("ended", "e1")]
    assert first.heard == expected and last.heard == expected
    assert broken.heard == [("ended", "e1")]
    assert caplog.text.count("failed on") == 2
