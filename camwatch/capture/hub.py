"""Fan-out of one camera's frames: a latest-frame slot per subscriber, so slow ones skip frames."""

from __future__ import annotations

import asyncio
import threading

from camwatch.frame import Frame


class SubscriptionClosed(Exception):
    """The subscription was closed while waiting (client gone or server stopping)."""


class Subscription:
    """One viewer's single-frame slot. `next()` returns the newest frame it has not yet had."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        # a camera whose decoding was paused holds an old picture: wait for a fresh one
        self._slot: Frame | None = None if hub.paused else hub.latest
        self._last_seq = -1
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.frames_offered = 0

    def offer(self, frame: Frame) -> None:
        """Called on the loop by the hub; replaces whatever the slot held."""
        self._slot = frame
        self.frames_offered += 1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, timeout: float | None = None) -> Frame:
        """The newest unseen frame; raises SubscriptionClosed, or TimeoutError after `timeout`."""
        while not self.closed:
            slot = self._slot
            if slot is not None and slot.seq != self._last_seq:
                self._last_seq = slot.seq
                return slot
            # Awaited as it is, with a plain timer rather than asyncio.wait_for: a frame then
            # wakes the viewer in one turn of the loop, not three (wait_for's own future and
            # callbacks), which is most of what a viewer costs the loop per frame.
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            expiry = None if timeout is None else loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            finally:
                if expiry is not None:
                    expiry.cancel()
        raise SubscriptionClosed()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._hub._subscribers.discard(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Hub:
    """Holds one camera's latest frame and hands each new one to every subscriber's slot.

    `publish` may be called from any thread; delivery happens on the event loop it is bound to.
    The hub encodes the frames viewers get, so the JPEG quality of the live view is its own.
    `wants_frames` tells the camera whether anyone (a viewer, a snapshot) needs pictures;
    `paused` is set by the camera while none are decoded, so `latest` may be old.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop | None = None, *, jpeg_quality: int = 80
    ) -> None:
        self._loop = loop
        self.jpeg_quality = jpeg_quality
        self._subscribers: set[Subscription] = set()
        self.latest: Frame | None = None
        self.closed = False
        self.paused = False
        self._frame_waiters: set[asyncio.Future[Frame]] = set()  # snapshots, on the loop
        # The frame handed over but not yet delivered on the loop: at most one, so a busy
        # loop never makes frames pile up in its callback queue.
        self._pending: Frame | None = None
        self._pending_lock = threading.Lock()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @property
    def viewer_count(self) -> int:
        return len(self._subscribers)

    @property
    def wants_frames(self) -> bool:
        """Someone watches or waits for a picture (read on the capture thread)."""
        return bool(self._subscribers or self._frame_waiters)

    async def next_frame(self, timeout: float) -> Frame | None:
        """The next frame published (on the loop), or None after `timeout` seconds."""
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._frame_waiters.add(waiter)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return None
        finally:
            self._frame_waiters.discard(waiter)

    def jpeg(self, frame: Frame) -> bytes:
        """The frame's JPEG for viewers, encoded once (blocking: not on the event loop)."""
        return frame.jpeg(self.jpeg_quality)

    def subscribe(self) -> Subscription:
        subscription = Subscription(self)
        if self.closed:
            subscription.closed = True
        else:
            self._subscribers.add(subscription)
        return subscription

    def publish(self, frame: Frame) -> None:
        """Hand a frame over from the capture thread. Encodes the JPEG here, once, if anyone
        is watching, so that the event loop never encodes. A frame no viewer or snapshot
        waits for becomes `latest` here; one someone waits for, on the loop."""
        if self._subscribers:
            self.jpeg(frame)
        if self._loop is None or self._loop.is_closed():
            self.latest = frame
            return
        with self._pending_lock:
            already_scheduled = self._pending is not None
            if not already_scheduled and not (self._subscribers or self._frame_waiters):
                # Nobody on the loop waits for it: it is the latest at once, without waking
                # the loop, which is most of what an unwatched camera costs it per frame.
                self.latest = frame
                return
            self._pending = frame
        if already_scheduled:
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver_pending)
        except RuntimeError:  # the loop closed between the check and the call
            with self._pending_lock:
                self._pending = None
            self.latest = frame

    def _deliver_pending(self) -> None:
        with self._pending_lock:
            frame, self._pending = self._pending, None
        if frame is not None:
            self._deliver(frame)

    def _deliver(self, frame: Frame) -> None:
        self.latest = frame
        for subscription in list(self._subscribers):
            subscription.offer(frame)
        for waiter in list(self._frame_waiters):
            if not waiter.done():
                waiter.set_result(frame)

    def close(self) -> None:
        """Close every subscription, waking its waiter. Safe from any thread: the waking
        happens on the bound loop, as asyncio futures require."""
        self.closed = True
        loop = self._loop
        if loop is not None and loop.is_running() and not _running_on(loop):
            try:
                loop.call_soon_threadsafe(self._close_subscriptions)
                return
            except RuntimeError:  # the loop closed meanwhile: nobody can be waiting on it
                pass
        self._close_subscriptions()

    def _close_subscriptions(self) -> None:
        for subscription in list(self._subscribers):
            subscription.close()


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
