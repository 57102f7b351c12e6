"""Service: builds the cameras and the web app from a Config, and starts and stops them in order."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Protocol

import tornado.httpserver
import tornado.web

from camwatch.camera import Camera
from camwatch.config import Config
from camwatch.server.app import Route, make_app
from camwatch.server.context import AppContext

log = logging.getLogger(__name__)


class Component(Protocol):
    """A part of the service with a lifetime (recorders, event store, MQTT...)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Service:
    """The running application. `start()` needs a running event loop."""

    def __init__(self, config: Config, cameras: list[Camera] | None = None) -> None:
        self.config = config
        cams = cameras if cameras is not None else [Camera(c) for c in config.cameras]
        self.context = AppContext(config=config, cameras={c.name: c for c in cams})
        self.components: list[Component] = []
        self.extra_routes: list[Route] = []
        self.server: tornado.httpserver.HTTPServer | None = None
        self.port = config.server.port

    def make_app(self) -> tornado.web.Application:
        return make_app(self.context, self.extra_routes)

    def start(self, *, listen: bool = True) -> None:
        loop = asyncio.get_running_loop()
        for camera in self.context.cameras.values():
            camera.hub.bind(loop)
        for component in self.components:
            component.start()
        for camera in self.context.cameras.values():
            camera.start()
        if listen:
            self._listen()

    def _listen(self) -> None:
        server_config = self.config.server
        ssl_options = None
        if server_config.certfile:
            ssl_options = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ssl_options.load_cert_chain(server_config.certfile, server_config.keyfile or None)
        self.server = tornado.httpserver.HTTPServer(
            self.make_app(), ssl_options=ssl_options, max_body_size=1024 * 1024,
            xheaders=False)
        sockets = tornado.netutil.bind_sockets(self.port, server_config.host)
        self.port = sockets[0].getsockname()[1]
        self.server.add_sockets(sockets)

    async def stop(self) -> None:
        """Stop taking clients, stop the cameras, then the components (recorders finish clips)."""
        if self.server is not None:
            self.server.stop()
        loop = asyncio.get_running_loop()
        for camera in self.context.cameras.values():
            await loop.run_in_executor(None, camera.stop)
        for component in reversed(self.components):
            await loop.run_in_executor(None, component.stop)
        if self.server is not None:
            await asyncio.wait_for(self.server.close_all_connections(), 2.0)
