"""Saved motion settings (PATCH overrides) applied over the config at start."""

from __future__ import annotations

from camwatch.config import MotionConfig
from camwatch.motion.settings import apply_saved_overrides


def test_saved_overrides_apply_over_the_config_and_bad_ones_are_skipped():
    settings = MotionConfig(threshold=0.3, stable_frames=20)
    applied = apply_saved_overrides(
        "cam", settings, {"threshold": 2, "stable_frames": 0, "no_such_key": 1}
    )
    assert applied == {"threshold": 2.0}
    assert settings.threshold == 2.0 and settings.stable_frames == 20
