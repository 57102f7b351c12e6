"""ActivityLog: the peak motion delta of every second, per camera, in one small file per day."""

from __future__ import annotations

import calendar
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ACTIVITY_DIR = "activity"
DAY_S = 86400
# A day file holds 86400 little-endian uint16: 0 = no sample that second, else 1 + the delta
# (0-100 %) in steps of 1/640 % (finer than any threshold worth setting). 169 KiB a day, and
# sparse on disk where the camera was off.
SCALE = 640.0
MAX_CODE = 65535
DTYPE = np.dtype("<u2")
FLUSH_INTERVAL_S = 5.0
PRUNE_INTERVAL_S = 3600.0
MAX_PENDING_SECONDS = 3600  # per camera, if the disk cannot be written: oldest dropped first


@dataclass(frozen=True)
class ActivityPoint:
    """The highest delta (percent of pixels changed) seen in the step starting at `t`."""

    t: float  # Unix seconds
    peak_delta: float


def day_name(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def day_start(name: str) -> int:
    return calendar.timegm(time.strptime(name, "%Y-%m-%d"))


def encode(delta: float) -> int:
    return min(MAX_CODE, 1 + max(0, round(delta * SCALE)))


def decode(codes: np.ndarray) -> np.ndarray:
    """Codes to deltas; seconds without a sample become -1."""
    deltas: np.ndarray = (codes.astype(np.float32) - 1) / SCALE
    deltas[codes == 0] = -1.0
    return deltas


class ActivityLog:
    """Collects per-second peaks in memory (capture threads) and writes them in batches to
    activity/{camera}/{YYYY-MM-DD}.u16 (a flusher thread): no disk I/O per frame.

    A Component: `start()` runs the flusher, `stop()` writes what is left.
    """

    def __init__(
        self,
        data_dir: str | Path,
        keep_days: Callable[[str], float] | None = None,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.root = Path(os.path.abspath(data_dir)) / ACTIVITY_DIR
        self.flush_interval_s = flush_interval_s
        # days of activity kept per camera (as long as its footage); 0 = forever
        self._keep_days = keep_days
        self._pruned_at = -math.inf
        self._pending: dict[str, dict[int, float]] = {}
        self._lock = threading.Lock()
        self._file_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    # -- writing -------------------------------------------------------------------------------

    def add(self, camera: str, captured_at: float, delta: float) -> None:
        """Note one frame's delta (cheap; any thread)."""
        if not math.isfinite(delta) or not math.isfinite(captured_at):
            return
        second = int(captured_at)
        with self._lock:
            seconds = self._pending.setdefault(camera, {})
            if delta > seconds.get(second, -1.0):
                seconds[second] = delta
            if len(seconds) > MAX_PENDING_SECONDS:
                del seconds[min(seconds)]

    def flush(self) -> None:
        """Write the pending peaks (merged with what the files hold: max per second)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        failed: dict[str, dict[int, float]] = {}
        for camera, seconds in pending.items():
            by_day: dict[int, list[tuple[int, float]]] = {}
            for second, delta in seconds.items():
                by_day.setdefault(second - second % DAY_S, []).append((second, delta))
            for start, samples in by_day.items():
                try:
                    self._write_day(camera, start, samples)
                except OSError as e:
                    if not self._warned:
                        log.warning("cannot write motion activity for %s: %s", camera, e)
                        self._warned = True
                    failed.setdefault(camera, {}).update(samples)
        if failed:
            with self._lock:
                for camera, seconds in failed.items():
                    merged = self._pending.setdefault(camera, {})
                    for second, delta in seconds.items():
                        merged[second] = max(delta, merged.get(second, -1.0))

    def _write_day(self, camera: str, start: int, samples: list[tuple[int, float]]) -> None:
        path = self._day_path(camera, start)
        path.parent.mkdir(parents=True, exist_ok=True)
        samples.sort()
        with self._file_lock:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if os.fstat(fd).st_size < DAY_S * DTYPE.itemsize:
                    os.ftruncate(fd, DAY_S * DTYPE.itemsize)  # sparse: no blocks for the gaps
                first, last = samples[0][0] - start, samples[-1][0] - start
                offset = first * DTYPE.itemsize
                old = np.frombuffer(
                    os.pread(fd, (last - first + 1) * DTYPE.itemsize, offset), dtype=DTYPE
                )
                codes = old.copy()
                for second, delta in samples:
                    index = second - start - first
                    codes[index] = max(int(codes[index]), encode(delta))
                os.pwrite(fd, codes.tobytes(), offset)
            finally:
                os.close(fd)
        self._warned = False

    def _day_path(self, camera: str, start: float) -> Path:
        return self.root / camera / f"{day_name(start)}.u16"

    # -- reading -------------------------------------------------------------------------------

    def points(self, camera: str, start: float, end: float, step: int) -> list[ActivityPoint]:
        """The peak of each `step` seconds in [start, end), steps aligned to Unix time;
        steps without any sample are left out."""
        first = int(start) - int(start) % step
        last = math.ceil(end)
        if last <= first:
            return []
        deltas = self._seconds(camera, first, last)
        short = -len(deltas) % step
        if short:
            deltas = np.concatenate([deltas, np.full(short, -1.0, np.float32)])
        blocks = deltas.reshape(-1, step).max(axis=1)
        return [
            ActivityPoint(float(first + i * step), round(float(peak), 3))
            for i, peak in enumerate(blocks)
            if peak >= 0 and first + i * step < end
        ]

    def _seconds(self, camera: str, first: int, last: int) -> np.ndarray:
        """Deltas for each second in [first, last), from the files and what is pending."""
        deltas = np.full(last - first, -1.0, np.float32)
        day = first - first % DAY_S
        while day < last:
            lo, hi = max(first, day), min(last, day + DAY_S)
            codes = self._read_day(camera, day, lo - day, hi - day)
            if codes is not None:
                deltas[lo - first : hi - first] = decode(codes)
            day += DAY_S
        with self._lock:
            pending = list(self._pending.get(camera, {}).items())
        for second, delta in pending:
            if first <= second < last:
                deltas[second - first] = max(float(deltas[second - first]), delta)
        return deltas

    def _read_day(self, camera: str, day: int, lo: int, hi: int) -> np.ndarray | None:
        try:
            with open(self._day_path(camera, day), "rb") as file:
                file.seek(lo * DTYPE.itemsize)
                data = file.read((hi - lo) * DTYPE.itemsize)
        except OSError:  # no file for that day (or no folder): no samples
            return None
        codes = np.zeros(hi - lo, DTYPE)
        got = np.frombuffer(data[: len(data) - len(data) % DTYPE.itemsize], dtype=DTYPE)
        codes[: len(got)] = got
        return codes

    # -- retention -----------------------------------------------------------------------------

    def days(self, camera: str) -> list[str]:
        folder = self.root / camera
        try:
            names = os.listdir(folder)
        except OSError:
            return []
        return sorted(name[: -len(".u16")] for name in names if name.endswith(".u16"))

    def cameras(self) -> list[str]:
        try:
            return sorted(name for name in os.listdir(self.root) if (self.root / name).is_dir())
        except OSError:
            return []

    def drop_before(self, camera: str, before: float) -> list[str]:
        """Delete the day files of days that ended at or before `before`; their names."""
        dropped = []
        for name in self.days(camera):
            if day_start(name) + DAY_S <= before:
                with self._file_lock:
                    (self.root / camera / f"{name}.u16").unlink(missing_ok=True)
                dropped.append(name)
        return dropped

    def prune(self, now: float | None = None) -> list[str]:
        """Drop the days older than each camera keeps its footage ("camera/day" names)."""
        now = time.time() if now is None else now
        self._pruned_at = time.monotonic()
        if self._keep_days is None:
            return []
        dropped = []
        for camera in self.cameras():
            days = self._keep_days(camera)
            if days > 0:
                since = now - days * DAY_S
                dropped += [f"{camera}/{name}" for name in self.drop_before(camera, since)]
        if dropped:
            log.info("retention deleted the motion activity of %s", ", ".join(dropped))
        return dropped

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="activity", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.flush_interval_s):
            try:
                self.flush()
                if time.monotonic() - self._pruned_at >= PRUNE_INTERVAL_S:
                    self.prune()
            except Exception:
                log.exception("writing motion activity failed")
