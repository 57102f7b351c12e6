"""Switches: each camera's detection and recordings on/off, saved, with watchers told of changes."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from camwatch.config import ConfigError, MotionConfig
from camwatch.motion.settings import apply_changes

log = logging.getLogger(__name__)

DETECT, RECORDINGS = "detect", "recordings"
SWITCH_NAMES = (DETECT, RECORDINGS)


@dataclass(frozen=True)
class SwitchState:
    """A camera's two switches at one moment."""

    camera: str
    detect: bool
    recordings: bool

    def to_json(self) -> dict[str, bool]:
        return {DETECT: self.detect, RECORDINGS: self.recordings}


SwitchWatcher = Callable[[SwitchState], None]
JsonValue = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None


@dataclass(frozen=True)
class CameraSwitches:
    """A camera's switches as kept across restarts; None: never switched at run time (on)."""

    recordings: bool | None = None

    def to_json(self) -> dict[str, bool]:
        return {} if self.recordings is None else {RECORDINGS: self.recordings}

    @classmethod
    def from_json(cls, saved: Mapping[str, object]) -> CameraSwitches:
        """What was saved; a value this version does not understand counts as never set."""
        recordings = saved.get(RECORDINGS)
        return cls(recordings if isinstance(recordings, bool) else None)


@dataclass(frozen=True)
class MotionOverrides:
    """A camera's motion settings changed at run time (PATCH .../motion, the detection
    switch), only the keys changed, as they were validated then; checked again when applied
    at start (a later version may no longer accept a value)."""

    settings: Mapping[str, JsonValue] = field(default_factory=dict)

    def merged(self, changes: Mapping[str, JsonValue]) -> MotionOverrides:
        """These with `changes` over them."""
        return MotionOverrides({**self.settings, **changes})


class SwitchStore(Protocol):
    """Where switch changes are kept across restarts (EventStore implements it)."""

    def motion_overrides(self, camera: str) -> MotionOverrides: ...
    def save_motion_overrides(self, camera: str, overrides: MotionOverrides) -> None: ...
    def camera_switches(self, camera: str) -> CameraSwitches: ...
    def save_camera_switches(self, camera: str, switches: CameraSwitches) -> None: ...


def validated_switches(changes: Mapping[str, Any]) -> dict[str, bool]:
    """`{"detect": bool, "recordings": bool}` (either or both); ConfigError names a bad key."""
    for key, value in changes.items():
        if key not in SWITCH_NAMES:
            raise ConfigError(f"{key}: unknown key (expected one of: {', '.join(SWITCH_NAMES)})")
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
    return dict(changes)


class Switches:
    """Detection (the camera's live `motion.enabled`) and recordings, for every camera.

    Changes come from the HTTP API, the web UI and MQTT, on any thread. Each is saved first
    (detection exactly as `PATCH .../motion {"enabled": ...}` saves it), then applied, then
    every watcher is told the camera's state, in the order the changes were made. Reading a
    state takes no lock, so a watcher may read states while holding its own lock.
    """

    def __init__(self, motion: Mapping[str, MotionConfig], store: SwitchStore | None = None):
        self._motion = dict(motion)
        self._recordings: dict[str, bool] = dict.fromkeys(self._motion, True)
        self._store = store
        self._lock = threading.Lock()
        self._watchers: list[SwitchWatcher] = []

    @property
    def cameras(self) -> list[str]:
        return list(self._motion)

    def use_store(self, store: SwitchStore) -> None:
        """Save changes in `store` from now on, and take the recordings switches saved in it
        (the saved motion settings, `enabled` among them, are applied by their own module)."""
        with self._lock:
            self._store = store
            for camera in self._recordings:
                saved = store.camera_switches(camera).recordings
                if saved is not None:
                    self._recordings[camera] = saved
                if saved is False:
                    log.info("camera %s: recordings are off (switched off at run time)", camera)

    def watch(self, watcher: SwitchWatcher) -> None:
        self._watchers.append(watcher)

    def recordings(self, camera: str) -> bool:
        return self._recordings.get(camera, True)

    def state(self, camera: str) -> SwitchState:
        """KeyError for a camera this service does not have."""
        return SwitchState(camera, self._motion[camera].enabled, self._recordings[camera])

    def set(
        self, camera: str, *, detect: bool | None = None, recordings: bool | None = None
    ) -> SwitchState:
        """Turn either switch on or off; watchers hear the resulting state even when nothing
        changed (an MQTT command is answered with the state it asked for)."""
        motion = self._motion[camera]
        with self._lock:
            if detect is not None and detect != motion.enabled:
                self._save_motion(camera, {"enabled": detect})
                motion.enabled = detect
                log.info("camera %s: motion detection turned %s", camera, _on_off(detect))
            if recordings is not None and recordings != self._recordings[camera]:
                if self._store is not None:
                    self._store.save_camera_switches(camera, CameraSwitches(recordings))
                self._recordings[camera] = recordings
                log.info("camera %s: recordings turned %s", camera, _on_off(recordings))
            state = self.state(camera)
            self._tell(state)
        return state

    def change_motion(self, camera: str, values: Mapping[str, Any]) -> None:
        """Save and apply validated motion settings (PATCH .../motion); watchers hear of it
        when `enabled`, the detection switch, changed."""
        motion = self._motion[camera]
        with self._lock:
            before = motion.enabled
            self._save_motion(camera, values)
            apply_changes(motion, values)
            if motion.enabled != before:
                self._tell(self.state(camera))

    def _save_motion(self, camera: str, values: Mapping[str, Any]) -> None:
        if self._store is not None:
            saved = self._store.motion_overrides(camera)
            self._store.save_motion_overrides(camera, saved.merged(values))

    def _tell(self, state: SwitchState) -> None:
        """Under self._lock, so watchers see the changes in the order they were made."""
        for watcher in self._watchers:
            try:
                watcher(state)
            except Exception:
                log.exception("switch watcher %r failed", watcher)


def _on_off(value: bool) -> str:
    return "on" if value else "off"
