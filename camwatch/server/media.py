"""/media/{id}.mp4 and /media/{id}.jpg: an event's clip or thumbnail, found through the index only,
served by Tornado's StaticFileHandler (Range, If-Modified-Since, 206/416) from the data dir."""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

import tornado.web

from camwatch.recording.paths import CLIPS_DIR
from camwatch.server.base import BaseHandler
from camwatch.server.context import AppContext
from camwatch.server.events_api import event_store

MEDIA_NAME = re.compile(r"^(?P<id>[A-Za-z0-9_-]+)\.(?P<kind>mp4|jpg)$")
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

    def parse_url_path(self, url_path: str) -> str:
        match = MEDIA_NAME.match(url_path)
        record = event_store(self.context).get(match["id"]) if match else None
        if match is None or record is None:
            raise not_found()
        self._kind = match["kind"]
        return record.video_path if self._kind == "mp4" else record.thumbnail_path

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        # Containment is checked in validate_absolute_path, to answer 404 rather than 403.
        return os.path.abspath(os.path.join(root, path))

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        # Only clips and thumbnails: never the index, the session key or anything else that
        # shares the data dir, even if an index row were made to point there.
        real_root = os.path.realpath(os.path.join(root, CLIPS_DIR))
        real_path = os.path.realpath(absolute_path)
        if os.path.commonpath([real_root, real_path]) != real_root or real_path == real_root:
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
