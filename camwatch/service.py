"""Service: builds the cameras and the web app from a Config, and starts and stops them in order."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import stat
from pathlib import Path
from typing import Protocol

import tornado.httpserver
import tornado.netutil
import tornado.web

from camwatch.capture.camera import Camera
from camwatch.config import Config, ConfigError, ServerConfig
from camwatch.recording.switches import Switches
from camwatch.server.app import Route, make_app
from camwatch.server.connections import ConnectionBudget, ConnectionGate
from camwatch.server.context import AppContext
from camwatch.server.limits import LimitedHTTPServer
from camwatch.server.login import is_loopback

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Tornado refuses larger bodies unread; handlers allow less


def tls_context(server: ServerConfig) -> ssl.SSLContext | None:
    """HTTPS when server.certfile is set (keyfile too, unless the key is in the same PEM)."""
    if server.keyfile and not server.certfile:
        raise ConfigError("server.keyfile: set server.certfile too to enable HTTPS")
    if not server.certfile:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(server.certfile, server.keyfile or None)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(
            f"server.certfile: cannot load the certificate and key ({e.strerror or e})"
        ) from None
    return context


def prepare_data_dir(server: ServerConfig) -> Path:
    """The data dir, made if missing and private (0700): clips, the index and the session key
    are nobody else's business. Checked before anything listens, naming the key."""
    path = Path(server.data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise ConfigError(f"server.data_dir: {path} exists and is not a directory") from None
    except OSError as e:
        raise ConfigError(f"server.data_dir: cannot create {path}: {e.strerror or e}") from None
    if not path.is_dir():
        raise ConfigError(f"server.data_dir: {path} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"server.data_dir: {path} is not writable by this user")
    status = path.stat()
    if status.st_mode & stat.S_ISVTX:  # /tmp and the like: shared by design, not ours to close
        log.warning("%s is a shared folder; keep camwatch's files in one of their own", path)
    elif status.st_mode & 0o077 and status.st_uid == os.getuid():
        log.warning(
            "%s was open to other users (%o); making it private (0700)",
            path,
            status.st_mode & 0o777,
        )
        path.chmod(0o700)
    return path


def warn_if_exposed(server: ServerConfig) -> None:
    if server.password or is_loopback(server.host):
        return
    line = "!" * 72
    log.warning(
        "\n%s\n  camwatch is listening on %s without a password: anyone who can reach "
        "this\n  machine can watch the cameras and delete recordings. Set [server] "
        "password\n  in the config file or CAMWATCH_PASSWORD in the environment.\n%s",
        line,
        server.host or "all addresses",
        line,
    )


class Component(Protocol):
    """A part of the service with a lifetime (recorders, event store, MQTT...)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Service:
    """The running application. `start()` needs a running event loop."""

    def __init__(self, config: Config, cameras: list[Camera] | None = None) -> None:
        self.config = config
        cams = cameras if cameras is not None else [Camera(c) for c in config.cameras]
        self.context = AppContext(
            config=config,
            cameras={c.name: c for c in cams},
            switches=Switches({c.name: c.config.motion for c in cams}),
        )
        self.components: list[Component] = []
        self.extra_routes: list[Route] = []
        self.server: tornado.httpserver.HTTPServer | None = None
        self.port = config.server.port

    def make_app(self) -> tornado.web.Application:
        return make_app(self.context, self.extra_routes)

    def start(self, *, listen: bool = True) -> None:
        loop = asyncio.get_running_loop()
        ssl_options = tls_context(self.config.server) if listen else None  # fail before starting
        for camera in self.context.cameras.values():
            camera.hub.bind(loop)
            camera.fragments.bind(loop)
        for component in self.components:
            component.start()
        for camera in self.context.cameras.values():
            camera.start()
        if listen:
            self._listen(ssl_options)

    def _listen(self, ssl_options: ssl.SSLContext | None) -> None:
        server_config = self.config.server
        app = self.make_app()
        warn_if_exposed(server_config)
        budget = ConnectionBudget.plan(
            len(self.context.cameras),
            max_connections=server_config.max_connections,
            max_client_connections=server_config.max_client_connections,
            select_safe=self.config.mqtt is not None,
        )
        log.info(
            "serving at most %d connections (%d per client address); %d of %d file "
            "descriptors kept for recording",
            budget.total,
            budget.per_client,
            budget.reserved,
            budget.descriptors,
        )
        self.server = LimitedHTTPServer(
            app,
            ssl_options=ssl_options,
            body_limit=MAX_BODY_BYTES,
            gate=ConnectionGate(budget),
            xheaders=False,
            max_header_size=32 * 1024,
            idle_connection_timeout=120,
            body_timeout=30,
        )
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
