"""CPU per frame of recording an MJPEG camera, in-process: the clip writer, the clips' quality
and size, and the detection image made from the writer's decode or by a decode of its own.

Run from the repository root: `python3 -m bench.recording_cost [--crf 23,26,28] [--repeats 5]`.
Frames: 10 s of bench/mjpeg_source.py's crowd (640x480 10 fps, sensor noise, JPEG quality 80,
as `bench/run.py` serves it). For each crf, a ClipWriter encodes them (the process's CPU time
while it does, the calling thread idle: per frame); the clip is decoded again for its luma
PSNR against the camera JPEGs' luma and its bit rate. Then the detection image (320 wide):
libjpeg-turbo's 1/2-scale DCT decode against the full decode's luma plane shrunk by
cv2.resize INTER_AREA, their costs and how much the two images differ. One OpenCV thread,
median of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from camwatch import jpeg
from camwatch.cli import limit_opencv_threads
from camwatch.motion.detector import DETECT_WIDTH
from camwatch.recording.clip_writer import ClipFrame, ClipWriter

DEFAULT_CRF = 23  # the clip writer's before it had a crf parameter

WIDTH, HEIGHT, FPS, QUALITY = 640, 480, 10.0, 80


def camera_jpegs(seconds: float) -> tuple[list[bytes], list[np.ndarray]]:
    """The crowd scene's JPEGs as the benchmark camera sends them (without the part headers),
    and the luma of the same scene without its sensor noise (what a perfect camera would see)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # as when the camera script runs
    from mjpeg_source import crowd
    from motion_clips import Crowd
    from motion_clips import background as garden

    parts = crowd(WIDTH, HEIGHT, FPS, QUALITY)[: round(seconds * FPS)]
    people, still = Crowd(), garden(WIDTH, HEIGHT)
    clean = []
    for i in range(len(parts)):  # as mjpeg_source.crowd draws it, less the noise
        image = still.copy()
        people.draw(image, 2 * people.crossing_s + i / FPS)
        pixels = np.clip(image, 0, 255).astype(np.uint8)
        clean.append(cv2.cvtColor(pixels, cv2.COLOR_BGR2YCrCb)[:, :, 0])  # JPEG's luma
    return [part[part.index(b"\r\n\r\n") + 4 : -2] for part in parts], clean


def write_clip(path: Path, jpegs: list[bytes], crf: int | None) -> float:
    """CPU ms per frame of a ClipWriter encoding `jpegs` (all queued at once, as a pre-roll)."""
    done = threading.Event()
    options: dict[str, Any] = {"fps_hint": FPS, "pre_roll_seconds": len(jpegs) / FPS}
    if crf is not None:
        options["crf"] = crf
    writer = ClipWriter(path, lambda result: done.set(), **options)
    started = time.process_time()
    writer.start()
    for i, data in enumerate(jpegs):
        writer.submit(ClipFrame(i / FPS, 1e9 + i / FPS, WIDTH, HEIGHT, camera_jpeg=data))
    writer.finish()
    done.wait(120)
    return (time.process_time() - started) * 1000 / len(jpegs)


def encode_ms(pictures: list[av.VideoFrame], crf: int) -> float:
    """CPU ms per frame of libx264 alone (the clip writer's options) on decoded pictures."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, pictures[0].format.name
    encoder.time_base = Fraction(1, 1000)
    encoder.options = {"preset": "ultrafast", "threads": "1", "crf": str(crf), "g": "20"}
    encoder.open()
    started = time.process_time()
    for i, picture in enumerate(pictures):
        picture.pts, picture.pict_type = i * 100, av.video.frame.PictureType.NONE
        encoder.encode(picture)
    encoder.encode(None)
    return (time.process_time() - started) * 1000 / len(pictures)


def full_range_luma(frame: av.VideoFrame) -> np.ndarray:
    """The picture's Y plane at full range (0-255), whichever range the clip was written in."""
    if frame.format.name != "yuvj420p":
        frame = frame.reformat(format="yuvj420p")
    return frame.to_ndarray()[: frame.height]


def psnr(pictures: Sequence[np.ndarray], references: Sequence[np.ndarray]) -> float:
    """Luma PSNR in dB over all the frames (of the mean squared error)."""
    errors = [
        np.mean((picture.astype(np.float64) - reference) ** 2)
        for picture, reference in zip(pictures, references, strict=True)
    ]
    return float(10 * np.log10(255**2 / np.mean(errors)))


def camera_lumas(jpegs: list[bytes]) -> list[np.ndarray]:
    decoder = av.CodecContext.create("mjpeg", "r")
    return [decoder.decode(av.Packet(data))[0].to_ndarray()[:HEIGHT] for data in jpegs]


def quality(
    path: Path, cameras: list[np.ndarray], clean: list[np.ndarray]
) -> tuple[float, float, float, str]:
    """(luma PSNR in dB against the camera's JPEGs, against the noiseless scene, kbit/s, the
    clip's pixel format)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    recorded = [full_range_luma(frame) for frame in frames]
    kbits = path.stat().st_size * 8 / (len(cameras) / FPS) / 1000
    return psnr(recorded, cameras), psnr(recorded, clean), kbits, frames[0].format.name


def per_frame_ms(action: Callable[[bytes], object], jpegs: list[bytes], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        started = time.process_time()
        for data in jpegs:
            action(data)
        runs.append((time.process_time() - started) * 1000 / len(jpegs))
    return statistics.median(runs)


def luma_of(decoder: av.CodecContext, data: bytes) -> np.ndarray:
    """The full decode's Y plane as a view (no copy), as the recorder takes it."""
    plane = decoder.decode(av.Packet(data))[0].planes[0]
    rows: np.ndarray = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def shrink(luma: np.ndarray) -> np.ndarray:
    size = (DETECT_WIDTH, round(luma.shape[0] * DETECT_WIDTH / luma.shape[1]))
    return cv2.resize(luma, size, interpolation=cv2.INTER_AREA)


def detection_images(jpegs: list[bytes], repeats: int) -> list[str]:
    decoder = av.CodecContext.create("mjpeg", "r")
    scaled = [jpeg.decode_grey_scaled(data, WIDTH, DETECT_WIDTH) for data in jpegs]
    lumas = [luma_of(decoder, data).copy() for data in jpegs]
    shrunk = [shrink(luma) for luma in lumas]
    differences = [cv2.absdiff(a, b) for a, b in zip(scaled, shrunk, strict=True)]
    costs = {
        "1/2-scale DCT decode (libjpeg-turbo)": per_frame_ms(
            lambda data: jpeg.decode_grey_scaled(data, WIDTH, DETECT_WIDTH), jpegs, repeats
        ),
        "full decode (FFmpeg, yuvj420p)": per_frame_ms(
            lambda data: decoder.decode(av.Packet(data)), jpegs, repeats
        ),
        "full decode + luma view + INTER_AREA to 320x240": per_frame_ms(
            lambda data: shrink(luma_of(decoder, data)), jpegs, repeats
        ),
    }
    lines = ["| detection image | CPU ms/frame |", "|---|---|"]
    lines += [f"| {name} | {ms:.3f} |" for name, ms in costs.items()]
    mean = float(np.mean([d.mean() for d in differences]))
    largest = max(int(d.max()) for d in differences)
    share = float(np.mean([np.count_nonzero(d > 1) / d.size for d in differences]))
    lines.append("")
    lines.append(
        f"1/2-scale decode vs full decode shrunk: mean abs difference {mean:.3f} grey levels, "
        f"max {largest}, pixels differing by more than 1: {100 * share:.2f}%"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--crf", default="", help="comma-separated crf values (default: the default)"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    limit_opencv_threads()
    jpegs, clean = camera_jpegs(args.seconds)
    cameras = camera_lumas(jpegs)
    takes_crf = "crf" in inspect.signature(ClipWriter).parameters
    crfs: list[int | None] = [int(c) for c in args.crf.split(",") if c] or [None]
    if not takes_crf and crfs != [None]:
        parser.error("this revision's ClipWriter has no crf parameter")
    print(f"{len(jpegs)} frames of {WIDTH}x{HEIGHT}, JPEG {np.mean([len(j) for j in jpegs]):.0f} B")
    decoder = av.CodecContext.create("mjpeg", "r")
    pictures = [decoder.decode(av.Packet(data))[0] for data in jpegs]
    writer_ms: dict[int | None, list[float]] = {crf: [] for crf in crfs}
    alone_ms: dict[int | None, list[float]] = {crf: [] for crf in crfs}
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.repeats):  # crf values interleaved: load on the machine hits all
            for crf in crfs:
                writer_ms[crf].append(write_clip(Path(directory) / f"{crf}.mp4", jpegs, crf))
                alone_ms[crf].append(encode_ms(pictures, crf or DEFAULT_CRF))
        print(
            "| crf | writer CPU ms/frame | libx264 alone ms/frame | Y PSNR dB against the "
            "camera JPEGs | against the scene without noise | kbit/s | format |"
        )
        print("|---|---|---|---|---|---|---|")
        for crf in crfs:
            against_camera, against_scene, kbits, pixel_format = quality(
                Path(directory) / f"{crf}.mp4", cameras, clean
            )
            runs = writer_ms[crf]
            print(
                f"| {'default' if crf is None else crf} | {statistics.median(runs):.2f} "
                f"({min(runs):.2f}-{max(runs):.2f}) | {statistics.median(alone_ms[crf]):.2f} "
                f"| {against_camera:.2f} | {against_scene:.2f} | {kbits:.0f} | {pixel_format} |"
            )
    jpeg_kbits = sum(len(data) for data in jpegs) * 8 / (len(jpegs) / FPS) / 1000
    print(f"| (the camera's JPEGs) | | | | {psnr(cameras, clean):.2f} | {jpeg_kbits:.0f} | |")
    print()
    print("\n".join(detection_images(jpegs, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
