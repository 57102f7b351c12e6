"""The full motion model: a frame against a background learnt per pixel, after undoing lighting."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from camwatch.config import MotionConfig
from camwatch.motion.blobs import Blobs, Box, SetPixels, bounding_box, without_solid_blobs
from camwatch.motion.illumination import (
    CLIPPED_SHARE,
    SAMPLE_STRIDE,
    SATURATED,
    Scratch,
    gain_map,
    magnitude_median,
    residual,
    texture_limit,
)
from camwatch.motion.mask import MaskCache

DEFAULT_FRAME_SECONDS = 0.1  # assumed time between frames when update() is given no times
WARMUP_SECONDS = 1.0  # after reset() delta stays 0 while noise and flicker are learnt
BACKGROUND_SECONDS = 2.0  # how fast the background follows the scene where nothing moves
ABSORB_SECONDS = 15.0  # how fast the background takes in what keeps changing there
STATIONARY_SECONDS = 4.0  # a change that stays the same this long becomes background
NOISE_SECONDS = 10.0  # memory of each pixel's frame-to-frame variation (noise, foliage)
GLOBAL_NOISE_SECONDS = 1.0  # memory of the picture's overall noise level
NOISE_FACTOR = 3.0  # a pixel changed when |change| > this x its frame-to-frame spread
PRIOR_STEPS = 20  # per-pixel averages start as if this many frames showed noise only
STEP_CAP = 2.5  # x pixel_threshold: the largest step a pixel's noise learns from
FLIP_SECONDS = 30.0  # memory of how often each pixel flips between changed and not
FREE_FLIPS_PER_SECOND = 0.2  # flipping up to this often (people passing by) costs nothing
FLIPS_PER_STEP = 0.2  # each further this many flips a second raises the limit by 1x
LIGHTSWITCH_FRACTION = 0.4  # more of the picture than this changed at once: a lighting change
MIN_BLOB_FRACTION = 0.0005  # smaller blobs of change (0.05% of the picture) do not count
SURE_BLOB_FRACTION = 0.003  # smaller blobs (0.3%) count only when seen in two frames in a row
TOUCH_SECONDS = 0.1  # ... touching the last run's changes grown 1 px for each this long since
TOUCH_PIXELS = 2  # ... up to this far (a small far figure walks about 1 px in 0.1 s)
_SQUARE = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


class BackgroundModel:
    """Compares each frame with a background model, after undoing lighting changes.

    - The background is a running average that follows the scene in about BACKGROUND_SECONDS
      where nothing moves, and absorbs things that arrive and stay in about ABSORB_SECONDS: a
      slow or uniform object is seen whole, not just its moving edges.
    - Lighting (lights, exposure, flicker, clouds, dusk) is undone first with a smooth gain map,
      estimated away from what moved and from cells whose pattern is not the background's
      (a patterned object would pass for lighting); when even so more than
      LIGHTSWITCH_FRACTION of the picture changed, the background is recalibrated to the frame
      and the frame counts as still.
    - A pixel changed when it differs from the background by more than pixel_threshold and by
      more than NOISE_FACTOR times its typical frame-to-frame variation (sensor noise), learnt
      per pixel and for the picture; pixels that keep flipping between changed and not (swaying
      foliage) need proportionally bigger changes.
    - Specks and thin lines are removed (3x3 opening), then blobs smaller than
      MIN_BLOB_FRACTION of the picture, and small blobs seen in one frame only (rain, snow).
      Delta is the percentage of unmasked pixels left.
    Settings are read on every call, so changes apply live.
    """

    def __init__(self, settings: MotionConfig, scratch: Scratch) -> None:
        self.settings = settings
        self._scratch = scratch
        self._mask = MaskCache()
        self._catch_up = 0.0  # of the next run's elapsed time, what the model did not see
        self._catch_up_background = True  # whether the still background learns from all of it
        self._moving = 0  # pixels counted in the last delta
        self._recalibrated = False
        self._nothing = np.zeros((0, 0), np.uint8)  # an empty foreground for skipped frames
        self._background: np.ndarray | None = None
        self._clipped_share: np.ndarray | None = None  # how much of each pixel came from clipping
        self._ever_clipped = False  # whether _clipped_share holds anything but zeros
        self._static_seconds: np.ndarray | None = None  # how long each changed pixel stayed put
        self._static = np.zeros(0, np.intp)  # flat indices where _static_seconds may be non-zero
        self._previous: np.ndarray | None = None  # the last frame under background lighting
        self._variation: np.ndarray | None = None  # per pixel: mean squared frame-to-frame step
        self._global_variation = 0.0
        self._flip_rate: np.ndarray | None = None  # per pixel: changed/unchanged flips a second
        self._ever_flipped = False  # whether _flip_rate holds anything but zeros
        self._flickering = np.zeros((0, 0), np.uint8)  # last frame's changes outside solid blobs
        self._raw_changed = np.zeros((0, 0), np.uint8)
        self._changed = np.zeros((0, 0), np.uint8)
        self._last_t: float | None = None
        self._steps = 0
        self._seconds = 0.0  # learning time since reset()
        self.foreground: np.ndarray | None = None  # pixels counted in the last delta (0/255)

    @property
    def ready(self) -> bool:
        """Whether a background was learnt (a frame was seen)."""
        return self._background is not None

    @property
    def background(self) -> np.ndarray | None:
        return self._background

    @property
    def steps(self) -> int:
        """Runs that learnt from a frame."""
        return self._steps

    @property
    def seconds(self) -> float:
        """Learning time."""
        return self._seconds

    @property
    def moving(self) -> int:
        """Pixels counted in the last delta."""
        return self._moving

    @property
    def recalibrated(self) -> bool:
        """Whether the last run took the frame as the new background."""
        return self._recalibrated

    @property
    def raw_changed(self) -> np.ndarray:
        """The last run's pixels beyond the noise limits (0/255 of the picture)."""
        return self._raw_changed

    @property
    def mask_active(self) -> np.ndarray | None:
        """The detection mask in use (0 where masked; None: none)."""
        return self._mask.active

    @property
    def nothing(self) -> np.ndarray:
        """An empty foreground of the picture's size."""
        return self._nothing

    def unseen(self, seconds: float, background_too: bool) -> None:
        """Of the next run's elapsed time, the first look saw nothing change for `seconds`;
        whether the still background learns from all of it (`background_too`)."""
        self._catch_up, self._catch_up_background = seconds, background_too

    def run(self, grey: np.ndarray, t: float | None) -> float:
        """Delta (0-100) for this frame; `t` (seconds, any origin) scales the adaptation rates."""
        blurred = cv2.GaussianBlur(grey, (5, 5), 0)
        dt = self._elapsed(t)
        self._recalibrated = False
        if self._background is None or self._background.shape != blurred.shape:
            self._recalibrate(blurred.astype(np.float32))
            return 0.0
        self._mask.update(self.settings.mask, blurred.shape[:2])
        frame_clipped, background_clipped = self._clipping(blurred)
        active = self._mask.active
        unusable = _either(
            frame_clipped, background_clipped, None if active is None else active == 0
        )
        limit = texture_limit(self.settings.pixel_threshold, self._global_variation)
        last = self._raw_changed
        gain = gain_map(blurred, self._background, unusable, last, self._scratch, limit)
        # The frame stays uint8: accumulateWeighted and numpy take it as they take its float copy
        # (the same IEEE results), and a 300 KB float copy is one pass of memory traffic more.
        relit, difference = residual(
            blurred, self._background, gain, frame_clipped, background_clipped, self._scratch
        )
        raw, changed, pixels = self._classify(difference, active)
        if pixels.count > LIGHTSWITCH_FRACTION * self._mask.active_count:
            self._recalibrate(blurred.astype(np.float32))
            return 0.0
        skipped, self._catch_up = min(self._catch_up, max(0.0, dt - 0.01)), 0.0
        background_dt = dt if self._catch_up_background else dt - skipped
        learnt = _Learnt(blurred, relit, raw, pixels)
        self._learn(learnt, frame_clipped, dt, skipped, background_dt)
        moving = self._moving = self._count_moving(changed, pixels.within(changed), dt)
        if self._seconds < WARMUP_SECONDS:
            return 0.0
        return 100.0 * moving / max(1, self._mask.active_count)

    def _clipping(self, blurred: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Boolean images (None: nowhere) of pixels that may be clipped at white in the frame
        (`blurred`: uint8), and of background pixels learnt largely from such frames."""
        level = np.uint8(math.ceil(SATURATED))  # an integer comparison: no float64 temporary
        frame_clipped = blurred >= level if cv2.minMaxLoc(blurred)[1] >= level else None
        share = self._clipped_share
        background_clipped = (
            share > CLIPPED_SHARE
            if share is not None and self._ever_clipped and cv2.minMaxLoc(share)[1] > CLIPPED_SHARE
            else None
        )
        return frame_clipped, background_clipped

    def _elapsed(self, t: float | None) -> float:
        last, self._last_t = self._last_t, t
        if t is None or last is None:
            return DEFAULT_FRAME_SECONDS
        return min(2.0, max(0.01, t - last))

    def _recalibrate(self, frame: np.ndarray) -> None:
        self._recalibrated, self._moving = True, 0
        self._nothing = np.zeros(frame.shape, np.uint8)
        self._background, self._previous = frame.copy(), frame.copy()
        self._clipped_share = (frame >= SATURATED).astype(np.float32)
        self._ever_clipped = cv2.countNonZero(self._clipped_share) > 0
        self._raw_changed = self._changed = np.zeros(frame.shape, np.uint8)
        self.foreground = self._changed

    def _classify(
        self, difference: np.ndarray, active: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, SetPixels]:
        """(raw, changed, raw's pixels): 0/255 images of pixels beyond the noise limits, and
        also beyond the flip limit (restless pixels) opened to drop specks; and raw's set pixels
        (what moved is usually a small part of the picture, so the work that only matters
        there is done there)."""
        # In place where possible: at this size memory traffic, not arithmetic, is the cost.
        floor = max(
            float(self.settings.pixel_threshold) ** 2, NOISE_FACTOR**2 * self._global_variation
        )
        # squared > max(limit, floor) as (squared > floor ? squared : 0) > limit, which holds
        # because limit >= 0: one threshold pass instead of a maximum and its temporary.
        shape = difference.shape
        limit = self._scratch.image("limit", shape)
        if self._variation is not None:
            np.multiply(self._variation, np.float32(NOISE_FACTOR**2), out=limit)
        else:
            limit.fill(0.0)
        squared = cv2.multiply(difference, difference, dst=self._scratch.image("squared", shape))
        cv2.threshold(squared, floor, 0.0, cv2.THRESH_TOZERO, dst=squared)
        raw = cv2.compare(squared, limit, cv2.CMP_GT)
        if active is not None:
            raw = cv2.bitwise_and(raw, raw, mask=active)
        box = bounding_box(raw)
        pixels = SetPixels.of(raw, box)
        where = pixels.flat
        changed = raw
        flip_rate = self._flip_rate
        factor = None
        if where.size and flip_rate is not None and self._ever_flipped:
            factor = flip_rate.ravel()[where] - np.float32(FREE_FLIPS_PER_SECOND)
        # Pixels of raw flipping no more than freely are judged by max(limit, floor), which
        # raw's already are: only a restless pixel of raw may drop out.
        if factor is not None and factor.max() > 0.0:
            np.maximum(factor, np.float32(0.0), out=factor)
            factor *= np.float32(1.0 / FLIPS_PER_STEP)
            factor += np.float32(1.0)
            strict = np.maximum(limit.ravel()[where], np.float32(floor))
            strict *= factor
            strict *= factor
            changed = raw.copy()
            changed.ravel()[where[~(squared.ravel()[where] > strict)]] = 0
        return raw, _opened(changed, box), pixels

    def _count_moving(self, changed: np.ndarray, pixels: SetPixels, dt: float) -> int:
        """Changed pixels in blobs of at least MIN_BLOB_FRACTION of the picture; blobs smaller
        than SURE_BLOB_FRACTION count only if they touch the changes of the run `dt` before
        (rain, snow and flashes come and go; small things people care about move a little at
        a time: further between the busy pace's runs, which a 1 px reach lost a far figure
        to)."""
        previous, self._changed = self._changed, changed
        self.foreground = self._changed
        if pixels.count == 0:
            return 0
        blobs = Blobs(changed, pixels)
        areas, picture = blobs.areas, changed.size
        keep = areas >= MIN_BLOB_FRACTION * picture
        small = keep & (areas < SURE_BLOB_FRACTION * picture)
        if small.any():
            reach = min(TOUCH_PIXELS, max(1, round(dt / TOUCH_SECONDS)))
            keep &= ~small | blobs.touched(_grown(previous, pixels.box, reach))
        if not keep.all():
            self.foreground = blobs.select(keep)
        return int(areas[keep].sum())

    def _learn(
        self,
        learnt: _Learnt,
        frame_clipped: np.ndarray | None,
        dt: float,
        skipped: float = 0.0,
        background_dt: float | None = None,
    ) -> None:
        """Update noise, restlessness and background with this frame. Of the `dt` seconds
        since the model last ran, the first look saw nothing change for `skipped`:
        what changed is taken in, counted static and its flips judged over the last frame
        only; the still background learns over `background_dt` (default: all of dt)."""
        assert self._background is not None and self._previous is not None
        self._steps += 1
        self._seconds += dt
        seen = dt - skipped
        where, shape = learnt.pixels.flat, learnt.relit.shape
        step: np.ndarray = cv2.subtract(
            learnt.relit, self._previous, dst=self._scratch.image("step", shape)
        )
        # The relit frame becomes the previous one, its memory the scratch's next "relit" image.
        spare, self._previous = self._previous, learnt.relit
        self._scratch.keep("relit", spare)
        step_squared: np.ndarray = cv2.multiply(
            step, step, dst=self._scratch.image("step_squared", shape)
        )
        steady = step_squared.ravel()[where] <= np.float32(self.settings.pixel_threshold) ** 2
        self._learn_noise(step, step_squared, seen)
        self._learn_flips(learnt.raw, learnt.pixels, skipped, seen)
        # Clipping is rare: while the picture never clipped, the share stays all zeros.
        clipped = None
        if frame_clipped is not None or self._ever_clipped:
            # 0/1 as uint8 without a copy: accumulateWeighted takes it as it takes floats
            clipped = frame_clipped.view(np.uint8) if frame_clipped is not None else self._nothing
            self._ever_clipped = True
        assert self._clipped_share is not None
        rate_still = rate_over(dt if background_dt is None else background_dt, BACKGROUND_SECONDS)
        # Nothing changed (a still scene): one unmasked pass, as the masked pair would give;
        # what changed lies in raw's bounding box, which alone its pass need cover.
        x, y, width, height = learnt.pixels.box
        whole, inside = (slice(None), slice(None)), (slice(y, y + height), slice(x, x + width))
        areas = (
            [(rate_still, None, whole)]
            if where.size == 0
            else [
                (rate_still, cv2.bitwise_not(learnt.raw), whole),
                (rate_over(seen, ABSORB_SECONDS), learnt.raw[inside], inside),
            ]
        )
        for rate, area, part in areas:
            cv2.accumulateWeighted(learnt.frame[part], self._background[part], rate, area)
            if clipped is not None:
                cv2.accumulateWeighted(clipped[part], self._clipped_share[part], rate, area)
        self._absorb_stationary(learnt, clipped, steady, seen)

    def _absorb_stationary(
        self, learnt: _Learnt, clipped: np.ndarray | None, steady: np.ndarray, dt: float
    ) -> None:
        """Changed pixels that have not changed from frame to frame (`steady`, of `where`) for
        STATIONARY_SECONDS (something that arrived and stopped, or the place something left)
        become background."""
        static = learnt.pixels.flat[steady]
        shape = learnt.frame.shape
        seconds = self._static_seconds
        if seconds is None or seconds.shape != shape:
            seconds = self._static_seconds = np.zeros(shape, np.float32)
            self._static = static[:0]
        flat = seconds.ravel()
        kept = flat[static] + np.float32(dt)
        flat[self._static] = 0.0  # only static pixels keep counting
        flat[static] = kept
        self._static = static
        if kept.size and kept.max() >= STATIONARY_SECONDS:
            done = kept >= STATIONARY_SECONDS
            stationary = static[done]
            assert self._background is not None and self._clipped_share is not None
            self._background.ravel()[stationary] = learnt.frame.ravel()[stationary]
            if clipped is not None:
                self._clipped_share.ravel()[stationary] = clipped.ravel()[stationary]
            flat[stationary] = 0.0

    def _learn_noise(self, step: np.ndarray, step_squared: np.ndarray, dt: float) -> None:
        """The picture's and each pixel's typical frame-to-frame step (robust, capped), learnt
        over `dt`. Caps `step_squared` in place."""
        sample = step[::SAMPLE_STRIDE, ::SAMPLE_STRIDE]
        noise_now = float((1.4826 * magnitude_median(np.abs(sample).ravel())) ** 2)
        rate = max(rate_over(dt, GLOBAL_NOISE_SECONDS), 1.0 / self._steps)
        self._global_variation += rate * (noise_now - self._global_variation)
        cap = STEP_CAP * self.settings.pixel_threshold  # one passing object must not deafen
        squared = cv2.threshold(step_squared, cap * cap, 0.0, cv2.THRESH_TRUNC, dst=step_squared)[1]
        if self._variation is None or self._variation.shape != squared.shape:
            self._variation = np.full(squared.shape, noise_now, np.float32)
        cv2.accumulateWeighted(squared, self._variation, self._prior_rate(dt, NOISE_SECONDS))

    def _learn_flips(self, raw: np.ndarray, pixels: SetPixels, skipped: float, dt: float) -> None:
        """How often each pixel flips between changed and not (`raw`, its set `pixels`) per
        second, learnt over `dt` (no flips in the `skipped` seconds before the last frame)."""
        shape = raw.shape
        if self._flip_rate is None or self._flip_rate.shape != shape:
            self._flip_rate, self._ever_flipped = np.zeros(shape, np.float32), False
        elif skipped > 0.0:
            self._flip_rate *= np.float32(1.0 - rate_over(skipped, FLIP_SECONDS))
        flickering = without_solid_blobs(raw, pixels)
        if self._flickering.shape == shape:
            toggled = cv2.bitwise_xor(flickering, self._flickering)
            # While nothing ever flipped the rates stay all zeros: no float passes for them.
            if self._ever_flipped or cv2.countNonZero(toggled):
                self._ever_flipped = True
                flips = np.multiply(  # flips a second
                    toggled,
                    np.float32(1.0 / (255.0 * dt)),
                    out=self._scratch.image("flips", shape),
                    dtype=np.float32,
                )
                rate = self._prior_rate(dt, FLIP_SECONDS)
                cv2.accumulateWeighted(flips, self._flip_rate, rate)
        self._flickering = flickering
        self._raw_changed = raw

    def _prior_rate(self, dt: float, seconds: float) -> float:
        """Averaging weight that starts as if PRIOR_STEPS frames had been seen."""
        return max(rate_over(dt, seconds), 1.0 / (self._steps + PRIOR_STEPS))


@dataclass
class _Learnt:
    """What the model learns from after classifying a frame."""

    frame: np.ndarray  # the blurred frame (uint8)
    relit: np.ndarray  # under the background's lighting
    raw: np.ndarray  # 0/255: beyond the noise limits
    pixels: SetPixels  # raw's set pixels


def _opened(changed: np.ndarray, box: Box) -> np.ndarray:
    """`changed` opened with a 3x3 square, inside `box` (what holds its set pixels) grown by
    1 px: the same image as opening all of it, for a fraction of the work."""
    opened = np.zeros_like(changed)
    if box[2]:
        around = _around(box, 1)
        cv2.morphologyEx(changed[around], cv2.MORPH_OPEN, _SQUARE, dst=opened[around])
    return opened


def _grown(image: np.ndarray, box: Box, reach: int) -> np.ndarray:
    """`image` (0/255) dilated `reach` times with a 3x3 square, right inside `box` (zeros
    elsewhere): what it is read for there needs only the pixels `reach` around the box."""
    grown = np.zeros_like(image)
    if box[2]:
        around = _around(box, reach)
        cv2.dilate(image[around], _SQUARE, dst=grown[around], iterations=reach)
    return grown


def _around(box: Box, reach: int) -> tuple[slice, slice]:
    """The rows and columns of `box` grown by `reach` px (slicing clips them to the image)."""
    x, y, width, height = box
    return (
        slice(max(0, y - reach), y + height + reach),
        slice(max(0, x - reach), x + width + reach),
    )


def _either(*masks: np.ndarray | None) -> np.ndarray | None:
    """The union of boolean images, skipping None (None when all are)."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    union = present[0].copy()
    for mask in present[1:]:
        union |= mask
    return union


def rate_over(dt: float, seconds: float) -> float:
    """The per-frame weight of an exponential average with time constant `seconds`."""
    return 1.0 - math.exp(-dt / seconds)
