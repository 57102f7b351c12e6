"""Microphone: a USB webcam's separate microphone (ALSA, or PulseAudio through ALSA's `pulse`
plugin) captured with PyAV's `alsa` input as PCM packets with capture times."""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from camwatch.capture.packets import EncodedPacket, SourceClock, StreamClock, StreamInfo

log = logging.getLogger(__name__)

RATE = 48000
CHUNK_S = 0.1  # PCM is gathered into packets this long (ALSA hands over ~3 ms at a time)
RETRY_S = 5.0
# Debian's multiarch directories, by machine
ARCH_DIRS = {
    "x86_64": "x86_64-linux-gnu",
    "aarch64": "aarch64-linux-gnu",
    "armv7l": "arm-linux-gnueabihf",
    "armv6l": "arm-linux-gnueabihf",
    "i686": "i386-linux-gnu",
}


def use_system_alsa(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Point the ALSA library bundled in PyAV's wheel at the system's configuration and plugins
    (it looks under its build-time paths and fails with `Unknown PCM default`), unless the
    user set them."""
    config = Path("/usr/share/alsa/alsa.conf")
    plugins = Path("/usr/lib") / ARCH_DIRS.get(platform.machine(), "") / "alsa-lib"
    if "ALSA_CONFIG_PATH" not in environ and config.is_file():
        environ["ALSA_CONFIG_PATH"] = str(config)
    if "ALSA_PLUGIN_DIR" not in environ and plugins.is_dir():
        environ["ALSA_PLUGIN_DIR"] = str(plugins)


def alsa_device(audio_source: str) -> str:
    """The ALSA device for `alsa:hw:1,0` or `pulse:NAME`: PulseAudio's source NAME through the
    `pulse` plugin, named in the device's DEVICE argument (libasound2-plugins defines it), so
    each microphone opens its own source; `pulse:default` is PulseAudio's default source (or
    PULSE_SOURCE, when the user set it)."""
    kind, _, name = audio_source.partition(":")
    if kind == "pulse":
        if not name or name == "default":
            return "pulse"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'pulse:DEVICE="{quoted}"'
    return name


class Microphone(threading.Thread):
    """Reads the microphone and hands `deliver` PCM packets of CHUNK_S (on this thread), timed
    by capture. A microphone that is missing or stops is retried every RETRY_S, logged once;
    the camera records video meanwhile."""

    def __init__(
        self, camera: str, audio_source: str, deliver: Callable[[EncodedPacket], None]
    ) -> None:
        super().__init__(name=f"mic-{camera}", daemon=True)
        self.camera, self.audio_source, self._deliver = camera, audio_source, deliver
        self._stopping = threading.Event()
        self._failing = False
        self.stream: StreamInfo | None = None  # set while it delivers
        self.packets = 0

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)

    def run(self) -> None:
        use_system_alsa()
        while not self._stopping.is_set():
            try:
                self._capture()
            except (av.FFmpegError, OSError) as e:
                if not self._failing:
                    self._failing = True
                    log.warning(
                        "camera %s: microphone %s: %s; recording without sound, retrying",
                        self.camera,
                        self.audio_source,
                        getattr(e, "strerror", None) or e,
                    )
            self.stream = None
            self._stopping.wait(RETRY_S)

    def _capture(self) -> None:
        device = alsa_device(self.audio_source)
        options = {"sample_rate": str(RATE), "channels": "1"}
        with av.open(device, format="alsa", options=options, timeout=5.0) as container:
            source = container.streams.audio[0]
            context = source.codec_context
            rate, channels = context.sample_rate or RATE, context.channels or 1
            info = StreamInfo(
                "audio",
                context.name,
                Fraction(1, rate),
                sample_rate=rate,
                channels=channels,
                layout="stereo" if channels == 2 else "mono",
            )
            clock = StreamClock(f"microphone {self.audio_source}", info.time_base, SourceClock())
            self.stream = info
            if self._failing:
                log.info("camera %s: microphone %s is back", self.camera, self.audio_source)
            self._failing = False
            self._pump(container, source, info, clock)

    def _pump(
        self,
        container: av.container.InputContainer,
        source: av.audio.stream.AudioStream,
        info: StreamInfo,
        clock: StreamClock,
    ) -> None:
        chunk: list[bytes] = []
        samples, counted, wanted = 0, 0, round(CHUNK_S * info.sample_rate)
        bytes_per_sample = 2 * info.channels  # s16
        for packet in container.demux(source):
            if self._stopping.is_set():
                return
            if packet.size == 0:
                continue
            chunk.append(bytes(packet))
            samples += packet.size // bytes_per_sample
            if samples < wanted:
                continue
            data, chunk = b"".join(chunk), []
            # stamped by the samples counted so far: the clock keeps the sound's own timing
            # and places it by when its first sample arrived
            lag = samples / info.sample_rate
            dts, pts, t, wall = clock.place(
                counted, counted, time.monotonic() - lag, time.time() - lag
            )
            self._deliver(EncodedPacket(info, data, dts, pts, t, wall, keyframe=True))
            self.packets += 1
            counted += samples
            samples = 0
