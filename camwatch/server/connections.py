"""Connection limits from the file-descriptor budget: per client address and in total, refused
before descriptors run out (recording keeps its reserve); pressure logged once a minute."""

from __future__ import annotations

import errno
import logging
import os
import resource
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tornado.ioloop import IOLoop
from tornado.iostream import IOStream

log = logging.getLogger(__name__)

MAX_SOFT_LIMIT = 65536  # raising further buys nothing a camera recorder needs
SELECT_LIMIT = 1024  # FD_SETSIZE: paho-mqtt's network loop uses select(), which stops here
LIGHT_CLIENT = 4  # connections: a browser's or a health check's, not a flood's
ACCEPTS_PER_WAKEUP = 128  # as Tornado's accept handler: other work gets its turn
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_BUSY_BODY = b'{"error": "too many connections; try again later"}'
BUSY_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Retry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
    % (len(_BUSY_BODY), _BUSY_BODY)
)


def raise_descriptor_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (at most MAX_SOFT_LIMIT) where allowed;
    the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_SOFT_LIMIT if hard == resource.RLIM_INFINITY else min(hard, MAX_SOFT_LIMIT)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as e:
            log.info("cannot raise the open-file limit from %d to %d: %s", soft, target, e)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_descriptors() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64  # no /proc: a generous guess for a started process


@dataclass(frozen=True)
class ConnectionBudget:
    """How many client connections may be open at once, in total and per client address."""

    descriptors: int  # the limit the connections have to fit in
    reserved: int  # kept for clip files, cameras, the index, hooks and MQTT
    total: int
    per_client: int
    # the last `spare` of `total` only for addresses with fewer than LIGHT_CLIENT connections:
    # a flood from a few addresses cannot lock out a viewer or a health check
    spare: int

    @classmethod
    def plan(
        cls,
        cameras: int,
        *,
        max_connections: int = 0,
        max_client_connections: int = 0,
        select_safe: bool = False,
        in_use: int | None = None,
    ) -> ConnectionBudget:
        """From the soft descriptor limit: what is open now, plus a reserve of 64, 16 per
        camera and an eighth of the limit, stays out of the connections' reach.

        `select_safe` keeps every descriptor below 1024 (MQTT's select() loop needs that)."""
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if limit == resource.RLIM_INFINITY:
            limit = MAX_SOFT_LIMIT
        if select_safe:
            limit = min(limit, SELECT_LIMIT)
        reserved = 64 + 16 * cameras + limit // 8
        room = max(8, limit - (open_descriptors() if in_use is None else in_use) - reserved)
        total = min(room, max_connections or room)
        per_client = max_client_connections or max(4, min(128, total // 4))
        return cls(limit, reserved, total, min(total, per_client), min(32, total // 8))


@dataclass
class _Pressure:
    logged_at: float
    message: str
    refused: int = 0  # since logged_at


class PressureLog:
    """A warning the first time a limit refuses something, then at most one line per
    `interval` seconds for each kind, with the count of refusals since."""

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval, self._clock = interval, clock
        self._kinds: dict[str, _Pressure] = {}

    def note(self, kind: str, message: str) -> None:
        now = self._clock()
        entry = self._kinds.get(kind)
        if entry is None or (not entry.refused and now - entry.logged_at >= self.interval):
            log.warning("%s (logged at most once a minute from now on)", message)
            self._kinds[kind] = _Pressure(now, message)
            return
        entry.refused += 1
        entry.message = message
        self.flush()

    def flush(self) -> None:
        now = self._clock()
        for entry in self._kinds.values():
            if entry.refused and now - entry.logged_at >= self.interval:
                seconds = now - entry.logged_at
                log.warning(
                    "%s; %d times in the last %.0f s", entry.message, entry.refused, seconds
                )
                entry.logged_at, entry.refused = now, 0


class ConnectionGate:
    """Counts the open connections by client address; says whether another may be served.

    A connection counts from its accept until its stream closes. Tornado tells us when the
    HTTP loop of a connection ends; a websocket keeps its stream past that, so such streams
    are kept aside and swept once they close."""

    def __init__(self, budget: ConnectionBudget, pressure: PressureLog | None = None) -> None:
        self.budget = budget
        self.pressure = pressure or PressureLog()
        self.total = 0
        self._by_client: dict[str, int] = {}
        self._clients: dict[IOStream, str] = {}
        self._detached: set[IOStream] = set()

    def admit(self, client: str) -> bool:
        if self._full(client) or self._by_client.get(client, 0) >= self.budget.per_client:
            self.sweep()
        if self._full(client):
            self.pressure.note(
                "total",
                f"refusing connections: {self.total} open, the limit for "
                f"{self.budget.descriptors} file descriptors",
            )
            return False
        if self._by_client.get(client, 0) >= self.budget.per_client:
            self.pressure.note(
                "client",
                f"refusing connections from {client}: {self.budget.per_client} open "
                "(the per-client limit)",
            )
            return False
        return True

    def _full(self, client: str) -> bool:
        budget = self.budget
        if self._by_client.get(client, 0) < LIGHT_CLIENT:
            return self.total >= budget.total
        return self.total >= budget.total - budget.spare

    def opened(self, stream: IOStream, client: str) -> None:
        self._clients[stream] = client
        self._by_client[client] = self._by_client.get(client, 0) + 1
        self.total += 1

    def http_ended(self, stream: IOStream) -> None:
        if stream.closed():
            self._closed(stream)
        elif stream in self._clients:
            self._detached.add(stream)

    def sweep(self) -> None:
        for stream in [s for s in self._detached if s.closed()]:
            self._detached.discard(stream)
            self._closed(stream)
        self.pressure.flush()

    def _closed(self, stream: IOStream) -> None:
        client = self._clients.pop(stream, None)
        if client is None:
            return
        self.total -= 1
        left = self._by_client[client] - 1
        if left:
            self._by_client[client] = left
        else:
            del self._by_client[client]


def refuse(connection: socket.socket) -> None:
    """A JSON 503 if the socket takes it at once (it is new: its buffer is empty), then close."""
    try:
        connection.setblocking(False)
        connection.send(BUSY_ANSWER)
    except OSError:
        pass
    finally:
        connection.close()


class Acceptor:
    """Tornado's accept handler, asking the gate before a connection is served, and pausing
    for a moment when the process is out of descriptors after all (instead of a busy loop
    that logs a traceback per attempt)."""

    def __init__(
        self,
        sock: socket.socket,
        callback: Callable[[socket.socket, Any], None],
        gate: ConnectionGate,
        pause_seconds: float = 1.0,
    ) -> None:
        self.sock, self.callback, self.gate = sock, callback, gate
        self.pause_seconds = pause_seconds
        self.io_loop = IOLoop.current()
        self.removed = self.paused = False
        self.io_loop.add_handler(sock, self.accept_ready, IOLoop.READ)

    def accept_ready(self, fd: Any, events: int) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            if self.removed or self.paused:
                return
            try:
                connection, address = self.sock.accept()
            except BlockingIOError:
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:
                if e.errno not in OUT_OF_DESCRIPTORS:
                    raise
                self.pause(e)
                return
            client = address[0] if isinstance(address, tuple) else ""
            if self.gate.admit(client):
                self.callback(connection, address)
            else:
                refuse(connection)

    def pause(self, error: OSError) -> None:
        self.gate.pressure.note("descriptors", f"cannot accept connections: {error.strerror}")
        self.paused = True
        self.io_loop.remove_handler(self.sock)
        self.io_loop.call_later(self.pause_seconds, self.resume)

    def resume(self) -> None:
        if not self.removed and self.paused:
            self.paused = False
            self.io_loop.add_handler(self.sock, self.accept_ready, IOLoop.READ)

    def remove(self) -> None:
        if not self.paused and not self.removed:
            self.io_loop.remove_handler(self.sock)
        self.removed = True


def add_accept_handler(
    sock: socket.socket, callback: Callable[[socket.socket, Any], None], gate: ConnectionGate
) -> Callable[[], None]:
    """As tornado.netutil.add_accept_handler, through the gate; returns the remover."""
    return Acceptor(sock, callback, gate).remove
