"""Stand-ins for the browser tests: an events API served through Playwright routes, real media."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import av
import cv2
import numpy as np


def h264_clip(
    path: Path, seconds: float = 3.0, fps: int = 10, width: int = 320, height: int = 240
) -> bytes:
    """A real browser-playable MP4 (H.264, yuv420p, moov first): a square crossing the frame."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        frames = int(seconds * fps)
        for i in range(frames):
            image = np.full((height, width, 3), (60, 50, 40), np.uint8)
            x = int(i * (width - 60) / max(1, frames - 1))
            top_left, bottom_right = (x, height // 2 - 30), (x + 60, height // 2 + 30)
            cv2.rectangle(image, top_left, bottom_right, (40, 170, 240), -1)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def thumbnail_jpeg(width: int = 320, height: int = 180) -> bytes:
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = (90, 70, 50)
    cv2.circle(image, (width // 2, height // 2), height // 3, (60, 190, 250), -1)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(
    camera: str, started: dt.datetime, seconds: float = 12.0, *, recording: bool = False
) -> dict[str, Any]:
    """An event as the contract's GET /api/events shows it."""
    event_id = f"{camera}-{started.strftime('%Y%m%d-%H%M%S')}"
    return {
        "id": event_id,
        "camera": camera,
        "started_at": iso(started),
        "ended_at": None if recording else iso(started + dt.timedelta(seconds=seconds)),
        "duration_s": 0.0 if recording else seconds,
        "frames": int(seconds * 10),
        "motion_frames": int(seconds * 6),
        "peak_delta": 2.345,
        "video_url": f"/media/{event_id}.mp4",
        "thumbnail_url": f"/media/{event_id}.jpg",
        "size_bytes": 1_234_567,
        "status": "recording" if recording else "complete",
    }


def started_epoch(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(event["started_at"]).timestamp()


def is_before(event: dict[str, Any], moment: float, event_id: str | None) -> bool:
    started = started_epoch(event)
    return started < moment or (
        event_id is not None and started == moment and event["id"] < event_id
    )


class FakeEventsApi:
    """GET/DELETE /api/events... and /media/... as the contract describes, via page.route."""

    def __init__(self, events: list[dict[str, Any]], clip: bytes, thumbnail: bytes) -> None:
        self.events = list(events)
        self.clip = clip
        self.thumbnail = thumbnail
        self.requests: list[tuple[str, str]] = []  # (method, url)

    def install(self, page: Any) -> None:
        page.route(re.compile(r"/api/events(\?|/|$)"), self._api)
        page.route(re.compile(r"/media/[^/]+\.(mp4|jpg)$"), self._media)

    def list_requests(self) -> list[dict[str, list[str]]]:
        return [
            parse_qs(urlparse(url).query)
            for method, url in self.requests
            if method == "GET" and urlparse(url).path.endswith("/api/events")
        ]

    def _api(self, route: Any) -> None:
        request = route.request
        self.requests.append((request.method, request.url))
        url = urlparse(request.url)
        if url.path.endswith("/api/events"):
            query = parse_qs(url.query)
            chosen = sorted(self.events, key=lambda e: (started_epoch(e), e["id"]), reverse=True)
            if "camera" in query:
                chosen = [e for e in chosen if e["camera"] == query["camera"][0]]
            if "before" in query:
                chosen = [e for e in chosen if is_before(e, *self._position(query["before"][0]))]
            limit = int(query.get("limit", ["50"])[0])
            self._json(route, 200, chosen[:limit])
            return
        event_id = url.path.rsplit("/", 1)[1]
        event = next((e for e in self.events if e["id"] == event_id), None)
        if event is None:
            self._json(route, 404, {"error": "no such event"})
        elif request.method == "DELETE":
            self.events.remove(event)
            self._json(route, 200, {"deleted": event_id})
        else:
            self._json(route, 200, event)

    def _media(self, route: Any) -> None:
        request = route.request
        self.requests.append((request.method, request.url))
        event_id = urlparse(request.url).path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        if not any(e["id"] == event_id for e in self.events):
            self._json(route, 404, {"error": "not found"})
        elif request.url.endswith(".jpg"):
            route.fulfill(status=200, content_type="image/jpeg", body=self.thumbnail)
        else:
            fulfill_range(route, self.clip, "video/mp4")

    def _position(self, before: str) -> tuple[float, str | None]:
        """`before` as the real API reads it: an event id, else an ISO 8601 time (else 400)."""
        event = next((e for e in self.events if e["id"] == before), None)
        if event is not None:
            return started_epoch(event), event["id"]
        return dt.datetime.fromisoformat(before).timestamp(), None

    @staticmethod
    def _json(route: Any, status: int, value: Any) -> None:
        route.fulfill(status=status, content_type="application/json", body=json.dumps(value))


def fulfill_range(route: Any, data: bytes, content_type: str) -> None:
    """Answer with HTTP Range support, as the real media handler does."""
    match = re.match(r"bytes=(\d+)-(\d*)", route.request.headers.get("range", ""))
    headers = {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    if not match:
        route.fulfill(status=200, headers=headers, body=data)
        return
    start = int(match.group(1))
    end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    route.fulfill(status=206, headers=headers, body=data[start : end + 1])
