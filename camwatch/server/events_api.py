"""Event API: list (newest first, paged), show and delete recorded events."""

from __future__ import annotations

import datetime as dt

import tornado.web

from camwatch.config import CAMERA_NAME
from camwatch.recording.index import EVENT_ID, EventRecording, EventStore
from camwatch.server.base import BaseHandler
from camwatch.server.context import AppContext

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class BadQuery(ValueError):
    """A query argument that does not parse; the message names it."""


def event_store(context: AppContext) -> EventStore:
    if context.events is None:
        raise tornado.web.HTTPError(503, "event recording is not enabled")
    return context.events


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit: expected an integer from 1 to {MAX_LIMIT}, got {text!r}")
    return limit


def parse_time(text: str) -> float | None:
    """ISO 8601 (naive means UTC) -> epoch seconds; a '+' that arrived as a space is restored."""
    for candidate in (text, text.replace(" ", "+")):
        try:
            moment = dt.datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    return None


def parse_before(store: EventStore, text: str | None) -> tuple[float | None, str | None]:
    """`before` as (time, tie-breaking id): an event id pages after that event exactly."""
    if text is None or text == "":
        return None, None
    record = store.get(text) if EVENT_ID.match(text) else None
    if record is not None:
        return record.started_at, record.id
    moment = parse_time(text)
    if moment is None:
        raise BadQuery(f"before: expected an ISO 8601 time or an event id, got {text!r}")
    return moment, None


class EventsHandler(BaseHandler):
    def get(self) -> None:
        store = event_store(self.context)
        camera = self.get_query_argument("camera", None) or None
        try:
            if camera is not None and not CAMERA_NAME.match(camera):
                raise BadQuery(f"camera: expected a camera name ([a-z0-9_-]+), got {camera!r}")
            limit = parse_limit(self.get_query_argument("limit", None))
            before, before_id = parse_before(store, self.get_query_argument("before", None))
        except BadQuery as e:
            self.write_json({"error": str(e)}, status=400)
            return
        records = store.list(camera=camera, limit=limit, before=before, before_id=before_id)
        self.write_json([record.to_json() for record in records])


class EventHandler(BaseHandler):
    def get(self, event_id: str) -> None:
        record = event_store(self.context).get(event_id)
        if record is None:
            raise tornado.web.HTTPError(404, f"no event with id {event_id}")
        self.write_json(record.to_json())

    def delete(self, event_id: str) -> None:
        try:
            deleted = event_store(self.context).delete(event_id, allow_recording=False)
        except EventRecording:
            raise tornado.web.HTTPError(
                409, f"event {event_id} is still recording; delete it once it has ended"
            ) from None
        if not deleted:
            raise tornado.web.HTTPError(404, f"no event with id {event_id}")
        self.set_status(204)
        self.finish()
