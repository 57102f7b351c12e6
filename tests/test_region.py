"""The full model limited to a region of a busy frame: what the first look saw change is
inside it, and outside it the background stays current."""

import cv2
import numpy as np

from camwatch.config import MotionConfig
from camwatch.motion.detector import MotionDetector
from camwatch.motion.look import coarse_of
from camwatch.motion.region import (
    REGION_MARGIN,
    WHOLE_SECONDS,
    Region,
    RegionClock,
    bounding_region,
    catch_up,
)
from tests.helpers.clips import scene

WIDTH, HEIGHT, FPS = 320, 240, 10.0


def test_flat_indices_of_a_region_map_to_the_same_pixels_of_the_picture():
    region = Region(30, 90, 50, 170, HEIGHT, WIDTH)
    inner = np.zeros(region.shape, np.uint8)
    inner[[0, 5, 59], [0, 100, 119]] = 255
    picture = region.embed(inner)
    assert picture.shape == (HEIGHT, WIDTH)
    np.testing.assert_array_equal(region.to_picture(np.flatnonzero(inner)), np.flatnonzero(picture))


def test_the_region_and_the_bands_outside_it_cover_the_picture_once():
    for region in (Region(30, 90, 50, 170, HEIGHT, WIDTH), Region(0, 240, 0, 100, HEIGHT, WIDTH)):
        covered = np.zeros((HEIGHT, WIDTH), np.int32)
        covered[region.slices] += 1
        for band in region.outside():
            covered[band] += 1
        assert (covered == 1).all()
    assert Region.whole((HEIGHT, WIDTH)).outside() == []


def test_the_region_holds_the_looks_changed_cells_and_the_last_changes_with_a_margin():
    cells = np.zeros((60, 80), np.uint8)  # the look's image: 1/4 of the detection image
    cells[10, 20] = 255  # detection rows 40-44, columns 80-84
    changed = np.zeros((HEIGHT, WIDTH), np.uint8)
    changed[100:110, 150:160] = 255
    region = bounding_region(cells, changed, (HEIGHT, WIDTH))
    assert region == Region(
        40 - REGION_MARGIN, 110 + REGION_MARGIN, 80 - REGION_MARGIN, 160 + REGION_MARGIN, 240, 320
    )
    assert bounding_region(None, np.zeros_like(changed), (HEIGHT, WIDTH)) is None
    cells[:] = 255  # all of it: the whole picture costs less
    assert bounding_region(cells, changed, (HEIGHT, WIDTH)) is None


def test_the_catch_up_moves_the_background_outside_the_region_only():
    region = Region(30, 90, 50, 170, HEIGHT, WIDTH)
    background = np.full((HEIGHT, WIDTH), 100.0, np.float32)
    frame = np.full((HEIGHT, WIDTH), 200, np.uint8)
    catch_up(frame, background, region, 0.5)
    assert (background[region.slices] == 100.0).all()
    outside = np.ones((HEIGHT, WIDTH), bool)
    outside[region.slices] = False
    assert (background[outside] == 150.0).all()


def test_the_whole_picture_is_seen_at_least_every_whole_seconds():
    clock, allowed = RegionClock(), []
    assert not clock.allows(0.2)  # nothing seen yet
    clock.ran(None)
    for _ in range(10):
        allowed.append(clock.allows(0.2))
        clock.ran(None if not allowed[-1] else Region(0, 10, 0, 10, HEIGHT, WIDTH))
    runs = round(WHOLE_SECONDS / 0.2)
    assert allowed == ([True] * (runs - 1) + [False]) * 2


class BusyCorner:
    """A 320x240 grey scene with sensor noise, through the scan path (`update_looking`), and
    a box swinging back and forth in the top left corner all the time: the scene is busy and
    the full model runs on a region around the box."""

    def __init__(self) -> None:
        self.background = cv2.cvtColor(scene(WIDTH, HEIGHT), cv2.COLOR_BGR2GRAY)
        self.detector = MotionDetector(MotionConfig())
        self.rng = np.random.default_rng(3)
        self.frames = 0
        self.extra: list[tuple[slice, slice, int]] = []  # (rows, columns, level) drawn on top
        self.lighting: tuple[slice, float] | None = None  # (columns, grey levels added)

    def step(self) -> float:
        t = self.frames / FPS
        image = self.background.astype(np.int16)
        if self.lighting is not None:
            columns, offset = self.lighting
            image[:, columns] += np.int16(round(offset))
        x = 10 + round(40 * (1 + np.sin(2 * np.pi * t / 3)))  # 10-90
        image[20:60, x : x + 30] = 230
        for rows, columns, level in self.extra:
            image[rows, columns] = level
        image += self.rng.integers(-3, 4, image.shape, dtype=np.int16)
        grey = np.clip(image, 0, 255).astype(np.uint8)
        self.frames += 1
        return self.detector.update_looking(coarse_of(grey), grey, t)

    def run(self, seconds: float) -> list[Region | None]:
        """The region of each frame on which the full model ran."""
        regions = []
        for _ in range(round(seconds * FPS)):
            steps = self.detector.steps
            self.step()
            regions.append(self.detector.region if self.detector.steps != steps else None)
        return regions


RIGHT = slice(200, 320)  # columns far from the swinging box


def test_motion_where_the_region_did_not_reach_is_seen_in_the_same_frame_or_the_next():
    camera = BusyCorner()
    before = [r for r in camera.run(6.0) if r is not None]
    assert any(not r.is_whole and r.right <= RIGHT.start for r in before[-5:])
    camera.extra = [(slice(170, 200), slice(260, 290), 25)]  # something dark arrives
    seen = []
    for _ in range(2):
        steps = camera.detector.steps
        camera.step()
        foreground = camera.detector.foreground
        if camera.detector.steps != steps and foreground is not None and foreground.size:
            seen.append(cv2.countNonZero(foreground[170:200, 260:290]))
    assert seen and max(seen) > 0.5 * 30 * 30


def test_the_background_outside_the_region_follows_a_change_of_lighting():
    """The right of the picture brightens slowly (dusk's reverse, 1.2 grey levels a second:
    too slowly for the first look to see) while the left stays busy: the background there
    keeps up through the region runs, as in a still scene, not only on the whole-picture runs."""
    camera = BusyCorner()
    camera.run(4.0)
    regions = []
    for step in range(100):  # 10 s
        camera.lighting = (RIGHT, 1.2 * step / FPS)
        regions += [r for r in camera.run(1 / FPS) if r is not None]
    assert sum(not r.is_whole and r.right <= RIGHT.start for r in regions) >= 0.5 * len(regions)
    lit = camera.background[:, RIGHT].astype(np.float32) + 12.0
    expected = cv2.GaussianBlur(lit, (5, 5), 0)
    learnt = camera.detector.model.background
    assert learnt is not None
    lag = (expected - learnt[:, RIGHT])[2:-2, 2:-2]
    assert float(np.median(lag)) < 4.0  # 2.3 behind the ramp at the still rate; 7.2 without
    assert camera.detector.foreground is not None
    assert cv2.countNonZero(camera.detector.foreground[:, RIGHT]) == 0


def crossing_scene(frame: int, texture: np.ndarray) -> np.ndarray:
    """A grainy grey scene that a textured block crosses every 5 s (3.5 s on, 1.5 s off),
    each time on a path and with a texture of its own."""
    image = np.full((HEIGHT, WIDTH), 90, np.int16)
    crossing, step = divmod(frame, 50)
    if step < 35:
        x, y = step * 9 - 40, crossing * 37 % (HEIGHT - 110)
        block = np.roll(texture, crossing * 23, axis=(0, 1))
        left, right = max(0, x), min(WIDTH, x + 100)
        image[y : y + 110, left:right] = block[:, left - x : right - x]
    image += np.random.default_rng(frame).integers(-20, 21, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_an_object_crossing_again_and_again_stays_motion_when_the_model_runs_on_regions():
    """The region runs see mostly the block: what they learn there (its texture's steps) must
    not raise the picture's noise level, nor each pixel's for longer than a whole-picture
    model would keep it. Before that, the first crossings had a quarter of the delta they
    have now (0.11%) and the later ones faded to nothing."""
    texture = np.random.default_rng(1).integers(0, 256, (110, 100), dtype=np.int16)
    detector = MotionDetector(MotionConfig())
    deltas = []
    for frame in range(600):
        grey = crossing_scene(frame, texture)
        deltas.append(detector.update_looking(coarse_of(grey), grey, frame / FPS))
    crossing = [d for frame, d in enumerate(deltas) if 5 <= frame % 50 < 30]
    first, last = np.mean(crossing[:50]), np.mean(crossing[-100:])  # 2 and 4 crossings
    assert first > 0.3
    print("RATIO", first, last, last / first)
    assert last > 0.3 * first  # 0.65 of the first with the fix; 0.05 without
