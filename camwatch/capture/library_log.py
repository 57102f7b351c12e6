"""FFmpeg's, OpenCV's and camwatch's own once-a-frame lines, each logged at most once a minute."""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TextIO

import av

from camwatch.deferred import after_load

log = logging.getLogger(__name__)

NATIVE_LOGGER = "camwatch.ffmpeg"  # lines the C libraries write to stderr
REPEATING_LOGGER = "camwatch.repeating"  # camwatch's own lines that could come once a frame
# `[h264 @ 0x55d0c8]` on FFmpeg's lines; `[ WARN:0@1.2]` on OpenCV's
_FFMPEG_LINE = re.compile(r"^\[(?P<context>[\w:.-]+) @ (?:0x)?[0-9a-fA-F]+\]\s*")
_VARYING = re.compile(r"0x[0-9a-fA-F]+|\d+")
MAX_LINE = 4096


def kind_of(message: str) -> str:
    """Messages that differ only in numbers and addresses are one kind."""
    return _VARYING.sub("#", message)


class RateLimit(logging.Filter):
    """Lets through one record per kind (logger and message with its numbers masked) per
    `interval` from loggers under `prefixes`; the next one let through says how many of its
    kind were held back. Bounded: the least recently seen kinds are forgotten first."""

    def __init__(
        self,
        prefixes: tuple[str, ...] = (NATIVE_LOGGER, "libav", REPEATING_LOGGER),
        *,
        interval: float = 60.0,
        max_kinds: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.prefixes, self.interval, self.max_kinds = prefixes, interval, max_kinds
        self._clock = clock
        self._kinds: OrderedDict[tuple[str, str], list[float]] = OrderedDict()  # [last, held]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, kind_of(record.getMessage()))
        now = self._clock()
        with self._lock:
            entry = self._kinds.get(key)
            if entry is not None and now - entry[0] < self.interval:
                entry[1] += 1
                return False
            held = int(entry[1]) if entry is not None else 0
            self._kinds[key] = [now, 0]
            self._kinds.move_to_end(key)
            while len(self._kinds) > self.max_kinds:
                self._kinds.popitem(last=False)
        if held:
            record.msg = f"{record.getMessage()} ({held} more like it in the last minute)"
            record.args = None
        return True


def repeating_logger(component: str) -> logging.Logger:
    """The logger for camwatch's own lines that could come once a frame (a bug downstream that
    fails on every frame): with `RateLimit` on the handler, each kind of line, traceback and
    all, is logged at most once a minute, with the count of those held back."""
    return logging.getLogger(f"{REPEATING_LOGGER}.{component}")


def _emit(line: str) -> None:
    match = _FFMPEG_LINE.match(line)
    if match is None:
        logging.getLogger(NATIVE_LOGGER).warning("%s", line)
        return
    context = match["context"].split(":")[0]
    logging.getLogger(f"{NATIVE_LOGGER}.{context}").warning("%s", line[match.end() :])


def _pump(read_fd: int) -> None:
    """Read what C code writes to fd 2 and log it line by line (a thread of its own)."""
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_LINE:  # a line without an end: log what we have
            lines, pending = [*lines, pending], b""
        for raw in lines:
            text = raw.decode("utf-8", "replace").rstrip("\r")
            if text.strip():
                try:
                    _emit(text)
                except Exception:  # logging must not stop the pump (or stderr would block)
                    pass


def _libav_errors_only() -> None:
    av.logging.restore_default_callback()
    av.logging.set_libav_level(av.logging.ERROR)


def route_native_output() -> TextIO:
    """Send what the C libraries write to stderr (fd 2) through logging, and PyAV's FFmpeg
    messages (errors only) there too; returns a text stream on the original stderr, for the
    log handler and for Python's own sys.stderr.

    PyAV's Python log callback is left off (it takes the GIL from FFmpeg's threads, which
    PyAV documents as deadlock-prone); FFmpeg's own callback prints, and we read the pipe."""
    after_load("av", _libav_errors_only)  # PyAV loads on first use (camwatch/deferred.py)
    original = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    stream = os.fdopen(original, "w", buffering=1, encoding="utf-8", errors="replace")
    sys.stderr = stream
    threading.Thread(target=_pump, args=(read_fd,), name="native-log", daemon=True).start()
    return stream
