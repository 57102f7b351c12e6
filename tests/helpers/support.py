"""Test helpers: a real camwatch server on a free loopback port, in a thread of its own."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from camwatch.config import CameraConfig, Config
from camwatch.recording.index import EventStore
from camwatch.service import Service
from camwatch.wiring import attach_event_store, attach_timeline

ServiceFactory = Callable[[Config], Service]


def demo_config(
    data_dir: str,
    *,
    fps: float = 10,
    width: int = 320,
    height: int = 240,
    cameras: list[CameraConfig] | None = None,
) -> Config:
    config = Config()
    config.server.host = "127.0.0.1"
    config.server.port = 0
    config.server.data_dir = data_dir
    config.cameras = cameras or [
        CameraConfig(name="cam", source="demo", fps=fps, width=width, height=height)
    ]
    return config


class ServerThread:
    """Runs a Service (built by `factory`, default: the real wiring) on its own event loop."""

    def __init__(self, config: Config, factory: ServiceFactory | None = None) -> None:
        if factory is None:
            from camwatch.wiring import build_service

            factory = build_service
        self.config = config
        self._factory = factory
        self.service: Service | None = None
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.service = self._factory(self.config)
            self.loop.run_until_complete(self._start())
        except BaseException as e:  # surfaced to the test in start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    async def _start(self) -> None:
        assert self.service is not None
        self.service.start()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    @property
    def port(self) -> int:
        assert self.service is not None
        return self.service.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the server's loop and return its result (for poking at state safely)."""

        async def wrapper() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(10)

    def stop(self) -> None:
        if self.service is not None and self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.service.stop(), self.loop).result(20)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def get(self, path: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def get_json(self, path: str) -> Any:
        status, _, body = self.get(path)
        assert status == 200, (status, body)
        return json.loads(body)


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str = "condition",
) -> Any:
    """Poll until predicate() is truthy (bounded); returns its value or fails the test."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def events_only(config: Config) -> Service:
    """The service with the event store and its routes, without recorders (no surprise events)."""
    service = Service(config)
    attach_event_store(service)
    return service


def timeline_only(config: Config) -> Service:
    """The event store and the timeline routes (recordings, activity, export), no recorders."""
    service = Service(config)
    attach_timeline(service, attach_event_store(service))
    return service


def slow_demo(data_dir: Path) -> Config:
    return demo_config(str(data_dir), fps=2, width=160, height=120)


def store_of(server: ServerThread) -> EventStore:
    assert server.service is not None
    store = server.service.context.events
    assert store is not None
    return store


def assert_waits_for(call: Callable[[], object], release: threading.Event) -> None:
    """`call()` (on a thread of its own) is still waiting after 0.5 s, and returns once
    `release` is set (within 30 s)."""
    caller = threading.Thread(target=call)
    caller.start()
    caller.join(0.5)
    try:
        assert caller.is_alive()  # still waiting
    finally:
        release.set()
        caller.join(30)
    assert not caller.is_alive()
