"""Command line: `camwatch [options]` serves; `camwatch scan VIDEO` analyses a file."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Sequence

from camwatch import config as cfg
from camwatch.config import CameraConfig, Config, ConfigError

log = logging.getLogger("camwatch")

# option -> (section, key); camera options apply to the first camera
SERVER_OPTIONS = {"host": "host", "port": "port", "data_dir": "data_dir", "log_level": "log_level"}
CAMERA_OPTIONS = {"source": "source", "fps": "fps", "width": "width", "height": "height"}


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML config file")
    parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="TCP port (default 8100)")
    parser.add_argument("--source", help="auto, demo, device index or path, file, or URL")
    parser.add_argument("--fps", type=float, help="frames per second (default 10)")
    parser.add_argument("--width", type=int, help="capture width (default 1280)")
    parser.add_argument("--height", type=int, help="capture height (default 720)")
    parser.add_argument("--data-dir", help="where clips and the event index go")
    parser.add_argument("--threshold", type=float, help="motion threshold, %% of pixels")
    parser.add_argument("--log-level", help="debug, info, warning or error")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="camwatch",
                            description="Webcam streamer with motion recording.")
    add_serve_options(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    """The config file (if any) with command-line options applied on top, validated."""
    config = cfg.load_file(args.config) if args.config else Config()
    cfg.apply_environment(config)
    for option, key in SERVER_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            cfg.set_value(config.server, key, value, "--" + option.replace("_", "-"))
    if not config.cameras:
        config.cameras.append(CameraConfig(name="cam"))
    first = config.cameras[0]
    for option, key in CAMERA_OPTIONS.items():
        value = getattr(args, option, None)
        if value is not None:
            cfg.set_value(first, key, value, "--" + option)
    if getattr(args, "threshold", None) is not None:
        cfg.set_value(first.motion, "threshold", args.threshold, "--threshold")
    return config


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def limit_opencv_threads() -> None:
    """One OpenCV thread: per-frame work here is small (a 320-wide grey image), and OpenCV's
    worker pool spins after each small job, which cost more CPU than it saved (bench/)."""
    import cv2

    cv2.setNumThreads(1)


async def serve(config: Config) -> None:
    from camwatch.service import Service
    from camwatch.wiring import build_service

    limit_opencv_threads()
    service: Service = build_service(config)
    service.start()
    scheme = "https" if config.server.certfile else "http"
    log.info("camwatch serving on %s://%s:%d/", scheme, config.server.host, service.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping")
    await service.stop()
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "scan":
        from camwatch.scan import main as scan_main
        return int(scan_main(argv[1:]))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse printed the message (or the help); report, don't raise
        return e.code if isinstance(e.code, int) else 2
    try:
        config = config_from_args(args)
    except ConfigError as e:
        print(f"camwatch: error: {e}", file=sys.stderr)
        return 2
    setup_logging(config.server.log_level)
    try:
        asyncio.run(serve(config))
    except ConfigError as e:
        print(f"camwatch: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"camwatch: error: cannot listen on {config.server.host}:{config.server.port}: "
              f"{e.strerror or e}", file=sys.stderr)
        return 1
    return 0
