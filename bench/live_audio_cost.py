"""CPU of the live fMP4 muxer (capture/fmp4.py LiveMuxer) per second of camera stream: the
camera's H.264 alone against H.264 with its AAC as the second track, in-process.

Run from the repository root: `python3 -m bench.live_audio_cost [--repeats 5]`. Footage: 60 s
of tests/helpers/camera_files.py's walking figure (H.264 Constrained Baseline, GOP 2 s, mono
AAC at 48 kHz, 47 packets a second) at 480x360 10 fps and 1280x720 15 fps, demuxed once; each
run feeds every packet to a fresh LiveMuxer (the sound dropped for the video-only one) and
counts this thread's CPU time. Median of `--repeats` runs, the two kinds interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from camwatch.capture.fmp4 import LiveMuxer
from camwatch.capture.packets import EncodedPacket, StreamInfo
from tests.helpers.camera_files import camera_packets, walking_figure

SECONDS = 60.0


def cpu_per_stream_second(
    video: StreamInfo, audio: StreamInfo | None, packets: list[EncodedPacket]
) -> tuple[float, int]:
    """(CPU ms per second of stream, messages a viewer gets)."""
    fed = [p for p in packets if p.is_video or audio is not None]
    started = time.thread_time()
    muxer = LiveMuxer(video, audio)
    messages = sum(len(muxer.feed(packet)) for packet in fed)
    muxer.close()
    return (time.thread_time() - started) * 1000 / SECONDS, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats
    print("| stream | video only, CPU ms/s | with AAC, CPU ms/s | ratio | messages/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as folder:
        for size, fps in (("480x360", 10), ("1280x720", 15)):
            path = walking_figure(
                Path(folder) / f"{size}.mp4", seconds=SECONDS, size=size, fps=fps, gop=2 * fps
            )
            video, audio, packets = camera_packets(path)
            alone, both, messages = [], [], (0, 0)
            for _ in range(repeats):
                cost, count = cpu_per_stream_second(video, None, packets)
                alone.append(cost)
                cost, sound_count = cpu_per_stream_second(video, audio, packets)
                both.append(cost)
                messages = (count, sound_count)
            a, b = statistics.median(alone), statistics.median(both)
            print(
                f"| {size} {fps} fps | {a:.2f} | {b:.2f} | {b / a:.2f} | "
                f"{messages[0] / SECONDS:.1f} / {messages[1] / SECONDS:.1f} |"
            )


if __name__ == "__main__":
    main()
