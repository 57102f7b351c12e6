"""Where an RTSP camera's demuxing goes: ffmpeg's whole process against PyAV's FFmpeg read from
C (ctypes), PyAV's demux loop and camwatch's AvSource, one RTSP camera, interleaved rounds.

    python3 bench/rtsp_demux.py --size 640x480 --fps 10 --seconds 20 --repeats 3
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from processes import free_port
from procstat import UsageMeter, load_average
from rtsp import camera_file

from tests.helpers.rtsp_camera import RtspCamera

WARMUP_S = 4.0
AVFMT_FLAG_GENPTS = 0x0001


def c_loop(url: str, seconds: float, *, genpts: bool) -> None:
    """av_read_frame in a loop through ctypes: PyAV's own FFmpeg 8, no Python object per packet
    (one ctypes call, with the GIL released)."""
    import av

    libs = Path(av.__file__).parent.parent / "av.libs"
    lavf = ctypes.CDLL(glob.glob(str(libs / "libavformat-*.so*"))[0])
    lavc = ctypes.CDLL(glob.glob(str(libs / "libavcodec-*.so*"))[0])
    lavu = ctypes.CDLL(glob.glob(str(libs / "libavutil-*.so*"))[0])
    lavf.avformat_alloc_context.restype = ctypes.c_void_p
    lavc.av_packet_alloc.restype = ctypes.c_void_p
    options = ctypes.c_void_p()
    for key, value in (("rtsp_transport", "tcp"), ("timeout", "10000000")):
        lavu.av_dict_set(ctypes.byref(options), key.encode(), value.encode(), 0)
    context = ctypes.c_void_p(lavf.avformat_alloc_context())
    if genpts:  # as PyAV sets it before opening
        flags = _flags_field(context)
        flags.value |= AVFMT_FLAG_GENPTS
    if lavf.avformat_open_input(ctypes.byref(context), url.encode(), None, ctypes.byref(options)):
        raise SystemExit("cannot open")
    lavf.avformat_find_stream_info(context, None)
    packet = ctypes.c_void_p(lavc.av_packet_alloc())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and lavf.av_read_frame(context, packet) >= 0:
        lavc.av_packet_unref(packet)


def _flags_field(context: ctypes.c_void_p) -> ctypes.c_int:
    """AVFormatContext.flags in FFmpeg 8's layout: after five pointers, ctx_flags and
    nb_streams, streams, nb_stream_groups (padded), stream_groups, nb_chapters (padded),
    chapters, url, start_time, duration, bit_rate, packet_size and max_delay (byte 128; a
    fresh context reads 0x200000, `autobsf`)."""
    return ctypes.c_int.from_address((context.value or 0) + 128)


def pyav_loop(url: str, seconds: float, options: dict[str, str]) -> None:
    """PyAV's demux generator, nothing done with the packets."""
    import av

    container = av.open(url, options={"rtsp_transport": "tcp", **options}, timeout=(10, None))
    deadline = time.monotonic() + seconds
    for _packet in container.demux():
        if time.monotonic() > deadline:
            break


def avsource_loop(url: str, seconds: float) -> None:
    """camwatch's AvSource, as the capture thread reads it (no listeners, no decoder)."""
    from camwatch.capture.av_source import AvSource

    source = AvSource(url)
    source.open()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        source.read_packet()


def loop_command(kind: str, url: str, seconds: float) -> list[str]:
    if kind == "ffmpeg":
        command = ["ffmpeg", "-v", "error", "-rtsp_transport", "tcp", "-i", url]
        return [*command, "-t", str(seconds), "-map", "0", "-c", "copy", "-f", "null", "-"]
    return [sys.executable, __file__, "--loop", kind, url, str(seconds)]


def run_loop(kind: str, url: str, seconds: float) -> None:
    if kind in ("c", "c-genpts"):
        c_loop(url, seconds, genpts=kind == "c-genpts")
    elif kind == "pyav":
        pyav_loop(url, seconds, {})
    elif kind.startswith("pyav-"):  # pyav-KEY=VALUE,KEY=VALUE
        pairs = (item.split("=", 1) for item in kind[5:].split(","))
        pyav_loop(url, seconds, dict(pairs))
    elif kind == "avsource":
        avsource_loop(url, seconds)
    else:
        raise SystemExit(f"unknown loop {kind}")


def measure(kind: str, url: str, seconds: float) -> float:
    process = subprocess.Popen(
        loop_command(kind, url, WARMUP_S + seconds + 3), stdin=subprocess.DEVNULL, cwd=ROOT
    )
    try:
        time.sleep(WARMUP_S)
        return UsageMeter(process.pid).over(seconds).cpu_percent
    finally:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop", nargs=3, metavar=("KIND", "URL", "SECONDS"))
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--kinds",
        default="ffmpeg;c;c-genpts;pyav;avsource",
        help="';'-separated: ffmpeg, c, c-genpts, pyav, pyav-KEY=VALUE,KEY=VALUE, avsource",
    )
    args = parser.parse_args()
    if args.loop:
        run_loop(args.loop[0], args.loop[1], float(args.loop[2]))
        return 0
    kinds = args.kinds.split(";")
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="camwatch-demux-") as tmp:
        path = camera_file(Path(tmp), args.size, args.fps, int(WARMUP_S + args.seconds + 10))
        camera = RtspCamera(free_port(), {"cam": path}).start()
        try:
            print(f"start {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load_average()}")
            for _ in range(args.repeats):
                for kind in kinds:
                    cpu[kind].append(measure(kind, camera.url("cam"), args.seconds))
                    print(f"  {kind}: {cpu[kind][-1]:.2f}%", flush=True)
        finally:
            camera.stop()
    print(f"end {time.strftime('%H:%M:%S', time.gmtime())} UTC, load {load_average()}")
    for kind, values in cpu.items():
        runs = " / ".join(f"{v:.2f}" for v in values)
        print(f"| {kind} | {statistics.median(values):.2f}% | {runs} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
