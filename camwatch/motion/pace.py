"""The busy pace: while a scene keeps changing, the full motion model runs at a capped rate."""

from __future__ import annotations

BUSY_SECONDS = 1.0  # the full model had to run on every frame for this long: the scene is busy
BUSY_FPS = 5.0  # ... then it runs at most this often (Frigate detects at 5 fps by default)


class BusyPace:
    """Which frames of a busy scene (people or cars passing all the time, trees swaying: the
    first look never lets a frame skip the full model) may pass without it, and their delta.

    Once the full model has run on every frame for BUSY_SECONDS, it runs at most BUSY_FPS times
    a second; a frame in between gets the delta of the last frame it ran on. The model itself
    is time-scaled (its rates come from the time between the frames it sees), so it learns at
    BUSY_FPS as it does on a camera of that rate. The recorder's rules count deltas per frame
    (an event ends once the last `stable_frames` deltas are all at or below the threshold, a
    clip with fewer than `min_motion_frames` significant frames is discarded); repeating the
    last delta keeps both at the time scale they have at the full rate:
    - motion seen for a stretch gives as many significant frames as at the full rate (give or
      take the one frame either end), where a held delta of 0 would halve them and make a short
      event need twice as long to be kept;
    - after the last motion the next model run is below threshold and is repeated too, so the
      diff buffer fills at the frame rate and the event ends `stable_frames` frames after the
      motion was last seen, at most one model interval later than at the full rate.
    An event starts at the full rate: the pace only begins after BUSY_SECONDS of change (its
    first frames, and the min_motion_frames that keep it, are all seen), and something new in
    a scene already busy is seen at most 1 / BUSY_FPS late.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._busy_seconds = 0.0  # how long the full model has run on every frame
        self._ran_t: float | None = None  # the time of the last frame it ran on
        self._delta = 0.0  # that frame's delta

    def held(self, t: float | None) -> float | None:
        """The delta for the frame at `t` without the full model, or None when it must run
        (the scene is not busy, or its last run was 1 / BUSY_FPS ago; frame times unknown)."""
        if t is None or self._ran_t is None or self._busy_seconds < BUSY_SECONDS - 0.01:
            return None
        since = t - self._ran_t
        if not 0.0 <= since < 1.0 / BUSY_FPS - 0.01:  # at 10 fps, every other frame
            return None
        return self._delta

    def ran(self, t: float | None, dt: float, delta: float) -> None:
        """The full model ran on the frame at `t`, `dt` seconds after the last one it saw."""
        self._busy_seconds += dt
        self._ran_t, self._delta = t, delta

    def rested(self) -> None:
        """A frame did not need the full model (the scene is still), or it started over."""
        self._busy_seconds = 0.0
        self._ran_t = None
