"""Command line: `camwatch [options]` serves; `camwatch scan VIDEO` analyses a file."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import av

from camwatch import config as cfg
from camwatch.capture.library_log import RateLimit, route_native_output
from camwatch.capture.redact import RedactingFormatter
from camwatch.config import CameraConfig, Config, ConfigError, MotionConfig

if TYPE_CHECKING:
    from camwatch.motion.scan import ScannedEvent
    from camwatch.service import Service

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
    parser = ArgumentParser(prog="camwatch", description="Webcam streamer with motion recording.")
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
    """One handler on stderr: every line redacted; FFmpeg's and OpenCV's output and errors that
    repeat once a frame rate-limited
    (once `route_library_output` has sent it there)."""
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RateLimit())
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def limit_opencv_threads() -> None:
    """One OpenCV thread: per-frame work here is small (a 320-wide grey image), and OpenCV's
    worker pool spins after each small job, which cost more CPU than it saved (bench/)."""
    import cv2

    cv2.setNumThreads(1)


async def serve(config: Config) -> None:
    import asyncio  # the server's: not loaded by a scan

    from camwatch.wiring import build_service  # the server's modules: not loaded by a scan

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


SCAN_MOTION_OPTIONS = {
    "threshold": float,
    "pixel_threshold": int,
    "stable_frames": int,
    "min_motion_frames": int,
    "pre_roll_seconds": float,
    "max_event_seconds": float,
}


def build_scan_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="camwatch scan", description="Run motion detection over a video file."
    )
    parser.add_argument("video", help="the video file to analyse")
    parser.add_argument("--json", action="store_true", help="print a JSON object")
    parser.add_argument("--record", metavar="DIR", help="also write event clips to DIR")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="take motion settings from the first camera in this TOML file",
    )
    for key, kind in SCAN_MOTION_OPTIONS.items():
        parser.add_argument("--" + key.replace("_", "-"), type=kind)
    return parser


def scan_settings_from_args(args: argparse.Namespace) -> MotionConfig:
    """The first camera's motion settings from --config (or the defaults), options on top."""
    settings = MotionConfig()
    if args.config:
        loaded = cfg.load_file(args.config)
        if loaded.cameras:
            settings = loaded.cameras[0].motion
    for key in SCAN_MOTION_OPTIONS:
        value = getattr(args, key)
        if value is not None:
            cfg.set_value(settings, key, value, "--" + key.replace("_", "-"))
    return settings


def limit_blas_threads() -> None:
    """One BLAS thread for numpy and OpenCV (before either loads): nothing camwatch runs uses
    BLAS, and OpenBLAS starts a thread per core that spins a while (0.06 CPU s a scan)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def run_scan(args: argparse.Namespace) -> int:
    settings = scan_settings_from_args(args)
    if not Path(args.video).is_file():
        raise ConfigError(f"VIDEO: no such file: {args.video}")
    try:
        limit_blas_threads()
        limit_opencv_threads()
        if args.record:
            from camwatch.recording.offline import record_file  # only when recording

            make_files_private()
            events = record_file(args.video, settings, Path(args.record))
        else:
            from camwatch.motion.scan import scan  # not loaded by the server

            events = scan(args.video, settings)
    except av.FFmpegError as e:
        raise ConfigError(f"VIDEO: cannot decode {args.video}: {e}") from e
    print_events(events, as_json=args.json)
    return 0


def print_events(events: list[ScannedEvent], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"events": [vars(e) for e in events]}))
        return
    for i, event in enumerate(events, 1):
        print(
            f"event {i}: {event.start_s:.2f}s - {event.end_s:.2f}s, "
            f"{event.motion_frames} motion frames, peak delta {event.peak_delta:.2f}%"
        )
    if not events:
        print("no events")


def make_files_private() -> None:
    """Clips, the index and keys are private to this user (0700 folders, 0600 files), whatever
    umask we were started with; hooks inherit it."""
    os.umask(os.umask(0o077) | 0o077)


def route_library_output() -> None:
    """What FFmpeg and OpenCV print goes through the log handler (see capture/library_log)."""
    stream = route_native_output()
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def run_server(args: argparse.Namespace) -> int:
    from camwatch.server.connections import raise_descriptor_limit
    from camwatch.service import prepare_data_dir

    config = config_from_args(args)
    setup_logging(config.server.log_level)
    make_files_private()
    prepare_data_dir(config.server)
    raise_descriptor_limit()
    route_library_output()  # last: from here on, the process's stderr is a pipe we read
    import asyncio  # the server's: not loaded by a scan

    try:
        asyncio.run(serve(config))
    except OSError as e:
        print(
            f"camwatch: error: cannot listen on {config.server.host}:{config.server.port}: "
            f"{e.strerror or e}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run `camwatch [options]` or `camwatch scan VIDEO ...`; bad input of either exits 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    is_scan = bool(argv) and argv[0] == "scan"
    parser = build_scan_parser() if is_scan else build_parser()
    try:
        args = parser.parse_args(argv[1:] if is_scan else argv)
    except SystemExit as e:  # argparse printed the message (or the help); report, don't raise
        return e.code if isinstance(e.code, int) else 2
    try:
        return run_scan(args) if is_scan else run_server(args)
    except ConfigError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
