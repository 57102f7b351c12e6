"""EventListener: how the recorder tells the rest of camwatch (MQTT, hooks, metrics) of events."""

from __future__ import annotations

import logging
from typing import Protocol

from camwatch.recording.index import EventRecord

log = logging.getLogger(__name__)


class EventListener(Protocol):
    """Called on a camera's capture thread: implementations must return at once (hand work off)."""

    def motion_changed(self, camera: str, active: bool) -> None:
        """Motion started (the first significant frame) or the scene became stable again."""

    def event_started(self, record: EventRecord) -> None:
        """An event has enough motion frames to be kept; it is indexed and still recording."""

    def event_ended(self, record: EventRecord) -> None:
        """The clip is finished, closed and indexed (status complete or truncated)."""


class Listeners:
    """Fans a call out to several listeners; one failing listener does not stop the others."""

    def __init__(self, listeners: list[EventListener] | None = None) -> None:
        self.items: list[EventListener] = list(listeners or [])

    def add(self, listener: EventListener) -> None:
        self.items.append(listener)

    def motion_changed(self, camera: str, active: bool) -> None:
        self._each("motion_changed", camera, active)

    def event_started(self, record: EventRecord) -> None:
        self._each("event_started", record)

    def event_ended(self, record: EventRecord) -> None:
        self._each("event_ended", record)

    def _each(self, method: str, *args: object) -> None:
        for listener in self.items:
            try:
                getattr(listener, method)(*args)
            except Exception:
                log.exception("listener %r failed on %s", listener, method)
