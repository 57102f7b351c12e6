"""HookRunner: runs the configured commands per event, off the capture thread, time-limited."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from camwatch.config import HooksConfig
from camwatch.integrations.worker import BoundedWorker
from camwatch.recording.index import EventRecord, iso_utc

log = logging.getLogger(__name__)

MAX_QUEUED_HOOKS = 32
TERM_GRACE_S = 2.0
STOP_GRACE_S = 5.0  # with the recorders and MQTT, within systemd's TimeoutStopSec=15
OUTPUT_TAIL_BYTES = 2000


def hook_environment(
    kind: str, record: EventRecord, data_dir: Path, base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The process environment plus CAMWATCH_* variables describing the event."""
    root = data_dir.resolve()
    env = dict(base)
    env.update(
        {
            "CAMWATCH_EVENT": kind,
            "CAMWATCH_CAMERA": record.camera,
            "CAMWATCH_EVENT_ID": record.id,
            "CAMWATCH_CLIP_PATH": str(root / record.video_path),
            "CAMWATCH_THUMBNAIL_PATH": str(root / record.thumbnail_path),
            "CAMWATCH_STARTED_AT": iso_utc(record.started_at) or "",
            "CAMWATCH_ENDED_AT": iso_utc(record.ended_at) or "",
            "CAMWATCH_EVENT_JSON": json.dumps(record.to_json()),
        }
    )
    return env


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the hook's process group, then SIGKILL whatever is left of it."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(TERM_GRACE_S)
    _signal_group(process, signal.SIGKILL)  # a leader ignoring SIGTERM, or its stragglers
    try:
        process.wait(5.0)
    except subprocess.TimeoutExpired:
        log.error("hooks: process %d survived SIGKILL", process.pid)


def _tail(output: IO[bytes]) -> str:
    output.seek(0, os.SEEK_END)
    size = output.tell()
    output.seek(max(0, size - OUTPUT_TAIL_BYTES))
    return output.read().decode("utf-8", "replace").strip()


class HookRunner:
    """An EventListener that runs `on_event_start` / `on_event_end` one at a time on a worker.

    The environment is captured when the event is reported, so later changes to the record do
    not leak in. A full queue drops the hook (logged); a hook running past `timeout_seconds` has
    its whole process group killed. Failures are logged, never raised.
    """

    def __init__(
        self, config: HooksConfig, data_dir: str | Path, *, max_queued: int = MAX_QUEUED_HOOKS
    ) -> None:
        self.config = config
        self.data_dir = Path(data_dir)
        self._worker = BoundedWorker("hooks", max_queued)
        self._current: subprocess.Popen[bytes] | None = None
        self._abandon = False
        self.runs = 0
        self.failures = 0

    def start(self) -> None:
        self._worker.start()

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Let queued hooks run for up to `grace` seconds, then kill the running one."""
        if self._worker.stop(grace):
            return
        self._abandon = True
        current = self._current
        if current is not None and current.poll() is None:
            log.warning("hooks: killing %r on shutdown", current.args)
            _kill_group(current)
        self._worker.stop(TERM_GRACE_S + 1.0)

    # -- EventListener -----------------------------------------------------------------------

    def motion_changed(self, camera: str, active: bool) -> None:
        pass

    def event_started(self, record: EventRecord) -> None:
        self._submit("start", self.config.on_event_start, record)

    def event_ended(self, record: EventRecord) -> None:
        self._submit("end", self.config.on_event_end, record)

    # -- worker ------------------------------------------------------------------------------

    def _submit(self, kind: str, command: str, record: EventRecord) -> None:
        if not command:
            return
        env = hook_environment(kind, record, self.data_dir)
        label = f"on_event_{kind} for event {record.id} ({record.camera})"
        if not self._worker.submit(lambda: self._run(command, env, label)):
            log.warning("hooks: queue full or stopping; dropped %s", label)

    def _run(self, command: str, env: dict[str, str], label: str) -> None:
        if self._abandon:
            return
        self.runs += 1
        with tempfile.TemporaryFile() as output:
            try:
                process = subprocess.Popen(
                    ["/bin/sh", "-c", command],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as e:
                self.failures += 1
                log.warning("hooks: cannot run %s: %s", label, e)
                return
            self._current = process
            try:
                status = process.wait(self.config.timeout_seconds)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                self.failures += 1
                log.warning(
                    "hooks: %s still running after %gs; killed. Output: %s",
                    label,
                    self.config.timeout_seconds,
                    _tail(output) or "(none)",
                )
                return
            finally:
                self._current = None
            if status != 0:
                self.failures += 1
                log.warning(
                    "hooks: %s exited with status %d. Output: %s",
                    label,
                    status,
                    _tail(output) or "(none)",
                )
            else:
                log.debug("hooks: %s done", label)
