"""EventTracker: the event state machine (idle -> recording -> stable), fed one delta per frame."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from camwatch.config import MotionConfig


class Step(enum.Enum):
    NONE = "none"  # nothing changed
    START = "start"  # first significant frame: start a clip (with pre-roll)
    CONFIRM = "confirm"  # min_motion_frames reached: the event is worth keeping
    END = "end"  # stable again after a confirmed event: finish the clip
    DISCARD = "discard"  # stable again, too few significant frames: drop the clip
    SPLIT = "split"  # max_event_seconds reached: finish this clip, go on in a new one


@dataclass
class TrackedEvent:
    """What the tracker knows about the current clip (one segment of an event)."""

    started_t: float
    first_motion_t: float
    last_motion_t: float
    motion_frames: int = 0
    frames: int = 0
    peak_delta: float = 0.0
    peak_t: float = 0.0
    confirmed: bool = False
    recent: list[float] = field(default_factory=list)  # the diff buffer


class EventTracker:
    """Decides, one (time, delta) pair at a time, when events start, are confirmed and end.

    An event starts on a frame with delta > threshold and ends once the last `stable_frames`
    deltas (the diff buffer) are all at or below it; an event with fewer than
    `min_motion_frames` significant frames is discarded.
    """

    def __init__(
        self, settings: MotionConfig, on_finished: Callable[[TrackedEvent], None] | None = None
    ) -> None:
        self.settings = settings
        self.event: TrackedEvent | None = None
        self.on_finished = on_finished  # called with each confirmed event (segment) that ends

    @property
    def active(self) -> bool:
        return self.event is not None

    def update(self, t: float, delta: float) -> Step:
        significant = delta > self.settings.threshold
        event = self.event
        if event is None:
            if not significant:
                return Step.NONE
            self.event = TrackedEvent(started_t=t, first_motion_t=t, last_motion_t=t)
            self._count(self.event, t, delta, significant)
            return Step.CONFIRM if self._confirm(self.event) else Step.START
        self._count(event, t, delta, significant)
        stable = self.settings.stable_frames
        if len(event.recent) >= stable and max(event.recent[-stable:]) <= self.settings.threshold:
            self.event = None
            if not event.confirmed:
                return Step.DISCARD
            self._finished(event)
            return Step.END
        if self._confirm(event):
            return Step.CONFIRM
        if t - event.started_t >= self.settings.max_event_seconds:
            self._split(t)
            return Step.SPLIT
        return Step.NONE

    def _count(self, event: TrackedEvent, t: float, delta: float, significant: bool) -> None:
        event.frames += 1
        event.recent.append(delta)
        del event.recent[: -max(1, self.settings.stable_frames)]
        if significant:
            event.motion_frames += 1
            event.last_motion_t = t
        if delta > event.peak_delta:
            event.peak_delta, event.peak_t = delta, t

    def _confirm(self, event: TrackedEvent) -> bool:
        if event.confirmed or event.motion_frames < self.settings.min_motion_frames:
            return False
        event.confirmed = True
        return True

    def _split(self, t: float) -> None:
        """Continue the current event in a new segment starting at t (already confirmed)."""
        assert self.event is not None
        old = self.event
        self._finished(old)
        self.event = TrackedEvent(
            started_t=t,
            first_motion_t=old.last_motion_t,
            last_motion_t=old.last_motion_t,
            confirmed=True,
            recent=list(old.recent),
        )

    def stop(self) -> TrackedEvent | None:
        """End the current event now (camera offline, motion disabled, shutdown)."""
        event, self.event = self.event, None
        if event is not None and event.confirmed:
            self._finished(event)
        return event

    def _finished(self, event: TrackedEvent) -> None:
        if self.on_finished is not None:
            self.on_finished(event)
