"""A real RTSP camera for tests: GStreamer's RTSP server on 127.0.0.1 serving H.264+AAC files.

Run as a script under Debian's /usr/bin/python3 (which has `gi`; the venv does not):
    /usr/bin/python3 rtsp_camera.py PORT MOUNT=FILE [MOUNT=FILE ...]
Each client gets its own pipeline playing the file from the start in real time, so motion in
the file happens at known times after connecting. `RtspCamera` starts and stops it from tests.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"


def pipeline(path: str, *, audio: str = "aac") -> str:
    """The launch line for one file: its H.264 video (and AAC audio) as RTP payloads. An
    MPEG-TS file (`.ts`, SPS/PPS in band) is sent as video alone, whatever it switches to."""
    if path.endswith(".ts"):
        return (
            f"( filesrc location={path} ! tsdemux ! queue ! h264parse ! "
            "rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
    video = f"filesrc location={path} ! qtdemux name=d d.video_0 ! queue ! h264parse ! "
    video += "rtph264pay name=pay0 pt=96 config-interval=0"
    if audio == "aac":
        return f"( {video} d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97 )"
    if audio == "pcma":  # G.711 A-law, as many cheap cameras send
        return (
            f"( {video} d.audio_0 ! queue ! decodebin ! audioconvert ! audioresample ! "
            "audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 )"
        )
    return f"( {video} )"


def serve(port: int, mounts: dict[str, tuple[str, str]]) -> None:  # pragma: no cover - child
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    for mount, (path, audio) in mounts.items():
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(pipeline(path, audio=audio))
        server.get_mount_points().add_factory(f"/{mount}", factory)
    server.attach(None)
    GLib.MainLoop().run()


class RtspCamera:
    """The RTSP server as a child process; `url(mount)` once `start()` returned."""

    def __init__(self, port: int, mounts: dict[str, Path], audio: str = "aac") -> None:
        self.port = port
        self.mounts = mounts
        self.audio = audio
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, mount: str) -> str:
        return f"rtsp://127.0.0.1:{self.port}/{mount}"

    def start(self, timeout: float = 20.0) -> RtspCamera:
        args = [f"{m}={p}:{self.audio}" for m, p in self.mounts.items()]
        self.process = subprocess.Popen(
            [SYSTEM_PYTHON, __file__, str(self.port), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"RTSP server exited: {self.process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("RTSP server did not start listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


if __name__ == "__main__":  # pragma: no cover - run by RtspCamera under /usr/bin/python3
    mounts = {}
    for arg in sys.argv[2:]:
        mount, rest = arg.split("=", 1)
        path, audio = rest.rsplit(":", 1)
        mounts[mount] = (path, audio)
    serve(int(sys.argv[1]), mounts)
