"""Motion masks: polygons in 0-1 coordinates, validated by key, rasterised at detection size."""

import textwrap

import numpy as np
import pytest

from camwatch import config
from camwatch.config import ConfigError, MotionConfig
from camwatch.motion.mask import MaskCache, rasterise

TRIANGLE = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]


def test_rasterised_polygon_covers_its_share_of_the_picture():
    left_half = rasterise([[[0, 0], [0.5, 0], [0.5, 1], [0, 1]]], (180, 320))
    assert left_half.dtype == np.uint8
    # pixels the polygon's outline touches are masked too
    assert (left_half[:, :160] == 0).all() and (left_half[:, 161:] == 1).all()
    triangle = rasterise([TRIANGLE], (100, 100))
    assert (triangle == 0).mean() == pytest.approx(0.5, abs=0.02)
    assert triangle[5, 5] == 0 and triangle[95, 95] == 1


def test_whole_picture_polygon_and_no_polygons():
    assert not rasterise([[[0, 0], [1, 0], [1, 1], [0, 1]]], (9, 16)).any()
    assert rasterise([], (9, 16)).all()


def test_cache_rebuilds_only_on_change():
    cache = MaskCache()
    cache.update([], (90, 160))
    assert cache.active is None and cache.active_count == 90 * 160
    cache.update([TRIANGLE], (90, 160))
    first = cache.active
    cache.update([[list(p) for p in TRIANGLE]], (90, 160))
    assert cache.active is first
    cache.update([TRIANGLE], (180, 320))
    assert cache.active is not first and cache.active.shape == (180, 320)


def test_set_value_validates_and_normalises_a_mask():
    motion = MotionConfig()
    config.set_value(motion, "mask", [[[0, 0], [1, 0], [0.5, 1]]], "mask")
    assert motion.mask == [[[0.0, 0.0], [1.0, 0.0], [0.5, 1.0]]]
    config.set_value(motion, "mask", [], "mask")
    assert motion.mask == []


@pytest.mark.parametrize(
    "bad, why",
    [
        (5, "a list of polygons"),
        ([[[0, 0], [1, 0]]], "polygon 0: expected 3 to"),
        ([TRIANGLE, [[0, 0], [1.5, 0], [0, 1]]], "polygon 1 point 1"),
        ([[[0, 0], [1, 0], [True, 1]]], "polygon 0 point 2"),
        ([[[0, 0], [1, 0], [0, "1"]]], "polygon 0 point 2"),
        ([[[0, 0], [1, 0], [0, 1, 1]]], "polygon 0 point 2"),
        ([[[0, 0], [1, 0], [float("nan"), 1]]], "polygon 0 point 2"),
        ([[0, 0, 1]], "polygon 0"),
    ],
)
def test_bad_masks_are_rejected_naming_the_key(bad, why):
    motion = MotionConfig(mask=[TRIANGLE])
    with pytest.raises(ConfigError) as error:
        config.set_value(motion, "mask", bad, "cameras[0].motion.mask")
    assert str(error.value).startswith("cameras[0].motion.mask: ")
    assert why in str(error.value)
    assert motion.mask == [TRIANGLE]  # unchanged


def test_mask_from_toml(tmp_path):
    path = tmp_path / "camwatch.toml"
    path.write_text(
        textwrap.dedent("""
        [[cameras]]
        name = "yard"
        [cameras.motion]
        mask = [[[0, 0], [0.4, 0], [0.4, 0.3]], [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]]]
    """)
    )
    motion = config.load_file(path).cameras[0].motion
    assert motion.mask[0] == [[0.0, 0.0], [0.4, 0.0], [0.4, 0.3]] and len(motion.mask) == 2
    path.write_text("[[cameras]]\n[cameras.motion]\nmask = [[[0, 0], [2, 0], [0, 1]]]\n")
    with pytest.raises(ConfigError, match=r"^cameras\[0\]\.motion\.mask: polygon 0 point 1"):
        config.load_file(path)


def test_mask_is_described_for_the_ui():
    assert config.describe(MotionConfig)["mask"]["type"] == "list"
