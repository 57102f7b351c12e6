"""/media/{id}.mp4, /media/{id}.jpg, /media/segments/{id}.mp4: an event's clip or thumbnail, or a
continuous segment, found through the index only, served by Tornado's StaticFileHandler (Range,
If-Modified-Since, 206/416) from the data dir."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Generator
from typing import Any

import tornado.web

from camwatch.recording.export import NoVideo
from camwatch.recording.index import EventRecord
from camwatch.recording.paths import CLIPS_DIR
from camwatch.recording.segment_index import SEGMENTS_DIR
from camwatch.server.base import BaseHandler
from camwatch.server.context import AppContext
from camwatch.server.events_api import event_store

MEDIA_NAME = re.compile(r"^(?P<id>[A-Za-z0-9_-]+)\.(?P<kind>mp4|jpg)$")
MEDIA_DIRS = (CLIPS_DIR, SEGMENTS_DIR)
SEGMENT_NAME = re.compile(r"^segments/(?P<id>[a-f0-9]+)\.mp4$")
CONTENT_TYPES = {"mp4": "video/mp4", "jpg": "image/jpeg"}


def not_found() -> tornado.web.HTTPError:
    return tornado.web.HTTPError(404, "no such media")


class MediaHandler(BaseHandler, tornado.web.StaticFileHandler):
    """The URL names an event, never a path: the file is whatever the index says, and must
    resolve (symlinks included) to a regular .mp4/.jpg file inside the data dir's clips/."""

    def initialize(self, context: AppContext) -> None:  # type: ignore[override]
        BaseHandler.initialize(self, context)
        tornado.web.StaticFileHandler.initialize(self, path=str(event_store(context).data_dir))
        self._kind = "mp4"

    async def get(self, path: str, include_body: bool = True) -> None:
        # An event of continuous mode is a range of the segments: remuxed (off the event
        # loop) into one MP4 before it is served like any clip.
        self._range_path: str | None = None
        record = self._event(MEDIA_NAME.match(path))
        footage = self.context.footage
        if record is not None and not record.video_path and path.endswith(".mp4"):
            if footage is None:
                raise not_found()
            loop = asyncio.get_running_loop()
            try:
                self._range_path = await loop.run_in_executor(None, footage.event_video, record)
            except NoVideo:
                raise not_found() from None
            except OSError as e:  # a full disk, or an unwritable data dir: said, no traceback
                raise tornado.web.HTTPError(
                    500, "cannot make the event's video: %s", e.strerror or e
                ) from None
        await super().get(path, include_body)

    def _event(self, match: re.Match[str] | None) -> EventRecord | None:
        return event_store(self.context).get(match["id"]) if match else None

    def parse_url_path(self, url_path: str) -> str:
        segment = SEGMENT_NAME.match(url_path)
        footage = self.context.footage
        if segment is not None and footage is not None:
            relative = footage.segment_path(segment["id"])
            if relative is None:
                raise not_found()
            self._kind = "mp4"
            return relative
        match = MEDIA_NAME.match(url_path)
        record = self._event(match)
        if match is None or record is None:
            raise not_found()
        self._kind = match["kind"]
        if self._kind == "jpg":
            return record.thumbnail_path
        return record.video_path or getattr(self, "_range_path", None) or ""

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        # Containment is checked in validate_absolute_path, to answer 404 rather than 403.
        return os.path.abspath(os.path.join(root, path))

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        # Only clips and thumbnails: never the index, the session key or anything else that
        # shares the data dir, even if an index row were made to point there.
        real_path = os.path.realpath(absolute_path)
        if not any(
            os.path.commonpath([real_root, real_path]) == real_root and real_path != real_root
            for real_root in (os.path.realpath(os.path.join(root, d)) for d in MEDIA_DIRS)
        ):
            raise not_found()
        if not real_path.endswith("." + self._kind) or not os.path.isfile(real_path):
            raise not_found()
        return real_path

    def get_content_type(self) -> str:
        return CONTENT_TYPES[self._kind]

    def compute_etag(self) -> str | None:
        # Size and mtime rather than a content hash: clips are large, and grow while recording.
        stat = self._stat()
        return f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'

    def get_content(  # type: ignore[override]
        self, abspath: str, start: int | None = None, end: int | None = None
    ) -> Generator[bytes, None, None]:
        # A clip still being written grows: stop at the size announced in Content-Length.
        if end is None:
            end = self.get_content_size()
        return super().get_content(abspath, start, end)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "private, no-cache")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.clear_header("Content-Range")
        super().write_error(status_code, **kwargs)
