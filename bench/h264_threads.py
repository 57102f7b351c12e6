"""H.264 decoding's CPU (all threads) per frame with one thread against FFmpeg's frame and slice
threads, on bench/rtsp.py's camera files: what PacketDecoder's `thread_count = 1` saves.

    python3 bench/h264_threads.py --sizes 640x480,1920x1080 --repeats 5
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from procstat import load_average
from rtsp import camera_file

# (thread_count, thread_type): PacketDecoder's, FFmpeg's default (one per core), frame, slice
CONFIGS = ((1, "NONE"), (0, "AUTO"), (2, "FRAME"), (2, "SLICE"))


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def video_packets(path: Path) -> tuple[list[bytes], bytes | None]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [bytes(p) for p in container.demux(stream) if p.size]
        extradata = stream.codec_context.extradata
    return packets, extradata


def decode_all(packets: list[bytes], extradata: bytes | None, count: int, kind: str) -> float:
    """CPU ms a frame (every thread of the process), decoding as the viewer's pictures are."""
    codec = av.CodecContext.create("h264", "r")
    assert isinstance(codec, av.VideoCodecContext)
    codec.extradata = extradata
    codec.thread_count = count
    if kind != "NONE":
        codec.thread_type = kind
    frames, start = 0, process_cpu()
    for data in packets:
        frames += len(codec.decode(av.Packet(data)))
    frames += len(codec.decode(None))
    return (process_cpu() - start) / max(frames, 1) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="640x480,1920x1080")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"start {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load_average()}")
    with tempfile.TemporaryDirectory(prefix="camwatch-h264-") as tmp:
        for size in args.sizes.split(","):
            packets, extradata = video_packets(camera_file(Path(tmp), size, args.fps, 30))
            cpu: dict[tuple[int, str], list[float]] = {c: [] for c in CONFIGS}
            for _ in range(args.repeats):  # interleaved
                for config in CONFIGS:
                    cpu[config].append(decode_all(packets, extradata, *config))
            for (count, kind), values in cpu.items():
                runs = " / ".join(f"{v:.2f}" for v in values)
                median = statistics.median(values)
                print(f"| {size} | {count} {kind} | {median:.2f} ms | {runs} |")
    print(f"end {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
