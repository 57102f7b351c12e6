"""Live handlers: websocket frames, MJPEG over HTTP, and snapshots, all fed by the camera's hub."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
from collections.abc import Awaitable
from functools import partial

import tornado.iostream
import tornado.web
import tornado.websocket

from camwatch.capture.camera import Camera
from camwatch.capture.hub import Hub, Subscription, SubscriptionClosed
from camwatch.frame import Frame
from camwatch.motion.view import overlay_png
from camwatch.server import mse, wire
from camwatch.server.base import BaseHandler
from camwatch.server.context import AppContext
from camwatch.server.guard import Guarded, cross_origin_error

log = logging.getLogger(__name__)

BOUNDARY = wire.BOUNDARY.decode()
IDLE_TIMEOUT_S = 30.0
# A viewer that has not taken a frame in this long has stopped reading: drop it.
WRITE_STALL_TIMEOUT_S = 30.0
# A snapshot of a camera decoding nothing waits for the next keyframe: longer than the GOP of
# cameras as they ship (1-4 s; some set 10 s), short enough for a home-automation call.
SNAPSHOT_WAIT_S = 10.0
# Every live viewer's bytes, shared per frame; entries go with their frames.
WIRE = wire.WireCache()
# ?format= of the live websocket: binary JPEG (the default, also as "binary"), base64 JPEG
# text, or the camera's H.264 as fragmented MP4
JPEG, BINARY, BASE64, MP4 = "jpeg", "binary", "base64", "mp4"
FORMATS = (JPEG, BINARY, BASE64, MP4)


def frame_meta(camera: Camera, frame: Frame) -> str:
    """The ?meta=1 side-channel message sent before a frame: motion state for the live graph."""
    return json.dumps(
        {
            "type": "meta",
            "seq": frame.seq,
            "t": round(frame.captured_at, 3),
            "delta": round(camera.latest_delta, 4),
            "threshold": camera.config.motion.threshold,
            "recording": camera.recording,
            "online": frame.online,
        }
    )


async def jpeg_of(hub: Hub, frame: Frame) -> bytes:
    """The frame's JPEG; encoded by the hub on a worker thread if nobody has encoded it yet."""
    if frame.has_jpeg:
        return hub.jpeg(frame)
    return await asyncio.get_running_loop().run_in_executor(None, hub.jpeg, frame)


def write_now(stream: tornado.iostream.IOStream, data: bytes) -> Awaitable[None] | None:
    """Write `data` to the stream: None if the socket took it all at once, else the write
    (resolved once drained) of what is left, queued on the stream as Tornado does.

    A plain TCP stream with nothing queued is sent to directly: one send(), and no future,
    callback or buffer on the loop, which are most of what a viewer costs it per frame. A TLS
    stream, or one with bytes still queued, goes through Tornado's write."""
    if type(stream) is tornado.iostream.IOStream and not stream.writing() and not stream.closed():
        try:
            sent = stream.socket.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # the client went away: Tornado's write closes the stream and says so
            return stream.write(data)
        if sent == len(data):
            return None
        return stream.write(memoryview(data)[sent:])
    return stream.write(data)


async def drained(write: Awaitable[None] | None) -> bool:
    """Wait for a write to reach the socket (None: it has); False if the client stalled past
    the timeout.

    Errors of the write (the client went away) are raised; a write given up on (stalled, or
    the handler cancelled) fails quietly once the connection is closed.
    """
    if write is None:
        return True
    future = asyncio.ensure_future(write)
    if future.done():  # the usual case: the socket took it all at once, no timer needed
        future.result()
        return True
    future.add_done_callback(_consume_outcome)
    done, _ = await asyncio.wait({future}, timeout=WRITE_STALL_TIMEOUT_S)
    if future in done:
        future.result()
        return True
    return False


def _consume_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: no "exception was never retrieved" log


class LiveSocketHandler(Guarded, tornado.websocket.WebSocketHandler):
    """Sends one message per frame: binary JPEG, or base64 text with ?format=base64;
    ?format=mp4 is the camera's H.264 (server/mse.py). Another ?format= is refused with 400
    before the upgrade, naming the formats there are.

    With ?meta=1 each frame is preceded by a small JSON text message (see `frame_meta`).
    The next frame is taken only once the previous write has drained, so a slow client
    skips frames instead of queueing them.
    """

    context: AppContext

    def initialize(self, context: AppContext) -> None:
        self.context = context
        self._subscription: Subscription | None = None
        self._pump: asyncio.Task[None] | None = None

    async def get(self, name: str | None = None) -> None:
        if self.context.camera(name) is None:
            raise tornado.web.HTTPError(404, "no such camera")
        if self.request.headers.get("Upgrade", "").lower() != "websocket":
            raise tornado.web.HTTPError(400, "this URL is a websocket (Upgrade: websocket)")
        kind = self.get_query_argument("format", JPEG)
        if kind not in FORMATS:
            # the message is %-formatted with the args (a raw value may hold a %)
            raise tornado.web.HTTPError(
                400, "format: expected one of %s, got %r", ", ".join(FORMATS), kind[:40]
            )
        # Cross-site websocket hijacking: a page elsewhere must not open this socket with the
        # viewer's cookie or cached password (answered here so the refusal is JSON too).
        origin = self.request.headers.get("Origin")
        if cross_origin_error(self.request) is not None and not (
            origin and self.check_origin(origin)
        ):
            raise tornado.web.HTTPError(403, "cross-site websocket refused")
        await super().get(name)

    def check_origin(self, origin: str) -> bool:
        """Called for cross-origin requests only; trusts what context.check_origin trusts
        (e.g. a reverse proxy's public name), and nothing by default."""
        if (
            urllib.parse.urlsplit(origin).netloc.lower()
            == self.request.headers.get("Host", "").lower()
        ):
            return True  # same origin (Tornado < 6.6 asks about every Origin)
        checker = self.context.check_origin
        return checker is not None and checker(origin)

    def open(self, name: str | None = None) -> None:
        camera = self.context.camera(name)
        assert camera is not None
        kind = self.get_query_argument("format", JPEG)
        with_meta = self.get_query_argument("meta", "0") not in ("0", "", "false")
        if kind == MP4:
            self._pump = asyncio.ensure_future(self._send_mp4(camera, with_meta))
            return
        self._subscription = camera.hub.subscribe()
        self._pump = asyncio.ensure_future(
            self._send_frames(camera, self._subscription, kind == BASE64, with_meta)
        )

    async def _send_mp4(self, camera: Camera, with_meta: bool) -> None:
        """?format=mp4: the camera's H.264 as fMP4 for MSE (see server/mse.py)."""
        try:
            await mse.send_fragments(camera, self._send, self.close, with_meta=with_meta)
        except mse.NotStreamable as e:
            error = json.dumps({"type": "error", "error": str(e), "fallback": "jpeg"})
            await self._send(wire.websocket_frame(wire.OPCODE_TEXT, error.encode()))
            self.close(1003, "not H.264: use JPEG")
        except TimeoutError:
            self.close(1011, "no keyframe from the camera")
        except (
            tornado.websocket.WebSocketClosedError,
            tornado.iostream.StreamClosedError,
            asyncio.CancelledError,
        ):
            pass

    async def _send_frames(
        self, camera: Camera, subscription: Subscription, as_text: bool, with_meta: bool
    ) -> None:
        try:
            while True:
                frame = await subscription.next(IDLE_TIMEOUT_S)
                data = await jpeg_of(camera.hub, frame)
                meta = partial(frame_meta, camera, frame) if with_meta else None
                if not await self._send(
                    WIRE.websocket_messages(frame, data, as_text=as_text, meta=meta)
                ):
                    return
        except SubscriptionClosed:
            self.close(1001, "server stopping")  # tell the client, so it reconnects
        except (
            tornado.websocket.WebSocketClosedError,
            tornado.iostream.StreamClosedError,
            asyncio.CancelledError,
        ):
            pass
        except TimeoutError:
            self.close(1011, "no frames")

    async def _send(self, messages: bytes) -> bool:
        """Send ready-made websocket frames; False (and the socket closed) if the viewer
        stopped reading."""
        if await drained(self._write_raw(messages)):
            return True
        log.info("dropping websocket viewer %s: not reading", self.request.remote_ip)
        self.close(1008, "not reading")
        return False

    def _write_raw(self, messages: bytes) -> Awaitable[None] | None:
        """Write websocket frames built once per frame (shared by all viewers) straight to the
        socket (see write_now). Valid because this handler never negotiates compression
        (get_compression_options is None)."""
        connection = self.ws_connection
        stream = connection.stream if connection is not None else None
        if stream is None:
            raise tornado.websocket.WebSocketClosedError()
        return write_now(stream, messages)

    def on_message(self, message: str | bytes) -> None:
        pass  # the live socket is one-way; ignore pings from old clients

    def on_close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
        if self._pump is not None:
            self._pump.cancel()


class MjpegHandler(BaseHandler):
    """multipart/x-mixed-replace stream, playable in <img>, ffmpeg, VLC, OpenCV, Home Assistant."""

    async def get(self, name: str | None = None) -> None:
        camera = self.camera_or_404(name)
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.set_header("Cache-Control", "no-cache, no-store, must-revalidate")
        self.set_header("Pragma", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        subscription = camera.hub.subscribe()
        self._subscription = subscription
        # Tornado frames a body of unknown length as HTTP/1.1 chunks; the parts are written
        # pre-framed the same way, straight to the socket, so its state stays consistent.
        chunked = self.request.version == "HTTP/1.1"
        try:
            await self.flush()  # the headers
            stream = self.request.connection.stream  # type: ignore[union-attr]
            while True:
                frame = await subscription.next(IDLE_TIMEOUT_S)
                data = await jpeg_of(camera.hub, frame)
                part = WIRE.mjpeg_part(frame, data, chunked=chunked)
                if not await drained(write_now(stream, part)):
                    log.info("dropping MJPEG viewer %s: not reading", self.request.remote_ip)
                    self.request.connection.close()  # type: ignore[union-attr]
                    return
        except (SubscriptionClosed, tornado.iostream.StreamClosedError, TimeoutError):
            pass
        finally:
            subscription.close()

    def on_connection_close(self) -> None:
        subscription = getattr(self, "_subscription", None)
        if subscription is not None:
            subscription.close()


async def current_frame(camera: Camera) -> Frame | None:
    """The camera's latest picture. An online camera whose decoding is paused (nobody needed
    pixels) holds an old one, or none: decoding resumes at the next keyframe for this request,
    awaited up to SNAPSHOT_WAIT_S (None after that, as for a camera with no frame yet)."""
    hub = camera.hub
    frame = hub.latest
    # online since the last offline placeholder, or paused since the last picture
    stale = frame is None or not frame.online or hub.paused
    if camera.state.online and stale:
        return await hub.next_frame(SNAPSHOT_WAIT_S)
    return frame


class SnapshotHandler(BaseHandler):
    """The latest frame as a JPEG."""

    async def get(self, name: str | None = None) -> None:
        camera = self.camera_or_404(name)
        frame = await current_frame(camera)
        if frame is None:
            raise tornado.web.HTTPError(503, "no frame yet")
        data = await jpeg_of(camera.hub, frame)
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "no-store")
        self.finish(data)


class MotionViewHandler(BaseHandler):
    """What the detector counts as moving right now (red) and the masked areas (dark), as a
    transparent PNG the page lays over the live picture while one tunes the settings."""

    async def get(self, name: str | None = None) -> None:
        camera = self.camera_or_404(name)
        if camera.recorder is None or not camera.config.motion.enabled:
            raise tornado.web.HTTPError(404, "motion detection is off for this camera")
        foreground = camera.recorder.motion_foreground()
        if foreground is None:
            raise tornado.web.HTTPError(503, "no motion image yet")
        mask = [[list(point) for point in polygon] for polygon in camera.config.motion.mask]
        png = await asyncio.get_running_loop().run_in_executor(None, overlay_png, foreground, mask)
        self.set_header("Content-Type", "image/png")
        self.set_header("Cache-Control", "no-store")
        self.finish(png)
