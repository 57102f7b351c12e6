"""The first look: still frames skip the full model and the detection-size decode, anything
that moves (or a light that flickers) still reaches it at once, and skipping leaves no ghost."""

import cv2
import numpy as np

from camwatch import jpeg
from camwatch.config import MotionConfig
from camwatch.frame import Frame
from camwatch.motion.detector import (
    DETECT_WIDTH,
    REFRESH_SECONDS,
    WARMUP_SECONDS,
    MotionDetector,
    frame_delta,
)
from camwatch.motion.look import LOOK_WIDTH, FirstLook, coarse_of
from camwatch.motion.pace import BUSY_SECONDS
from camwatch.motion.scan import grey_frames
from tests.helpers.clips import write_clip

FRAME_S = 0.1
WIDTH, HEIGHT = 640, 480


def scene(seed=1):
    rng = np.random.default_rng(seed)
    small = rng.integers(60, 170, (HEIGHT // 16, WIDTH // 16, 3)).astype(np.uint8)
    return cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)


def noisy(image, rng, sigma=2.0):
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def with_box(image, x, gain=1.0):
    shown = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    cv2.rectangle(shown, (x, 200), (x + 60, 320), (30, 30, 220), -1)
    return shown


class CountingFrame(Frame):
    """A camera JPEG frame that remembers which grey sizes were decoded from it."""

    decoded: list[int]

    def grey_small(self, max_width):
        self.decoded.append(max_width)
        return super().grey_small(max_width)


def camera_frame(image, seq):
    frame = CountingFrame.from_jpeg(jpeg.encode(image, 85), seq, WIDTH, HEIGHT, monotonic=0.0)
    frame.decoded = []
    return frame


class Feeder:
    """Camera frames 0.1 s apart through frame_delta, counting full-model runs and decodes."""

    def __init__(self):
        self.detector = MotionDetector(MotionConfig())
        self.rng = np.random.default_rng(3)
        self.t, self.deltas, self.full_runs, self.detect_decodes, self.frames = 0.0, [], 0, 0, 0

    def feed(self, image, frames=1):
        for _ in range(frames):
            frame = camera_frame(noisy(image, self.rng), self.frames)
            steps = self.detector.steps
            self.deltas.append(frame_delta(self.detector, frame, self.t))
            self.full_runs += self.detector.steps != steps
            self.detect_decodes += frame.decoded.count(DETECT_WIDTH)
            self.frames += 1
            self.t += FRAME_S

    def reset_counts(self):
        self.deltas, self.full_runs, self.detect_decodes, self.frames = [], 0, 0, 0


def test_still_frames_skip_the_full_model_and_its_decode_but_it_still_runs_each_second():
    feeder = Feeder()
    feeder.feed(scene(), round(WARMUP_SECONDS / FRAME_S) + 5)
    feeder.reset_counts()
    feeder.feed(scene(), 50)  # 5 s of a still scene
    assert feeder.deltas == [0.0] * 50
    refreshes = 5 / REFRESH_SECONDS
    assert refreshes - 1 <= feeder.full_runs <= refreshes + 1
    assert feeder.detect_decodes == feeder.full_runs  # the 320-wide image only for the model


def test_something_moving_reaches_the_full_model_on_the_next_frame_and_every_frame_at_first():
    """Every frame for the first BUSY_SECONDS, then at the busy pace (tests/test_pace.py)."""
    feeder = Feeder()
    feeder.feed(scene(), 40)
    feeder.reset_counts()
    busy_frames = round(BUSY_SECONDS / FRAME_S)
    for i in range(busy_frames):
        feeder.feed(with_box(scene(), 40 + 20 * i))
    assert feeder.full_runs >= busy_frames - 1  # at most the first frame was glanced over
    assert all(delta > 0.5 for delta in feeder.deltas[2:])


def test_a_flickering_light_does_not_blind_the_look_to_a_person():
    feeder = Feeder()
    gains = [1.0, 0.8, 1.15, 0.9, 1.1]
    for i in range(60):
        feeder.feed(with_box(scene(), -200, gains[i % 5]))  # the box is off the picture
    feeder.reset_counts()
    for i in range(10):
        feeder.feed(with_box(scene(), 40 + 20 * i, gains[i % 5]))
    assert feeder.full_runs >= 9  # blinded, it would only be the refresh once a second
    assert all(delta > 0.5 for delta in feeder.deltas[2:])


def test_after_a_still_stretch_a_brief_object_leaves_no_ghost(tmp_path):
    """A box crosses for 0.3 s after 3 s of stillness (the first frame it is seen on is the
    first the full model runs on after skipping): once it has gone, delta is 0 again, as with
    the full model on every frame."""
    clip = write_clip(tmp_path / "short.mp4", 6, [(3.0, 3.3)])
    looking, full = MotionDetector(MotionConfig()), MotionDetector(MotionConfig())
    after = []
    for t, grey, _ in grey_frames(str(clip)):
        delta = looking.update_looking(coarse_of(grey), grey, t)
        reference = full.update(grey, t)
        if t >= 3.35:
            after.append((round(delta, 2), round(reference, 2)))
    assert after and all(pair == (0.0, 0.0) for pair in after), after


def test_look_notices_a_change_beyond_its_noise_and_ignores_noise():
    look, rng = FirstLook(), np.random.default_rng(2)
    base = cv2.resize(cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY), (LOOK_WIDTH, 60))
    seen = [look.changed(noisy(base, rng, 0.5), 12, FRAME_S) for _ in range(30)]
    for _ in range(30):
        look.learn(0.05, 0.005, None)
    assert seen[0] and not any(seen[5:])
    changed = base.copy()
    changed[20:26, 30:34] = np.clip(changed[20:26, 30:34].astype(int) + 15, 0, 255)
    assert look.changed(changed, 12, FRAME_S)


def test_masked_cells_are_ignored():
    look, rng = FirstLook(), np.random.default_rng(2)
    base = cv2.resize(cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY), (LOOK_WIDTH, 60))
    for _ in range(10):
        look.changed(noisy(base, rng, 0.5), 12, FRAME_S)
    active = np.ones((240, 320), np.uint8)
    active[:, :160] = 0  # the left half is masked
    look.ignore(active)
    left, right = base.copy(), base.copy()
    left[10:40, 5:30] = 255
    right[10:40, 50:75] = 255
    assert not look.changed(left, 12, FRAME_S)
    assert look.changed(right, 12, FRAME_S)


def test_a_frame_decoded_for_its_clip_is_judged_on_its_luma_without_a_decode_of_its_own():
    """While a clip of camera JPEGs is recorded, detection shrinks the clip's full decode: the
    same frames are significant as with its own DCT-scaled decodes, deltas within a little."""
    from camwatch.recording.pictures import JpegDecoder, luma

    decoder = JpegDecoder()
    own, shared = MotionDetector(MotionConfig()), MotionDetector(MotionConfig())
    rng = np.random.default_rng(5)
    deltas = []
    for i in range(60):
        image = noisy(with_box(scene(), 8 * i) if i >= 30 else scene(), rng)
        t = i * FRAME_S
        mine, decoded = camera_frame(image, i), camera_frame(image, i)
        assert decoded.camera_jpeg is not None
        picture = decoder.picture(decoded.camera_jpeg)
        deltas.append((frame_delta(own, mine, t), frame_delta(shared, decoded, t, luma(picture))))
        assert decoded.decoded == []  # no grey decode of its own, not even the first look's
    threshold = MotionConfig().threshold
    assert [a > threshold for a, _ in deltas] == [b > threshold for _, b in deltas]
    assert sum(a > threshold for a, _ in deltas) >= 25
    assert max(abs(a - b) for a, b in deltas) < 0.2


def test_grey_levels_and_the_same_levels_as_floats_give_the_same_noise_and_verdicts():
    """Steps between uint8 images are whole grey levels, whose medians the look counts rather
    than sorts: the same noise level, to the bit, and the same verdicts as for float images."""
    levels, floats, rng = FirstLook(), FirstLook(), np.random.default_rng(8)
    base = cv2.resize(cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY), (LOOK_WIDTH, 60))
    for i in range(40):
        image = noisy(base, rng, 0.5 + 0.1 * i)
        if i % 7 == 6:
            image = np.clip(image.astype(int) + 30, 0, 255).astype(np.uint8)  # a flicker
        assert levels.changed(image, 12, FRAME_S) == floats.changed(
            image.astype(np.float32), 12, FRAME_S
        )
        assert levels._noise == floats._noise
        levels.learn(0.05, 0.005, None)
        floats.learn(0.05, 0.005, None)
    assert levels._noise > 0


def test_the_coarse_image_is_opencvs_area_average_to_the_bit():
    """Halving twice in floats is INTER_AREA's quarter, its rounding of halves included."""
    rng = np.random.default_rng(3)
    for height in (240, 180, 200):
        for _ in range(10):
            grey = rng.integers(0, 256, (height, 320)).astype(np.uint8)
            halves = rng.integers(0, 2, grey.shape).astype(np.uint8) * 8  # sums of x.5
            for image in (grey, halves):
                size = (LOOK_WIDTH, round(height * LOOK_WIDTH / 320))
                expected = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                assert np.array_equal(coarse_of(image), expected)


def test_a_cell_with_one_moving_pixel_learns_at_the_moving_rate():
    look = FirstLook()
    frame = np.full((60, 80), 100, np.uint8)
    look.changed(frame, 10, FRAME_S)
    look.changed(frame + 40, 10, FRAME_S)  # the look's background is still 100, its frame 140
    moving = np.zeros((240, 320), np.uint8)
    moving[4 * 7 + 3, 4 * 9] = 255  # one pixel of cell (7, 9)
    look.learn(0.5, 0.0, moving)  # still cells half way to 140, moving cells not at all
    assert look._background is not None
    assert look._background[7, 9] == 100
    assert look._background[7, 10] == look._background[6, 9] == 120
