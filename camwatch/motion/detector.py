"""Motion detectors: small grey image in, delta out (% of the unmasked area changed); no I/O."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from camwatch.config import MotionConfig
from camwatch.frame import Frame, shrink_grey
from camwatch.motion.illumination import (
    CLIPPED_SHARE,
    SAMPLE_STRIDE,
    SATURATED,
    Scratch,
    gain_map,
    magnitude_median,
    residual,
)
from camwatch.motion.look import LOOK_WIDTH, FirstLook, coarse_of
from camwatch.motion.mask import MaskCache
from camwatch.motion.pace import BusyPace

DETECT_WIDTH = 320  # motion is judged on a grey copy about this wide

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
SOLID_BLOB_FRACTION = 0.01  # blobs this large (1% of the picture) are things passing by: their
# coming and going does not count as restlessness
REFRESH_SECONDS = 1.0  # while the first look sees nothing, the full model still runs this often
GLANCE_SECONDS = 0.2  # while it saw nothing, the first look itself runs this often (2nd frame)
LIGHTSWITCH_FRACTION = 0.4  # more of the picture than this changed at once: a lighting change
MIN_BLOB_FRACTION = 0.0005  # smaller blobs of change (0.05% of the picture) do not count
SURE_BLOB_FRACTION = 0.003  # smaller blobs (0.3%) count only when seen in two frames in a row
_SQUARE = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))


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
    """Compares each frame with a background model, after undoing lighting changes.

    - The background is a running average that follows the scene in about BACKGROUND_SECONDS
      where nothing moves, and absorbs things that arrive and stay in about ABSORB_SECONDS: a
      slow or uniform object is seen whole, not just its moving edges.
    - Lighting (lights, exposure, flicker, clouds, dusk) is undone first with a smooth gain map;
      when even so more than LIGHTSWITCH_FRACTION of the picture changed, the background is
      recalibrated to the frame and the frame counts as still.
    - A pixel changed when it differs from the background by more than pixel_threshold and by
      more than NOISE_FACTOR times its typical frame-to-frame variation (sensor noise), learnt
      per pixel and for the picture; pixels that keep flipping between changed and not (swaying
      foliage) need proportionally bigger changes.
    - Specks and thin lines are removed (3x3 opening), then blobs smaller than
      MIN_BLOB_FRACTION of the picture, and small blobs seen in one frame only (rain, snow).
      Delta is the percentage of unmasked pixels left.
    Settings are read on every call, so changes apply live.
    """

    def __init__(self, settings: MotionConfig, scratch: Scratch | None = None) -> None:
        self.settings = settings
        self._mask = MaskCache()
        self._scratch = scratch or Scratch()
        self.reset()

    def reset(self) -> None:
        """Forget the scene (after the camera was offline or the picture jumped)."""
        self._look = FirstLook()
        self._pace = BusyPace()
        self._look_mask: np.ndarray | None = None  # the mask the look was last told about
        self._look_t: float | None = None
        self._unseen_seconds = 0.0  # frame time the full model skipped since it last ran
        self._catch_up = 0.0  # of the next update's elapsed time, what the model did not see
        self._catch_up_background = True  # whether the still background learns from all of it
        self._moving = 0  # pixels counted in the full model's last delta
        self._look_changed = True  # what the first look saw last time
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
        held = self._pace.held(t)
        if held is not None:
            return held
        dt, self._look_t = self._look_elapsed(t), t
        changed = self._look_changed = self._look.changed(coarse, self.settings.pixel_threshold, dt)
        rate_still = _rate(dt, BACKGROUND_SECONDS)
        if not changed and self._may_skip(dt):
            self._pace.rested()
            self._unseen_seconds += dt
            self._look.learn(rate_still, rate_still, None)
            self.foreground = self._nothing
            return 0.0
        # After a still stretch the background catches up on it only if this frame is still
        # too: else what just arrived would be taken in at the rate of the whole stretch.
        self._catch_up, self._catch_up_background = self._unseen_seconds, not changed
        self._unseen_seconds = 0.0
        delta = self.update(grey if isinstance(grey, np.ndarray) else grey(), t)
        self._pace_after(t, dt, delta)
        if self._recalibrated:
            self._look.recalibrate()
        else:
            self._look.learn(rate_still, _rate(dt, ABSORB_SECONDS), self._raw_changed)
        if self._mask.active is not self._look_mask:
            self._look_mask = self._mask.active
            self._look.ignore(self._mask.active)
        return delta

    def _pace_after(self, t: float | None, dt: float, delta: float) -> None:
        """Tell the busy pace the full model ran; a run that only learnt (warming up, or the
        lighting changed and the model started over) does not make the scene busy."""
        if self._recalibrated or self._seconds < WARMUP_SECONDS:
            self._pace.rested()
        else:
            self._pace.ran(t, dt, delta)

    def held(self, t: float | None) -> float | None:
        """The delta of the frame at `t` when it may pass without being looked at (None: it
        must be looked at): 0 while the scene is still (_unseen), the last delta at the busy
        pace."""
        return 0.0 if self._unseen(t) else self._pace.held(t)

    def _unseen(self, t: float | None) -> bool:
        """Whether the frame at `t` may pass without even a first look (delta 0): the scene
        was still at the last look, less than GLANCE_SECONDS ago."""
        resting = (
            t is not None
            and self._look_t is not None
            and t - self._look_t < GLANCE_SECONDS - 0.01  # at 10 fps, every other frame
            and not self._look_changed
            and self._moving == 0
            and self._seconds >= WARMUP_SECONDS
        )
        if resting:
            self.foreground = self._nothing
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
            self._background is not None
            and self._seconds >= WARMUP_SECONDS
            and self._moving == 0
            and self._unseen_seconds + dt < REFRESH_SECONDS
        )

    def update(self, grey: np.ndarray, t: float | None = None) -> float:
        """Delta (0-100) for this frame; `t` (seconds, any origin) scales the adaptation rates."""
        blurred = cv2.GaussianBlur(grey, (5, 5), 0)
        frame = self._scratch.image("frame", blurred.shape)
        np.copyto(frame, blurred)
        dt = self._elapsed(t)
        self._recalibrated = False
        if self._background is None or self._background.shape != frame.shape:
            self._recalibrate(frame)
            return 0.0
        self._mask.update(self.settings.mask, frame.shape[:2])
        active = self._mask.active
        frame_clipped, background_clipped = self._clipping(blurred)
        unusable = _either(
            frame_clipped, background_clipped, None if active is None else active == 0
        )
        gain = gain_map(blurred, self._background, unusable, self._raw_changed, self._scratch)
        relit, difference = residual(
            frame, self._background, gain, frame_clipped, background_clipped, self._scratch
        )
        raw, changed, where = self._classify(difference, active)
        if where.size > LIGHTSWITCH_FRACTION * self._mask.active_count:
            self._recalibrate(frame)
            return 0.0
        skipped, self._catch_up = min(self._catch_up, max(0.0, dt - 0.01)), 0.0
        background_dt = dt if self._catch_up_background else dt - skipped
        self._learn(frame, relit, raw, where, frame_clipped, dt, skipped, background_dt)
        moving = self._moving = self._count_moving(changed)
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
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw, changed, where): 0/255 images of pixels beyond the noise limits, and also
        beyond the flip limit (restless pixels) opened to drop specks; and the flat indices
        of raw's pixels (what moved is usually a small part of the picture, so the work that
        only matters there is done there)."""
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
        where = _flat_nonzero(raw)
        changed = raw
        flip_rate = self._flip_rate
        if (
            where.size
            and flip_rate is not None
            and self._ever_flipped
            and cv2.minMaxLoc(flip_rate)[1] > FREE_FLIPS_PER_SECOND
        ):
            factor = flip_rate.ravel()[where] - np.float32(FREE_FLIPS_PER_SECOND)
            np.maximum(factor, np.float32(0.0), out=factor)
            factor *= np.float32(1.0 / FLIPS_PER_STEP)
            factor += np.float32(1.0)
            strict = np.maximum(limit.ravel()[where], np.float32(floor))
            strict *= factor
            strict *= factor
            changed = raw.copy()
            changed.ravel()[where[~(squared.ravel()[where] > strict)]] = 0
        return raw, cv2.morphologyEx(changed, cv2.MORPH_OPEN, _SQUARE), where

    def _count_moving(self, changed: np.ndarray) -> int:
        """Changed pixels in blobs of at least MIN_BLOB_FRACTION of the picture; blobs smaller
        than SURE_BLOB_FRACTION count only if they touch the previous frame's changes (rain,
        snow and flashes come and go; small things people care about move a little at a time)."""
        previous, self._changed = self._changed, changed
        self.foreground = changed
        if cv2.countNonZero(changed) == 0:
            return 0
        blobs = _Blobs(changed)
        areas = blobs.areas
        keep = areas >= MIN_BLOB_FRACTION * changed.size
        small = keep & (areas < SURE_BLOB_FRACTION * changed.size)
        if small.any():
            touching = cv2.bitwise_and(changed, cv2.dilate(previous, _SQUARE))
            keep &= ~small | blobs.touched(touching)
        self.foreground = changed if keep.all() else blobs.select(keep)
        return int(areas[keep].sum())

    def _learn(
        self,
        frame: np.ndarray,
        relit: np.ndarray,
        raw: np.ndarray,
        where: np.ndarray,
        frame_clipped: np.ndarray | None,
        dt: float,
        skipped: float = 0.0,
        background_dt: float | None = None,
    ) -> None:
        """Update noise, restlessness and background with this frame (`where`: the flat
        indices of raw's pixels). Of the `dt` seconds since the model last ran, the first look
        saw nothing change for `skipped`: what changed is taken in, counted static and its
        flips judged over the last frame only; the still background learns over
        `background_dt` (default: all of dt)."""
        assert self._background is not None and self._previous is not None
        self._steps += 1
        self._seconds += dt
        seen = dt - skipped
        shape = relit.shape
        step: np.ndarray = cv2.subtract(
            relit, self._previous, dst=self._scratch.image("step", shape)
        )
        self._previous, spare = relit, self._previous
        self._scratch.give("relit", spare)  # the next frame's relit is written over it
        step_squared: np.ndarray = cv2.multiply(
            step, step, dst=self._scratch.image("step_squared", shape)
        )
        steady = step_squared.ravel()[where] <= np.float32(self.settings.pixel_threshold) ** 2
        static = where[steady]  # changed, but not since the last frame
        self._learn_noise(step, step_squared, seen)
        self._learn_flips(raw, seen, skipped)
        # Clipping is rare: while the picture never clipped, the share stays all zeros.
        clipped = None
        if frame_clipped is not None or self._ever_clipped:
            # 0/1 as uint8 without a copy: accumulateWeighted takes it as it takes floats
            clipped = frame_clipped.view(np.uint8) if frame_clipped is not None else self._nothing
            self._ever_clipped = True
        assert self._clipped_share is not None
        rate_still = _rate(dt if background_dt is None else background_dt, BACKGROUND_SECONDS)
        # Nothing changed (a still scene): one unmasked pass, as the masked pair would give.
        areas = (
            [(rate_still, None)]
            if where.size == 0
            else [
                (rate_still, cv2.bitwise_not(raw)),
                (_rate(seen, ABSORB_SECONDS), raw),
            ]
        )
        for rate, area in areas:
            cv2.accumulateWeighted(frame, self._background, rate, area)
            if clipped is not None:
                cv2.accumulateWeighted(clipped, self._clipped_share, rate, area)
        self._absorb_stationary(frame, clipped, static, seen)

    def _absorb_stationary(
        self, frame: np.ndarray, clipped: np.ndarray | None, static: np.ndarray, dt: float
    ) -> None:
        """Changed pixels that have not changed from frame to frame (`static`: flat indices)
        for STATIONARY_SECONDS (something that arrived and stopped, or the place something
        left) become background."""
        seconds = self._static_seconds
        if seconds is None or seconds.shape != frame.shape:
            seconds = self._static_seconds = np.zeros(frame.shape, np.float32)
            self._static = static[:0]
        flat = seconds.ravel()
        kept = flat[static] + np.float32(dt)
        flat[self._static] = 0.0  # only static pixels keep counting
        flat[static] = kept
        self._static = static
        if kept.size and kept.max() >= STATIONARY_SECONDS:
            stationary = static[kept >= STATIONARY_SECONDS]
            assert self._background is not None and self._clipped_share is not None
            self._background.ravel()[stationary] = frame.ravel()[stationary]
            if clipped is not None:
                self._clipped_share.ravel()[stationary] = clipped.ravel()[stationary]
            flat[stationary] = 0.0

    def _learn_noise(self, step: np.ndarray, step_squared: np.ndarray, dt: float) -> None:
        """The picture's and each pixel's typical frame-to-frame step (robust, capped).
        Caps `step_squared` in place."""
        sample = step[::SAMPLE_STRIDE, ::SAMPLE_STRIDE]
        noise_now = float((1.4826 * magnitude_median(np.abs(sample).ravel())) ** 2)
        self._global_variation += max(_rate(dt, GLOBAL_NOISE_SECONDS), 1.0 / self._steps) * (
            noise_now - self._global_variation
        )
        cap = STEP_CAP * self.settings.pixel_threshold  # one passing object must not deafen
        squared = cv2.threshold(step_squared, cap * cap, 0.0, cv2.THRESH_TRUNC, dst=step_squared)[1]
        if self._variation is None or self._variation.shape != step.shape:
            self._variation = np.full(step.shape, noise_now, np.float32)
        cv2.accumulateWeighted(squared, self._variation, self._prior_rate(dt, NOISE_SECONDS))

    def _learn_flips(self, raw: np.ndarray, dt: float, skipped: float = 0.0) -> None:
        """How often each pixel flips between changed and not, per second (no flips in the
        `skipped` seconds before the last frame)."""
        if self._flip_rate is None or self._flip_rate.shape != raw.shape:
            self._flip_rate, self._ever_flipped = np.zeros(raw.shape, np.float32), False
        elif skipped > 0.0:
            self._flip_rate *= np.float32(1.0 - _rate(skipped, FLIP_SECONDS))
        flickering = _without_solid_blobs(raw)
        if self._flickering.shape == raw.shape:
            toggled = cv2.bitwise_xor(flickering, self._flickering)
            # While nothing ever flipped the rates stay all zeros: no float passes for them.
            if self._ever_flipped or cv2.countNonZero(toggled):
                self._ever_flipped = True
                flips = np.multiply(  # flips a second
                    toggled,
                    np.float32(1.0 / (255.0 * dt)),
                    out=self._scratch.image("flips", raw.shape),
                    dtype=np.float32,
                )
                rate = self._prior_rate(dt, FLIP_SECONDS)
                cv2.accumulateWeighted(flips, self._flip_rate, rate)
        self._flickering = flickering
        self._raw_changed = raw

    def _prior_rate(self, dt: float, seconds: float) -> float:
        """Averaging weight that starts as if PRIOR_STEPS frames had been seen."""
        return max(_rate(dt, seconds), 1.0 / (self._steps + PRIOR_STEPS))


def _without_solid_blobs(changed: np.ndarray) -> np.ndarray:
    """Changed pixels outside blobs of SOLID_BLOB_FRACTION or more: swaying leaves, rain and
    snow flicker in fragments, while a person or a car passing by is one solid blob."""
    if cv2.countNonZero(changed) < SOLID_BLOB_FRACTION * changed.size:
        return changed
    blobs = _Blobs(changed)
    solid = blobs.areas >= SOLID_BLOB_FRACTION * changed.size
    if not solid.any():
        return changed
    return blobs.select(~solid)


class _Blobs:
    """The 8-connected blobs of a 0/255 image: their areas, which ones a mask touches, and an
    image of chosen ones. Labelled only inside the bounding box of the set pixels (what moved is
    usually a small part of the picture). Labels are 16-bit when they cannot overflow (8-connected
    blobs are 2 px apart; OpenCV labels about 2.5x faster than 32-bit), and 8-bit copies, when at
    most 255 blobs, let OpenCV's lookup table and histogram do the per-label work in one pass
    each."""

    def __init__(self, image: np.ndarray) -> None:
        self._shape = image.shape[:2]
        x, y, width, height = cv2.boundingRect(image)
        self._box = (slice(y, y + height), slice(x, x + width))
        fits = (height + 1) // 2 * ((width + 1) // 2) < 2**16
        self.labels: np.ndarray  # of the bounding box
        self.count, self.labels, stats, _ = cv2.connectedComponentsWithStats(
            image[self._box], connectivity=8, ltype=cv2.CV_16U if fits else cv2.CV_32S
        )
        self.areas: np.ndarray = stats[1:, cv2.CC_STAT_AREA]
        self._labels8 = self.labels.astype(np.uint8) if self.count <= 256 else None

    def touched(self, mask: np.ndarray) -> np.ndarray:
        """Per blob (label 1 up): whether any of its pixels is non-zero in `mask` (uint8)."""
        mask = mask[self._box]
        if self._labels8 is None:
            return np.bincount(self.labels[mask > 0], minlength=self.count)[1:] > 0
        hits = cv2.calcHist([self._labels8], [0], mask, [256], [0, 256])
        touched: np.ndarray = hits.ravel()[1 : self.count] > 0
        return touched

    def select(self, chosen: np.ndarray) -> np.ndarray:
        """A 0/255 image of the blobs where `chosen` (a bool per blob, label 1 up) is true."""
        lookup = np.zeros(max(256, self.count), np.uint8)
        lookup[1 : self.count][chosen] = 255
        selected = np.zeros(self._shape, np.uint8)
        if self._labels8 is not None:
            cv2.LUT(self._labels8, lookup[:256], dst=selected[self._box])
        else:
            selected[self._box] = np.take(lookup, self.labels)
        return selected


def _flat_nonzero(image: np.ndarray) -> np.ndarray:
    """np.flatnonzero of a 0/255 image, in the same (row-major) order, through OpenCV's
    findNonZero inside the set pixels' bounding box: much faster when few pixels are set, as
    is usual (findNonZero's scan of zeros costs more than the bounding box's)."""
    x, y, width, height = cv2.boundingRect(image)
    points = cv2.findNonZero(image[y : y + height, x : x + width]) if width else None
    if points is None:
        return np.zeros(0, np.intp)
    xy = points.reshape(-1, 2)
    flat: np.ndarray = (xy[:, 1].astype(np.intp) + y) * image.shape[1] + xy[:, 0] + x
    return flat


def _either(*masks: np.ndarray | None) -> np.ndarray | None:
    """The union of boolean images, skipping None (None when all are)."""
    present = [m for m in masks if m is not None]
    if not present:
        return None
    union = present[0].copy()
    for mask in present[1:]:
        union |= mask
    return union


def _rate(dt: float, seconds: float) -> float:
    """The per-frame weight of an exponential average with time constant `seconds`."""
    return 1.0 - math.exp(-dt / seconds)
