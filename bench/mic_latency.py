"""How late a `pulse:` microphone's sound is placed: camwatch's Microphone against the moment
the sound stops, with PulseAudio's null sink (tests/helpers/microphone.py) as the microphone.

Run from the repository root: `python3 -m bench.mic_latency [--trials 5]`. Each trial plays a
tone into the `mic` sink, reads `mic.monitor` with camwatch's Microphone and, beside it, with
PyAV's `alsa` input (whose timestamps FFmpeg corrects by the delay ALSA reports, snd_pcm_delay:
through the `pulse` plugin, PulseAudio's stream latency), kills the tone's player, and reports
where each places the last loud sample, after the kill. The kill is when the sound stops at the
latest, so these are upper bounds of the capture lag; the reported delay is also printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np

from camwatch.capture.microphone import RATE, Microphone, alsa_device, use_system_alsa
from camwatch.capture.packets import EncodedPacket
from tests.helpers.microphone import PulseMicrophone
from tests.helpers.support import wait_until

LOUD = 3000  # s16: the tone is at about half scale, silence at 0
SETTLE_S = 2.0


class _AlsaReader(threading.Thread):
    """PyAV's alsa input on the same source: (arrival, FFmpeg's pts, samples, last loud)."""

    def __init__(self, source: str) -> None:
        super().__init__(daemon=True)
        self.source = source
        self.rows: list[tuple[float, float, int, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        options = {"sample_rate": str(RATE), "channels": "1"}
        with av.open(alsa_device(self.source), format="alsa", options=options) as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                if self.stopping.is_set():
                    return
                if packet.size and packet.pts is not None:
                    self._add(packet)

    def _add(self, packet: av.Packet) -> None:
        samples = np.frombuffer(bytes(packet), np.int16)
        loud = np.flatnonzero(np.abs(samples) > LOUD)
        at = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
        self.rows.append((time.time(), at, samples.size, int(loud[-1]) if loud.size else -1))


def _last_loud_at(chunks: list[EncodedPacket]) -> float:
    """Wall-clock time camwatch gives the last loud sample."""
    for chunk in reversed(chunks):
        loud = np.flatnonzero(np.abs(np.frombuffer(chunk.data, np.int16)) > LOUD)
        if loud.size:
            return chunk.captured_at + loud[-1] / chunk.stream.sample_rate
    raise RuntimeError("no sound captured")


def trial(folder: Path) -> tuple[float, float, float]:
    """(camwatch's end of sound, FFmpeg's, FFmpeg's reported delay), seconds after the kill."""
    mic = PulseMicrophone(folder).start()
    chunks: list[EncodedPacket] = []
    camwatch = Microphone("bench", f"pulse:{mic.source}", chunks.append)
    reader = _AlsaReader(f"pulse:{mic.source}")
    try:
        camwatch.start()
        reader.start()
        wait_until(lambda: len(chunks) > 5 and len(reader.rows) > 100, timeout=20)
        time.sleep(SETTLE_S)
        assert mic.feeder is not None
        killed = time.time()
        mic.feeder.kill()
        time.sleep(1.0)
    finally:
        reader.stopping.set()
        reader.join(5)  # before PulseAudio goes: it would fail the read
        camwatch.stop()
        mic.stop()
    rows = reader.rows
    _, at, _, last = next(row for row in reversed(rows) if row[3] >= 0)
    delays = [a - (pts + n / RATE) for a, pts, n, _ in rows[len(rows) // 2 :]]
    return _last_loud_at(chunks) - killed, at + last / RATE - killed, statistics.median(delays)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    use_system_alsa()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.trials):
            results.append(trial(Path(folder)))
            print(_line(results[-1]))
    medians = tuple(statistics.median(r[i] for r in results) for i in range(3))
    print("median:", _line(medians))
    print("load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


def _line(values: tuple[float, ...]) -> str:
    camwatch, ffmpeg, delay = (1000 * value for value in values)
    return f"camwatch {camwatch:+.1f} ms, FFmpeg {ffmpeg:+.1f} ms, reported delay {delay:.1f} ms"


if __name__ == "__main__":
    main()
