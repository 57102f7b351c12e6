"""Motion detectors: delta is the percentage of unmasked pixels that changed, lighting is not
motion, slow objects are seen whole, things that stop become background."""

import cv2
import numpy as np
import pytest

from camwatch.config import MotionConfig
from camwatch.motion.blobs import bounding_box
from camwatch.motion.detector import FrameDiffDetector, MotionDetector
from camwatch.motion.look import coarse_of
from camwatch.motion.model import STATIONARY_SECONDS, WARMUP_SECONDS, _opened
from tests.helpers.fakes import FreshScratch

FRAME_S = 0.1


def textured(height=180, width=320, seed=1):
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 170, (height // 8, width // 8)).astype(np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def noisy(image, rng, sigma=2.0):
    noise = rng.normal(0, sigma, image.shape)
    return np.clip(image.astype(float) + noise, 0, 255).astype(np.uint8)


class Feeder:
    """Feeds a detector frames 0.1 s apart and remembers the deltas."""

    def __init__(self, detector):
        self.detector, self.t, self.deltas = detector, 0.0, []
        self.rng = np.random.default_rng(5)

    def feed(self, image, frames=1, noise=2.0):
        for _ in range(frames):
            self.deltas.append(self.detector.update(noisy(image, self.rng, noise), self.t))
            self.t += FRAME_S
        return self.deltas[-1]

    def settle(self, image, seconds=WARMUP_SECONDS + 1.0):
        return self.feed(image, round(seconds / FRAME_S))


def with_box(image, x, y, w, h, level):
    out = image.copy()
    out[y : y + h, x : x + w] = level
    return out


def test_delta_is_percentage_of_changed_pixels():
    background = textured()
    feeder = Feeder(MotionDetector(MotionConfig()))
    assert feeder.settle(background) == 0.0
    box = with_box(background, 100, 40, 64, 90, 200)  # 64 x 90 = 10% of 320 x 180
    assert feeder.feed(box) == pytest.approx(10.0, abs=1.0)
    assert feeder.feed(box, 5) == pytest.approx(10.0, abs=1.0)


def test_nothing_is_reported_while_warming_up():
    background = textured()
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.feed(background, 3)
    feeder.feed(with_box(background, 100, 40, 64, 90, 200), 4)
    assert max(feeder.deltas) == 0.0  # 0.7 s < WARMUP_SECONDS
    feeder.feed(with_box(background, 100, 40, 64, 90, 200), 5)
    assert feeder.deltas[-1] > 5.0


def test_small_grey_changes_and_noise_are_ignored():
    rng = np.random.default_rng(1)
    feeder = Feeder(MotionDetector(MotionConfig()))
    base = rng.integers(80, 120, (90, 160), dtype=np.uint8)
    feeder.settle(base)
    feeder.feed(base, 50, noise=5.0)
    assert max(feeder.deltas) < 0.1


@pytest.mark.parametrize("gain", [0.5, 0.8, 1.3])
def test_whole_picture_brightness_changes_are_not_motion(gain):
    background = textured()
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    relit = np.clip(background * gain, 0, 255).astype(np.uint8)
    feeder.feed(relit, 20)
    feeder.feed(background, 20)
    assert max(feeder.deltas) == 0.0


def test_uneven_light_switched_on_is_not_motion_but_a_person_under_it_is():
    background = textured()
    height, width = background.shape
    ys, xs = np.mgrid[0:height, 0:width]
    lamp = 1.0 + 1.2 * np.exp(-((xs - 40) ** 2 + (ys - 20) ** 2) / 150.0**2)
    lit = np.clip(background * lamp, 0, 255).astype(np.uint8)
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    feeder.feed(lit, 30)
    assert max(feeder.deltas) == 0.0
    assert feeder.feed(with_box(lit, 200, 60, 20, 60, 30), 3) > 1.5


def test_flicker_every_frame_is_ignored_and_a_person_still_seen():
    background = textured()
    rng = np.random.default_rng(2)
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    for _ in range(30):
        feeder.feed(np.clip(background * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8))
    assert max(feeder.deltas) == 0.0
    for x in range(0, 60, 4):
        person = with_box(background, 60 + x, 60, 20, 60, 30)
        feeder.feed(np.clip(person * rng.uniform(0.7, 1.3), 0, 255).astype(np.uint8))
    assert min(feeder.deltas[-10:]) > 1.5


def test_slow_uniform_object_is_seen_whole_unlike_with_the_previous_frame_rule():
    background = textured()
    new, old = Feeder(MotionDetector(MotionConfig())), Feeder(FrameDiffDetector(MotionConfig()))
    for feeder in (new, old):
        feeder.settle(background)
        for x in range(20):  # a 30 x 60 box (3.1%) creeping 1 pixel a frame
            feeder.feed(with_box(background, 100 + x, 60, 30, 60, 200))
    assert new.deltas[-1] == pytest.approx(3.1, abs=0.6)
    assert old.deltas[-1] < 1.5


def test_something_that_stops_becomes_background():
    background = textured()
    parked = with_box(background, 100, 60, 40, 40, 200)
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    assert feeder.feed(parked, 3) > 2.0
    feeder.feed(parked, round(STATIONARY_SECONDS / FRAME_S))
    assert feeder.feed(parked, 3) == 0.0


def test_specks_do_not_count():
    background = textured()
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    rng = np.random.default_rng(3)
    for _ in range(20):  # twenty 3x3 raindrops in new places every frame
        image = background.copy()
        for x, y in rng.integers(10, 170, (20, 2)):
            image[y : y + 3, x : x + 3] = 220
        feeder.feed(image)
    assert max(feeder.deltas) == 0.0


def test_small_blobs_count_only_when_seen_in_two_frames_in_a_row():
    background = textured()
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    for i in range(20):  # a 7x7 snowflake in a new place each frame (0.09% of the picture)
        x, y = 20 + 14 * i, 20 + 6 * (i % 20)
        feeder.feed(with_box(background, x, y, 7, 7, 220))
    assert max(feeder.deltas) == 0.0
    for i in range(5):  # a 7x7 bird flying slowly
        feeder.feed(with_box(background, 100 + 3 * i, 50, 7, 7, 220))
    assert feeder.deltas[-1] > 0.05


@pytest.mark.parametrize(("seconds_apart", "seen"), [(0.2, True), (0.1, False)])
def test_a_small_blob_may_have_moved_further_when_the_runs_are_further_apart(seconds_apart, seen):
    """A 7x7 bird 10 px on each run, its changes (blurred) 2 px from the last ones: seen at the
    busy pace's 0.2 s between runs, a flake coming and going at 0.1 s."""
    background = textured()
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(background)
    deltas = []
    for i in range(5):
        feeder.t += seconds_apart - FRAME_S
        feeder.feed(with_box(background, 100 + 10 * i, 50, 7, 7, 220))
        deltas.append(feeder.deltas[-1])
    assert (max(deltas) > 0.05) == seen, deltas


def test_reset_forgets_the_scene():
    feeder = Feeder(MotionDetector(MotionConfig()))
    feeder.settle(textured(seed=1))
    feeder.detector.reset()
    feeder.settle(textured(seed=2))
    assert max(feeder.deltas) == 0.0


def test_mask_ignores_motion_inside_and_delta_is_share_of_unmasked_area():
    settings = MotionConfig(mask=[[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]])  # the left half
    background = textured()
    feeder = Feeder(MotionDetector(settings))
    feeder.settle(background)
    assert feeder.feed(with_box(background, 20, 40, 100, 100, 200), 3) == 0.0
    feeder.settle(background)
    # 64 x 45 = 5% of the picture, 10% of the unmasked half
    assert feeder.feed(with_box(background, 220, 40, 64, 45, 200), 3) == pytest.approx(10, abs=1)


def test_mask_changes_apply_live():
    settings = MotionConfig()
    background = textured()
    feeder = Feeder(MotionDetector(settings))
    feeder.settle(background)
    box = with_box(background, 20, 40, 60, 60, 200)
    assert feeder.feed(box, 2) > 3.0
    settings.mask = [[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]]
    assert feeder.feed(box, 1) == 0.0


def test_frame_diff_baseline_keeps_the_original_rule():
    detector = FrameDiffDetector(MotionConfig(pixel_threshold=25))
    still = np.full((100, 200), 100, np.uint8)
    moved = still.copy()
    moved[20:60, 50:100] = 200  # 40 x 50 = 10% of the frame
    assert detector.update(still) == 0.0
    assert detector.update(still) == 0.0
    assert detector.update(moved) == pytest.approx(10.0, abs=1.0)
    assert detector.update(moved) == 0.0
    detector.settings.mask = [[[0, 0], [1, 0], [1, 0.5], [0, 0.5]]]  # the top half
    # of the box, rows 50-59 are unmasked: 10 x 50 pixels = 5% of the bottom half
    assert detector.update(still) == pytest.approx(5.0, abs=1.0)


def test_objects_passing_the_same_spot_without_pause_stay_detected() -> None:
    """Continuous traffic (a crossing every 2 s on one path, for a minute) is not taken for
    swaying foliage: solid blobs coming and going do not make pixels 'restless'."""
    import cv2

    rng = np.random.default_rng(5)
    background = cv2.GaussianBlur(rng.integers(60, 190, (240, 320), dtype=np.uint8), (0, 0), 3)
    settings = MotionConfig()
    detector = MotionDetector(settings)
    significant = []
    for i in range(600):
        image = background.copy()
        x = int((i % 20) / 20 * (320 + 30)) - 30
        cv2.rectangle(image, (x, 120), (x + 30, 210), 30, -1)
        noisy = np.clip(image + rng.normal(0, 1.5, image.shape), 0, 255).astype(np.uint8)
        significant.append(detector.update(noisy, i / 10) > settings.threshold)
    assert sum(significant[-200:]) / 200 > 0.5


def test_reusing_scratch_images_gives_the_same_deltas_as_fresh_ones() -> None:
    """The detector writes its per-frame temporaries into images kept from the last frame: no
    state may live in them (same deltas as with new, NaN-filled images every time)."""
    background = textured()
    reused, fresh = (
        Feeder(MotionDetector(MotionConfig())),
        Feeder(MotionDetector(MotionConfig(), FreshScratch())),
    )
    for feeder in (reused, fresh):
        feeder.settle(background)
        for x in range(0, 200, 8):  # something crossing, then gone
            feeder.feed(with_box(background, x, 50, 40, 60, 210))
        feeder.feed(background, 30)
    assert max(reused.deltas) > 2.0
    assert reused.deltas == fresh.deltas


def crossing_scene(frame: int, texture: np.ndarray) -> np.ndarray:
    """A grainy 320x240 grey scene that a textured block crosses every 5 s (3.5 s on, 1.5 s
    off), each time on a path and with a texture of its own."""
    image = np.full((240, 320), 90, np.int16)
    crossing, step = divmod(frame, 50)
    if step < 35:
        x, y = step * 9 - 40, crossing * 37 % 130
        block = np.roll(texture, crossing * 23, axis=(0, 1))
        left, right = max(0, x), min(320, x + 100)
        image[y : y + 110, left:right] = block[:, left - x : right - x]
    image += np.random.default_rng(frame).integers(-20, 21, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_an_object_crossing_a_grainy_scene_again_and_again_stays_motion() -> None:
    """Through the live path (first look, busy pace): what the block's texture taught the
    pixels it crossed (a high noise level, flips) fades, and later crossings keep most of the
    first ones' delta: 0.70 of it; 0.45 when the busy frames' model ran on regions around the
    look's changes, 0.05 before those learnt the picture's noise from whole pictures only."""
    texture = np.random.default_rng(1).integers(0, 256, (110, 100), dtype=np.int16)
    detector = MotionDetector(MotionConfig())
    deltas = []
    for frame in range(600):
        grey = crossing_scene(frame, texture)
        deltas.append(detector.update_looking(coarse_of(grey), grey, frame / 10))
    crossing = [d for frame, d in enumerate(deltas) if 5 <= frame % 50 < 30]
    first, last = np.mean(crossing[:50]), np.mean(crossing[-100:])  # 2 and 4 crossings
    assert first > 0.3
    assert last > 0.55 * first


@pytest.mark.parametrize("seed", range(6))
def test_opening_inside_the_bounding_box_is_opening_the_whole_image(seed: int) -> None:
    """Specks are dropped inside the changes' bounding box only: the same image as opening all
    of it, at the picture's edges too."""
    rng = np.random.default_rng(seed)
    image = np.zeros((60, 80), np.uint8)
    top, left = rng.integers(0, 30), rng.integers(0, 40)  # from the edges or inside
    patch = rng.random((int(rng.integers(1, 30)), int(rng.integers(1, 40)))) > 0.4
    image[top : top + patch.shape[0], left : left + patch.shape[1]] = patch * 255
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    whole = cv2.morphologyEx(image, cv2.MORPH_OPEN, square)
    assert np.array_equal(_opened(image, bounding_box(image)), whole)
    assert np.array_equal(_opened(np.zeros_like(image), (0, 0, 0, 0)), np.zeros_like(image))
