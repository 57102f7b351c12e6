"""The busy pace: while a scene keeps changing, the full motion model runs at a capped rate."""

from __future__ import annotations

BUSY_SECONDS = 1.0  # the full model had to run on every frame for this long: the scene is busy
BUSY_FPS = 5.0  # ... then it runs at most this often (Frigate detects at 5 fps by default)
QUIET_FPS = 10.0 / 3  # ... or this often once it has counted nothing moving (every third frame)
QUIET_SECONDS = 1.0  # ... for this long


class BusyPace:
    """Which frames of a busy scene (people or cars passing all the time, trees swaying: the
    first look never lets a frame skip the full model) may pass without it, and their delta.

    Once the full model has run on every frame for BUSY_SECONDS, it runs at most BUSY_FPS times
    a second, and QUIET_FPS once its runs have counted nothing moving for QUIET_SECONDS (deltas
    of 0: trees swaying, which the model learns as restless, and no one passing); a frame in
    between gets the delta of the last frame it ran on. Anything counted, even too little to be
    significant, brings BUSY_FPS back at once, and for QUIET_SECONDS: a far figure is found in
    pieces, some runs count none of it, and a small piece counts only where it touches the last
    run's changes (model.py), which 0.3 s apart it does less often (a far crossing kept 0.80 of
    its every-frame delta at the slower pace after every 0, 0.86 at BUSY_FPS; bench/RESULTS.md
    2026-12-02). So the slower pace only ever holds a delta of 0, a burst of motion and the
    frames that end its event are paced as before, and its first frame is seen at most 1 /
    QUIET_FPS late. The model itself is time-scaled (its rates come from the time between the
    frames it sees), so it learns at either pace as it does on a camera of that rate. The
    recorder's rules count deltas per frame (an event ends once the last `stable_frames` deltas
    are all at or below the threshold, a clip with fewer than `min_motion_frames` significant
    frames is discarded); repeating the last delta keeps both at the time scale they have at the
    full rate:
    - motion seen for a stretch gives as many significant frames as at the full rate (give or
      take the one frame either end), where a held delta of 0 would halve them and make a short
      event need twice as long to be kept;
    - after the last motion the next model run is below threshold and is repeated too, so the
      diff buffer fills at the frame rate and the event ends `stable_frames` frames after the
      motion was last seen, at most one model interval later than at the full rate.
    An event starts at the full rate: the pace only begins after BUSY_SECONDS of change (its
    first frames, and the min_motion_frames that keep it, are all seen), and something new in
    a scene already busy is seen at most 1 / QUIET_FPS late.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._busy_seconds = 0.0  # how long the full model has run on every frame
        self._ran_t: float | None = None  # the time of the last frame it ran on
        self._delta = 0.0  # that frame's delta
        self._nothing_seconds = 0.0  # how long its runs have counted nothing moving

    def held(self, t: float | None) -> float | None:
        """The delta for the frame at `t` without the full model, or None when it must run
        (the scene is not busy, or its last run was one interval ago; frame times unknown)."""
        if t is None or self._ran_t is None or self._busy_seconds < BUSY_SECONDS - 0.01:
            return None
        since = t - self._ran_t
        fps = QUIET_FPS if self._nothing_seconds >= QUIET_SECONDS - 0.01 else BUSY_FPS
        if not 0.0 <= since < 1.0 / fps - 0.01:
            return None
        return self._delta

    def ran(self, t: float | None, dt: float, delta: float) -> None:
        """The full model ran on the frame at `t`, `dt` seconds after the last one it saw."""
        self._busy_seconds += dt
        self._ran_t, self._delta = t, delta
        self._nothing_seconds = 0.0 if delta > 0.0 else self._nothing_seconds + dt

    def rested(self) -> None:
        """A frame did not need the full model (the scene is still), or it started over."""
        self._busy_seconds = 0.0
        self._ran_t = None
