"""AppContext: everything the handlers need, injected through RequestHandler.initialize()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from camwatch.capture.camera import Camera
from camwatch.config import Config
from camwatch.integrations.hooks import HookRunner
from camwatch.integrations.listeners import Listeners
from camwatch.integrations.metrics import Metrics
from camwatch.recording.activity import ActivityLog
from camwatch.recording.footage import FootageIndex
from camwatch.recording.index import EventStore
from camwatch.recording.retention import RetentionService
from camwatch.recording.segment_index import SegmentStore
from camwatch.recording.switches import Switches
from camwatch.server.auth import Authenticator

if TYPE_CHECKING:  # paho-mqtt is loaded only when [mqtt] is configured (wiring.py)
    from camwatch.integrations.mqtt import MqttPublisher

OriginCheck = Callable[[str], bool]  # True when a cross-origin websocket may connect


@dataclass
class AppContext:
    """The cameras and the services the configuration turned on (None when it did not)."""

    config: Config
    cameras: dict[str, Camera] = field(default_factory=dict)
    listeners: Listeners = field(default_factory=Listeners)
    switches: Switches = field(default_factory=lambda: Switches({}))
    events: EventStore | None = None
    retention: RetentionService | None = None
    activity: ActivityLog | None = None  # motion per second, for the timeline
    footage: FootageIndex | None = None  # the recordings on disk by time
    segments: SegmentStore | None = None  # continuous footage
    metrics: Metrics | None = None
    mqtt: MqttPublisher | None = None
    hooks: HookRunner | None = None
    auth: Authenticator | None = None
    check_origin: OriginCheck | None = None

    @property
    def first_camera(self) -> Camera | None:
        return next(iter(self.cameras.values()), None)

    def camera(self, name: str | None) -> Camera | None:
        if name is None:
            return self.first_camera
        return self.cameras.get(name)
