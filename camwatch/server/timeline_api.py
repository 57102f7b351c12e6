"""Timeline API: a camera's recordings, motion activity and an MP4 export of a time range."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import tornado.iostream
import tornado.web

from camwatch.recording.export import ExportError, NoVideo, export_range
from camwatch.recording.footage import FootageIndex
from camwatch.server.base import BaseHandler
from camwatch.server.context import AppContext
from camwatch.server.events_api import parse_time

log = logging.getLogger(__name__)

DAY_S = 86400
MAX_LIST_S = 31 * DAY_S  # recordings and activity: a month at a time
MAX_EXPORT_S = DAY_S
MAX_POINTS = 50_000
DEFAULT_STEP_S = 60
EXPORT_DIR = "exports"  # under the data dir: temporary files while a download is made
CHUNK_BYTES = 256 * 1024
FUTURE_SLACK_S = 5.0  # clocks of the browser and the server differ a little
# Each export is a temporary copy of up to a day of footage on the data disk: a few at once,
# or downloads would fill the disk and retention would delete footage to make room for them.
MAX_EXPORTS = 2


class BadRange(ValueError):
    """A query argument is missing or wrong; the message names it."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class TimeRange:
    start: float
    end: float


def parse_moment(name: str, text: str) -> float:
    """ISO 8601 (UTC unless it says otherwise) or Unix seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
        moment = parse_time(text)
        if moment is not None:
            value = moment
    if not math.isfinite(value):
        raise BadRange(f"{name}: expected an ISO 8601 UTC time or Unix seconds, got {text!r}")
    return value


def parse_range(
    start_text: str | None,
    end_text: str | None,
    *,
    max_seconds: float,
    required: bool = False,
    now: float | None = None,
) -> TimeRange:
    """The half-open range [start, end); without them, the last 24 hours (unless required)."""
    now = time.time() if now is None else now
    start = parse_moment("start", start_text) if start_text else None
    end = parse_moment("end", end_text) if end_text else None
    if start is not None and start > now + FUTURE_SLACK_S:
        raise BadRange(f"start: {start_text!r} is in the future")
    for name, value in (("start", start), ("end", end)):
        if required and value is None:
            raise BadRange(f"{name}: required (an ISO 8601 UTC time or Unix seconds)")
    end = now if end is None else end
    start = end - DAY_S if start is None else start
    if end <= start:
        raise BadRange(f"end: must be after start (start {start_text!r}, end {end_text!r})")
    if end - start > max_seconds:
        raise BadRange(
            f"end: the range may be at most {max_seconds / 3600:g} h long, "
            f"got {(end - start) / 3600:.4g} h"
        )
    return TimeRange(start, end)


def parse_step(text: str | None, span: float) -> int:
    step = DEFAULT_STEP_S
    if text:
        step = int(text) if text.isascii() and text.isdigit() else 0
        if not 1 <= step <= DAY_S:
            raise BadRange(f"step: expected whole seconds from 1 to {DAY_S}, got {text!r}")
    if span / step > MAX_POINTS:
        raise BadRange(f"step: {step} s gives more than {MAX_POINTS} points; use a larger step")
    return step


def footage_index(context: AppContext) -> FootageIndex:
    if context.footage is None:
        raise tornado.web.HTTPError(503, "recording is not enabled")
    return context.footage


class ExportSlots:
    """How many exports are being made at once (on the event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0

    def take(self) -> bool:
        if self.running >= self.limit:
            return False
        self.running += 1
        return True

    def give_back(self) -> None:
        self.running = max(0, self.running - 1)


EXPORTS = ExportSlots(MAX_EXPORTS)


class TimelineHandler(BaseHandler):
    def query_range(self, *, max_seconds: float, required: bool = False) -> TimeRange:
        return parse_range(
            self.get_query_argument("start", None),
            self.get_query_argument("end", None),
            max_seconds=max_seconds,
            required=required,
        )

    def bad(self, error: BadRange) -> None:
        self.write_json({"error": str(error)}, status=error.status)


class RecordingsHandler(TimelineHandler):
    """A month of footage is tens of thousands of rows, and a clip's file is checked for each:
    off the event loop."""

    async def get(self, name: str) -> None:
        camera = self.camera_or_404(name)
        try:
            span = self.query_range(max_seconds=MAX_LIST_S)
        except BadRange as e:
            self.bad(e)
            return
        footage = footage_index(self.context)
        recordings = await asyncio.get_running_loop().run_in_executor(
            None, footage.recordings, camera.name, span.start, span.end
        )
        self.write_json(
            {"camera": camera.name, "segments": [item.to_json() for item in recordings]}
        )


class ActivityHandler(TimelineHandler):
    """Reads up to 31 day files (169 KiB each) and reduces them: off the event loop."""

    async def get(self, name: str) -> None:
        camera = self.camera_or_404(name)
        activity = self.context.activity
        if activity is None:
            raise tornado.web.HTTPError(503, "motion activity is not recorded")
        try:
            span = self.query_range(max_seconds=MAX_LIST_S)
            step = parse_step(self.get_query_argument("step", None), span.end - span.start)
        except BadRange as e:
            self.bad(e)
            return
        points = await asyncio.get_running_loop().run_in_executor(
            None, activity.points, camera.name, span.start, span.end, step
        )
        self.write_json(
            {
                "camera": camera.name,
                "step_s": step,
                "points": [[int(p.t), p.peak_delta] for p in points],
            }
        )


class ExportHandler(TimelineHandler):
    """Remuxes on a worker thread into a temporary file, streams it, then deletes it."""

    async def get(self, name: str) -> None:
        camera = self.camera_or_404(name)
        try:
            span = self.query_range(max_seconds=MAX_EXPORT_S, required=True)
        except BadRange as e:
            self.bad(e)
            return
        footage = footage_index(self.context)
        recordings = footage.recordings(camera.name, span.start, span.end)
        if not recordings:
            self.write_json({"error": "start: no footage between start and end"}, status=404)
            return
        if not EXPORTS.take():
            self.set_header("Retry-After", "30")
            message = f"{EXPORTS.limit} exports are being made; try again when one is done"
            self.write_json({"error": message}, status=503)
            return
        folder = footage.events.root / EXPORT_DIR
        target = folder / f"{camera.name}-{secrets.token_hex(6)}.mp4"
        loop = asyncio.get_running_loop()
        try:
            folder.mkdir(exist_ok=True)
            await loop.run_in_executor(
                None, export_range, footage.files(recordings), span.start, span.end, target
            )
            await self._send(target, camera.name, span)
        except NoVideo:
            self.write_json({"error": "start: no footage between start and end"}, status=404)
        except ExportError as e:
            self.write_json({"error": f"start: {e}"}, status=409)
        except tornado.iostream.StreamClosedError:
            pass  # the download was cancelled
        except OSError as e:  # the disk is full, or the data dir not writable
            log.warning("export to %s failed: %s", target, e.strerror or e)
            if self._headers_written:  # cut short: the client sees a truncated download
                self.request.connection.close()  # type: ignore[union-attr]
            else:
                error = f"cannot write the export: {e.strerror or e}"
                self.write_json({"error": error}, status=500)
        finally:
            EXPORTS.give_back()
            _remove(target)

    async def _send(self, path: os.PathLike[str], camera: str, span: TimeRange) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(span.start))
        minutes = max(1, round((span.end - span.start) / 60))
        self.set_header("Content-Type", "video/mp4")
        self.set_header(
            "Content-Disposition", f'attachment; filename="{camera}-{stamp}-{minutes}min.mp4"'
        )
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Length", str(os.stat(path).st_size))
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK_BYTES):
                self.write(chunk)
                await self.flush()
        self.finish()


def _remove(path: Path) -> None:
    """Delete an export's temporary file, if it was made; a failure is logged, not raised (the
    answer has been sent by then, and a traceback would follow it)."""
    try:
        path.unlink(missing_ok=True)
    except NotADirectoryError:
        pass  # the exports folder is a file (what the disk refused): no export was written
    except OSError as e:
        log.warning("export: cannot remove %s: %s", path, e.strerror or e)
