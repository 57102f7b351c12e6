"""CommandQueue: ON/OFF commands from MQTT applied to the camera switches, floods absorbed."""

from __future__ import annotations

import logging
import math
import threading
import time

from camwatch.integrations.discovery import OFF, ON
from camwatch.integrations.worker import BoundedWorker
from camwatch.recording.switches import Switches

log = logging.getLogger(__name__)

MIN_COMMAND_INTERVAL_S = 0.5
COMMAND_PAYLOADS = {ON.encode(): True, OFF.encode(): False}


def payload_kind(payload: bytes, retain: bool) -> str:
    """Why a command is not taken, in words a log line can say once per topic."""
    if retain:
        return "a retained command left on the broker (publish commands without retain)"
    if not payload:
        return "an empty payload (expected ON or OFF)"
    return "a payload other than ON or OFF"


class CommandQueue:
    """ON/OFF commands from the broker, applied to the switches on a worker thread.

    Only the latest command per switch waits, and turns come at most every
    `min_interval_s`: a flood of commands costs at most one change (one index write, one log
    line) per switch and turn, and memory stays bounded. The first command after a quiet spell
    is applied at once. Ignored messages are logged once per topic and kind, not per message.
    """

    def __init__(
        self, switches: Switches | None, min_interval_s: float = MIN_COMMAND_INTERVAL_S
    ) -> None:
        self.switches = switches
        self.min_interval_s = min_interval_s
        self._worker = BoundedWorker("mqtt-commands", max_queued=2)
        self._stopping = threading.Event()
        self._last_turn = -math.inf
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], bool] = {}
        self._queued = False
        self._logged: set[tuple[str, str]] = set()  # bounded: command topics x kinds
        self.ignored = 0

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()  # a turn waiting out the interval goes now
        self._worker.stop(timeout)

    def receive(self, topic: str, camera: str, switch: str, payload: bytes, retain: bool) -> None:
        """A message on a command topic (paho's thread): queued if it is a command, else ignored."""
        on = COMMAND_PAYLOADS.get(payload)
        if on is None or retain:
            self.ignore(topic, payload_kind(payload, retain))
            return
        self.put(camera, switch, on)

    def put(self, camera: str, switch: str, on: bool) -> None:
        with self._lock:
            self._pending[(camera, switch)] = on
            if self._queued:
                return
            self._queued = self._worker.submit(self._apply)

    def ignore(self, topic: str, kind: str) -> None:
        with self._lock:
            self.ignored += 1
            if (topic, kind) in self._logged:
                return
            self._logged.add((topic, kind))
        log.warning("mqtt: ignoring %s on %s (logged once per topic)", kind, topic)

    def _apply(self) -> None:
        self._stopping.wait(self._last_turn + self.min_interval_s - time.monotonic())
        with self._lock:
            pending, self._pending = self._pending, {}
            self._queued = False
        self._last_turn = time.monotonic()
        if self.switches is None:
            return
        for (camera, switch), on in pending.items():
            try:
                self.switches.set(camera, **{switch: on})
            except Exception as e:  # the index could not be written: say so, keep running
                state = ON if on else OFF
                log.error("mqtt: cannot turn %s %s for camera %s: %s", switch, state, camera, e)
