"""Motion detectors: small grey image in, delta out (% of the unmasked area changed); no I/O."""

from __future__ import annotations

import math
from typing import Protocol

import cv2
import numpy as np

from camwatch.config import MotionConfig
from camwatch.illumination import SAMPLE_STRIDE, gain_map, relight
from camwatch.motion_mask import MaskCache

DETECT_WIDTH = 320  # motion is judged on a grey copy about this wide

DEFAULT_FRAME_SECONDS = 0.1  # assumed time between frames when update() is given no times
BACKGROUND_SECONDS = 2.0     # how fast the background follows the scene where nothing moves
ABSORB_SECONDS = 8.0         # how fast something that arrived and stays becomes background
NOISE_SECONDS = 10.0         # memory of each pixel's frame-to-frame variation (noise, foliage)
GLOBAL_NOISE_SECONDS = 1.0   # memory of the picture's overall noise level
NOISE_FACTOR = 3.0           # a pixel changed when |change| > this x its frame-to-frame spread
LIGHTSWITCH_FRACTION = 0.4   # more of the picture than this changed at once: a lighting change
_OPEN = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


class Detector(Protocol):
    """What the recorder and scan need of a detector."""

    def update(self, grey: np.ndarray, t: float | None = None) -> float: ...
    def reset(self) -> None: ...


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
        _, changed = cv2.threshold(difference, self.settings.pixel_threshold, 255,
                                   cv2.THRESH_BINARY)
        if self._mask.active is not None:
            changed = cv2.bitwise_and(changed, changed, mask=self._mask.active)
        return 100.0 * cv2.countNonZero(changed) / max(1, self._mask.active_count)


class MotionDetector:
    """Compares each frame with a background model, after undoing lighting changes.

    - The background is a running average that follows the scene in about BACKGROUND_SECONDS
      where nothing moves, and absorbs things that arrive and stay in about ABSORB_SECONDS: a
      slow or uniform object is seen whole, not just its moving edges.
    - Lighting (lights, exposure, flicker, clouds, dusk) is undone first with a smooth gain map;
      when even so more than LIGHTSWITCH_FRACTION of the picture changed, the background is
      recalibrated to the frame and the frame counts as still.
    - A pixel changed when it differs from the background by more than pixel_threshold and by
      more than NOISE_FACTOR times its own typical frame-to-frame variation (sensor noise in the
      dark, swaying foliage, rain), which is learnt per pixel.
    - Specks are removed (3x3 opening), and only changes that overlap the previous frame's count,
      so one-frame flashes and raindrops do not; delta is the percentage of unmasked pixels left.
    Settings are read on every call, so changes apply live.
    """

    def __init__(self, settings: MotionConfig) -> None:
        self.settings = settings
        self._mask = MaskCache()
        self.reset()

    def reset(self) -> None:
        """Forget the scene (after the camera was offline or the picture jumped)."""
        self._background: np.ndarray | None = None
        self._previous: np.ndarray | None = None  # the last frame under background lighting
        self._variation: np.ndarray | None = None  # per pixel: mean squared frame-to-frame step
        self._global_variation = 0.0
        self._moving = np.zeros((0, 0), np.uint8)
        self._last_t: float | None = None
        self._frames = 0
        self.foreground: np.ndarray | None = None  # the last changed-pixel image (0/255)

    def update(self, grey: np.ndarray, t: float | None = None) -> float:
        """Delta (0-100) for this frame; `t` (seconds, any origin) scales the adaptation rates."""
        frame = cv2.GaussianBlur(grey, (5, 5), 0).astype(np.float32)
        dt = self._elapsed(t)
        if self._background is None or self._background.shape != frame.shape:
            self._recalibrate(frame)
            return 0.0
        self._mask.update(self.settings.mask, frame.shape[:2])
        active = self._mask.active
        relit = relight(frame, gain_map(frame, self._background, active))
        changed = self._changed(relit - self._background, active)
        if cv2.countNonZero(changed) > LIGHTSWITCH_FRACTION * self._mask.active_count:
            self._recalibrate(frame)
            return 0.0
        if self._previous is not None:
            self._learn_variation(relit - self._previous, dt)
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, _OPEN)
        persistent = cv2.bitwise_and(changed, cv2.dilate(self._moving, _OPEN))
        self._moving, self.foreground = changed, changed
        self._learn_background(frame, changed, dt)
        self._previous = relit
        return 100.0 * cv2.countNonZero(persistent) / max(1, self._mask.active_count)

    def _elapsed(self, t: float | None) -> float:
        last, self._last_t = self._last_t, t
        if t is None or last is None:
            return DEFAULT_FRAME_SECONDS
        return min(2.0, max(0.01, t - last))

    def _recalibrate(self, frame: np.ndarray) -> None:
        self._background, self._previous = frame.copy(), frame
        self._moving = np.zeros(frame.shape, np.uint8)
        self.foreground = self._moving

    def _learn_variation(self, step: np.ndarray, dt: float) -> None:
        """Track each pixel's typical frame-to-frame step, and the picture's, robustly."""
        self._frames += 1
        sample = step[::SAMPLE_STRIDE, ::SAMPLE_STRIDE]
        global_now = float((1.4826 * np.median(np.abs(sample))) ** 2)
        rate = max(_rate(dt, GLOBAL_NOISE_SECONDS), 1.0 / self._frames)
        self._global_variation += rate * (global_now - self._global_variation)
        cap = 2.5 * self.settings.pixel_threshold  # one passing object must not deafen a pixel
        squared = np.minimum(step * step, cap * cap)
        if self._variation is None or self._variation.shape != step.shape:
            self._variation = np.full(step.shape, global_now, np.float32)
        rate = max(_rate(dt, NOISE_SECONDS), 1.0 / self._frames)
        cv2.accumulateWeighted(squared, self._variation, rate)

    def _changed(self, residual: np.ndarray, active: np.ndarray | None) -> np.ndarray:
        """0/255 image of pixels that differ from the background by more than their limits."""
        floor = float(self.settings.pixel_threshold) ** 2
        limit = NOISE_FACTOR ** 2 * max(self._global_variation, 0.0)
        if self._variation is not None:
            limit = np.maximum(self._variation * NOISE_FACTOR ** 2, limit)
        limit = np.maximum(limit, floor)
        changed = ((residual * residual) > limit).astype(np.uint8) * 255
        if active is not None:
            changed = cv2.bitwise_and(changed, changed, mask=active)
        return changed

    def _learn_background(self, frame: np.ndarray, changed: np.ndarray, dt: float) -> None:
        assert self._background is not None
        still = cv2.bitwise_not(changed)
        cv2.accumulateWeighted(frame, self._background, _rate(dt, BACKGROUND_SECONDS), still)
        cv2.accumulateWeighted(frame, self._background, _rate(dt, ABSORB_SECONDS), changed)


def _rate(dt: float, seconds: float) -> float:
    """The per-frame weight of an exponential average with time constant `seconds`."""
    return 1.0 - math.exp(-dt / seconds)
