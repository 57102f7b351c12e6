"""Motion detectors: small grey image in, delta out (% of the unmasked area changed); no I/O."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from camwatch.config import MotionConfig
from camwatch.frame import Frame, shrink_grey
from camwatch.motion.illumination import Scratch
from camwatch.motion.look import LOOK_WIDTH, FirstLook, coarse_of
from camwatch.motion.mask import MaskCache
from camwatch.motion.model import (
    ABSORB_SECONDS,
    BACKGROUND_SECONDS,
    DEFAULT_FRAME_SECONDS,
    WARMUP_SECONDS,
    BackgroundModel,
    rate_over,
)
from camwatch.motion.pace import BusyPace

DETECT_WIDTH = 320  # motion is judged on a grey copy about this wide
REFRESH_SECONDS = 1.0  # while the first look sees nothing, the full model still runs this often
GLANCE_SECONDS = 0.2  # while it saw nothing, the first look itself runs this often (2nd frame)


class Detector(Protocol):
    """What the recorder and scan need of a detector."""

    def update(self, grey: np.ndarray, t: float | None = None) -> float: ...
    def reset(self) -> None: ...


def frame_delta(
    detector: Detector, frame: Frame, t: float | None = None, luma: np.ndarray | None = None
) -> float:
    """The detector's delta for a captured frame, decoding only what it needs: a
    MotionDetector takes a first look at a 1/8-scale image and skips still frames, and holds
    its delta between runs at the busy pace (pace.BusyPace) without decoding anything. `luma` is
    the frame's full-size grey picture when it was decoded anyway (a camera JPEG being
    recorded): the detection image is then shrunk from it rather than decoded a second time."""

    def detection_image() -> np.ndarray:
        if luma is not None:
            return shrink_grey(luma, DETECT_WIDTH)
        return frame.grey_small(DETECT_WIDTH)

    if isinstance(detector, MotionDetector):
        held = detector.held(t)
        if held is not None:
            return held
        if luma is not None or detector.due(t):  # one image: the look made from it
            grey = detection_image()
            return detector.update_looking(coarse_of(grey), grey, t)
        return detector.update_looking(frame.grey_small(LOOK_WIDTH), detection_image, t)
    return detector.update(detection_image(), t)


class FrameDiffDetector:
    """The plain previous-frame rule: a pixel changed when it moved > pixel_threshold since the
    last frame. Kept as the evaluation's baseline."""

    def __init__(self, settings: MotionConfig) -> None:
        self.settings = settings
        self._previous: np.ndarray | None = None
        self._mask = MaskCache()

    def reset(self) -> None:
        self._previous = None

    def update(self, grey: np.ndarray, t: float | None = None) -> float:
        blurred = cv2.GaussianBlur(grey, (5, 5), 0)
        previous, self._previous = self._previous, blurred
        if previous is None or previous.shape != blurred.shape:
            return 0.0
        self._mask.update(self.settings.mask, blurred.shape[:2])
        difference = cv2.absdiff(blurred, previous)
        _, changed = cv2.threshold(
            difference, self.settings.pixel_threshold, 255, cv2.THRESH_BINARY
        )
        if self._mask.active is not None:
            changed = cv2.bitwise_and(changed, changed, mask=self._mask.active)
        return 100.0 * cv2.countNonZero(changed) / max(1, self._mask.active_count)


class MotionDetector:
    """The full model (model.BackgroundModel) run only when it may see something: a first look
    at a coarse image lets still frames skip it, a busy scene runs it at the busy pace
    (pace.BusyPace). It always sees the whole picture: limited to a region around what the look
    saw change, it learnt the noise and flicker outside from fewer frames than a whole-picture
    run, and an object crossing a grainy scene again and again faded from it, for 0.6-5.8%
    fewer instructions (bench/RESULTS.md, 2026-12-02). `update` runs it on every frame.
    Settings are read on every call, so changes apply live.
    """

    def __init__(self, settings: MotionConfig, scratch: Scratch | None = None) -> None:
        self.settings = settings
        self._scratch = scratch or Scratch()
        self.reset()

    def reset(self) -> None:
        """Forget the scene (after the camera was offline or the picture jumped)."""
        self.model = BackgroundModel(self.settings, self._scratch)
        self._look = FirstLook()
        self._pace = BusyPace()
        self._look_mask: np.ndarray | None = None  # the mask the look was last told about
        self._look_t: float | None = None
        self._unseen_seconds = 0.0  # frame time the full model skipped since it last ran
        self._look_changed = True  # what the first look saw last time
        self.foreground: np.ndarray | None = None  # pixels counted in the last delta (0/255)

    @property
    def steps(self) -> int:
        """Runs of the full model that learnt from a frame since reset()."""
        return self.model.steps

    def update(self, grey: np.ndarray, t: float | None = None) -> float:
        """Delta (0-100) for this frame by the full model on the whole picture; `t` (seconds,
        any origin) scales the adaptation rates."""
        return self._run(grey, t)

    def _run(self, grey: np.ndarray, t: float | None) -> float:
        self.model.settings = self.settings
        delta = self.model.run(grey, t)
        self.foreground = self.model.foreground
        return delta

    def update_looking(
        self,
        coarse: np.ndarray,
        grey: np.ndarray | Callable[[], np.ndarray],
        t: float | None = None,
    ) -> float:
        """Delta for a frame seen first as a coarse image (look.coarse_of, or a camera JPEG's
        1/8-scale decode). `grey` (the detection image, or a function decoding it on demand)
        and the full model are needed only when the first look saw a change, the last frame
        had motion, or the full model last ran REFRESH_SECONDS ago: so the background, noise
        and restlessness stay current, at a lower rate, through a still scene. In a busy scene
        the full model runs at the busy pace, the frames in between hold its delta."""
        held = self.paced(t)
        if held is not None:
            return held
        dt, self._look_t = self._look_elapsed(t), t
        changed = self._look_changed = self._look.changed(coarse, self.settings.pixel_threshold, dt)
        rate_still = rate_over(dt, BACKGROUND_SECONDS)
        if not changed and self._may_skip(dt):
            self._pace.rested()
            self._unseen_seconds += dt
            self._look.learn(rate_still, rate_still, None)
            self.foreground = self.model.nothing
            return 0.0
        # After a still stretch the background catches up on it only if this frame is still
        # too: else what just arrived would be taken in at the rate of the whole stretch.
        self.model.unseen(self._unseen_seconds, not changed)
        self._unseen_seconds = 0.0
        image = grey if isinstance(grey, np.ndarray) else grey()
        delta = self._run(image, t)
        self._pace_after(t, dt, delta)
        if self.model.recalibrated:
            self._look.recalibrate()
        else:
            self._look.learn(rate_still, rate_over(dt, ABSORB_SECONDS), self.model.raw_changed)
        if self.model.mask_active is not self._look_mask:
            self._look_mask = self.model.mask_active
            self._look.ignore(self.model.mask_active)
        return delta

    def _pace_after(self, t: float | None, dt: float, delta: float) -> None:
        """Tell the busy pace the full model ran; a run that only learnt (warming up, or the
        lighting changed and the model started over) does not make the scene busy."""
        if self.model.recalibrated or self.model.seconds < WARMUP_SECONDS:
            self._pace.rested()
        else:
            self._pace.ran(t, dt, delta)

    def paced(self, t: float | None) -> float | None:
        """The delta of the frame at `t` when the busy pace holds it (update_looking would
        return it without looking at the frame), else None."""
        return self._pace.held(t)

    def held(self, t: float | None) -> float | None:
        """The delta of the frame at `t` when it may pass without being looked at (None: it
        must be looked at): 0 while the scene is still (_unseen), the last delta at the busy
        pace."""
        return 0.0 if self._unseen(t) else self.paced(t)

    def _unseen(self, t: float | None) -> bool:
        """Whether the frame at `t` may pass without even a first look (delta 0): the scene
        was still at the last look, less than GLANCE_SECONDS ago."""
        resting = (
            t is not None
            and self._look_t is not None
            and t - self._look_t < GLANCE_SECONDS - 0.01  # at 10 fps, every other frame
            and not self._look_changed
            and self.model.moving == 0
            and self.model.seconds >= WARMUP_SECONDS
        )
        if resting:
            self.foreground = self.model.nothing
        return resting

    def due(self, t: float | None = None) -> bool:
        """Whether the full model will run on the frame at `t` whatever the first look sees, or
        probably will (the look saw a change last time): then decoding the detection image
        first, and the look from it, saves a decode."""
        return self._look_changed or not self._may_skip(self._look_elapsed(t))

    def _look_elapsed(self, t: float | None) -> float:
        if t is None or self._look_t is None:
            return DEFAULT_FRAME_SECONDS
        return min(2.0, max(0.01, t - self._look_t))

    def _may_skip(self, dt: float) -> bool:
        return (
            self.model.ready
            and self.model.seconds >= WARMUP_SECONDS
            and self.model.moving == 0
            and self._unseen_seconds + dt < REFRESH_SECONDS
        )
