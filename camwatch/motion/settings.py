"""Run-time motion settings: changes validated all-or-nothing, saved overrides applied at start."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from camwatch.config import ConfigError, MotionConfig, set_value

log = logging.getLogger(__name__)


def validated_changes(current: MotionConfig, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes as typed values, checked on a copy; ConfigError names the first bad key."""
    trial = dataclasses.replace(current)
    for key, value in changes.items():
        set_value(trial, key, value, key)
    return {key: getattr(trial, key) for key in changes}


def apply_changes(settings: MotionConfig, values: Mapping[str, Any]) -> None:
    """Set validated values on the live settings object (the detector reads it every frame)."""
    for key, value in values.items():
        setattr(settings, key, value)


def apply_saved_overrides(
    camera: str, settings: MotionConfig, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Apply what was saved over the config file's values, skipping (with a warning) any value
    this version no longer accepts; returns what was applied."""
    applied: dict[str, Any] = {}
    for key, value in overrides.items():
        try:
            set_value(settings, key, value, key)
        except ConfigError as e:
            log.warning("camera %s: ignoring saved motion setting: %s", camera, e)
            continue
        applied[key] = getattr(settings, key)
    if applied:
        log.info("camera %s: motion settings changed at run time: %s", camera, applied)
    return applied
