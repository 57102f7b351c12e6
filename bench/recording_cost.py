"""CPU per frame of recording an MJPEG camera, in-process: the clip writer, the clips' quality
and size, and the detection image made from the writer's decode or by a decode of its own.

Run from the repository root:
`python3 -m bench.recording_cost [--crf 23,26,28] [--qp 27] [--scene crowd] [--repeats 5]`.
Frames: 7.2 s of a bench/mjpeg_source.py scene (640x480 10 fps, sensor noise, JPEG quality 80,
as `bench/run.py` serves it; the crowd by default). For each crf (and each constant QP of
`--qp`), a ClipWriter encodes them twice: given the JPEGs (it decodes them itself, as it does a
clip's pre-roll) and given the pictures decoded beforehand (as the capture thread hands them
over while a clip is recorded); the process's CPU time while it does, the calling thread idle,
per frame; then libx264 alone on the same pictures. Each clip is decoded again for its luma
PSNR against the camera JPEGs' luma (and, for the crowd, against the scene drawn without
noise) and its bit rate. Then the detection image (320 wide): libjpeg-turbo's 1/2-scale DCT
decode against the full decode's luma plane shrunk by cv2.resize INTER_AREA, their costs and
how much the two images differ, and the full decodes to 4:2:0 planes (FFmpeg's, and
libjpeg-turbo's when the system has libturbojpeg). One OpenCV thread, median of `--repeats`
runs.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import importlib
import inspect
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from camwatch import jpeg
from camwatch.cli import limit_opencv_threads
from camwatch.motion.detector import DETECT_WIDTH
from camwatch.recording import clip_writer
from camwatch.recording.clip_writer import ClipFrame, ClipWriter

# where the live path's JPEG decoder lives (clip_writer.py before pictures.py)
_PICTURES = "camwatch.recording.pictures"
JPEG_DECODER: Any = getattr(clip_writer, "JpegDecoder", None)
JPEG_DECODER = JPEG_DECODER or importlib.import_module(_PICTURES).JpegDecoder
# the clip writer's (23 before it had a crf parameter)
DEFAULT_CRF: int = getattr(clip_writer, "DEFAULT_CRF", 23)

WIDTH, HEIGHT, FPS, QUALITY = 640, 480, 10.0, 80
SCENES = ("crowd", "still", "intermittent", "moving")


@dataclass(frozen=True)
class RateControl:
    """How a row's clips are encoded: x264's constant rate factor (None: the writer's default)
    or a constant quantizer."""

    crf: int | None = None
    qp: int | None = None

    @property
    def name(self) -> str:
        if self.qp is not None:
            return f"qp {self.qp}"
        return "crf default" if self.crf is None else f"crf {self.crf}"

    def x264_options(self) -> dict[str, str]:
        if self.qp is not None:
            return {"qp": str(self.qp)}
        return {"crf": str(self.crf or DEFAULT_CRF)}


class ConstantQpWriter(ClipWriter):
    """The clip writer with x264's constant quantizer in place of its constant rate factor."""

    def __init__(self, *args: Any, qp: int, **options: Any) -> None:
        super().__init__(*args, **options)
        self.qp = qp

    def _open(self, first: ClipFrame) -> tuple[Any, Any]:
        container, stream = super()._open(first)
        options = {k: v for k, v in stream.options.items() if k != "crf"}
        stream.options = {**options, "qp": str(self.qp)}
        return container, stream


def scene_jpegs(scene: str, seconds: float) -> tuple[list[bytes], list[np.ndarray] | None]:
    """A scene's JPEGs as the benchmark camera sends them, and for the crowd its noiseless luma."""
    if scene == "crowd":
        return camera_jpegs(seconds)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from mjpeg_source import make_frames

    parts = make_frames(WIDTH, HEIGHT, FPS, QUALITY)[f"/{scene}.mjpg"]
    count = round(seconds * FPS)
    parts = (parts * (count // len(parts) + 1))[:count]
    return [part[part.index(b"\r\n\r\n") + 4 : -2] for part in parts], None


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


def write_clip(
    path: Path, jpegs: list[bytes], rate: RateControl, pictures: list[Any] | None = None
) -> float:
    """CPU ms per frame of a ClipWriter encoding `jpegs` (all queued at once, as a pre-roll),
    or the `pictures` decoded from them beforehand (as the capture thread hands them over)."""
    done = threading.Event()
    options: dict[str, Any] = {"fps_hint": FPS, "pre_roll_seconds": len(jpegs) / FPS}
    if rate.crf is not None:
        options["crf"] = rate.crf
    if rate.qp is not None:
        writer: ClipWriter = ConstantQpWriter(path, lambda _: done.set(), qp=rate.qp, **options)
    else:
        writer = ClipWriter(path, lambda result: done.set(), **options)
    frames = [
        ClipFrame(i / FPS, 1e9 + i / FPS, WIDTH, HEIGHT, camera_jpeg=data)
        if pictures is None
        else ClipFrame(i / FPS, 1e9 + i / FPS, WIDTH, HEIGHT, camera_jpeg=data, picture=pictures[i])
        for i, data in enumerate(jpegs)
    ]
    started = time.process_time()
    writer.start()
    for frame in frames:
        writer.submit(frame)
    writer.finish()
    done.wait(120)
    return (time.process_time() - started) * 1000 / len(jpegs)


def takes_pictures() -> bool:
    """Whether this revision's ClipFrame carries a decoded picture (the live path since c376a85)."""
    return "picture" in inspect.signature(ClipFrame).parameters


def decoded(jpegs: list[bytes]) -> list[av.VideoFrame]:
    """The JPEGs decoded as the capture thread decodes them for the writer (its JpegDecoder)."""
    decoder = JPEG_DECODER()
    return [decoder.picture(data) for data in jpegs]


def encode_ms(pictures: list[av.VideoFrame], rate: RateControl) -> float:
    """CPU ms per frame of libx264 alone (the clip writer's options) on decoded pictures."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, pictures[0].format.name
    encoder.time_base = Fraction(1, 1000)
    encoder.options = {"preset": "ultrafast", "threads": "1", "g": "20", **rate.x264_options()}
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
    path: Path, cameras: list[np.ndarray], clean: list[np.ndarray] | None
) -> tuple[float, float | None, float, str]:
    """(luma PSNR in dB against the camera's JPEGs, against the noiseless scene if known,
    kbit/s, the clip's pixel format)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    recorded = [full_range_luma(frame) for frame in frames]
    kbits = path.stat().st_size * 8 / (len(cameras) / FPS) / 1000
    against_scene = None if clean is None else psnr(recorded, clean)
    return psnr(recorded, cameras), against_scene, kbits, frames[0].format.name


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


def turbojpeg_planes() -> Callable[[bytes], object] | None:
    """libjpeg-turbo's decode straight to 4:2:0 planes (tjDecompressToYUVPlanes, through
    ctypes) into a VideoFrame, as a writer could take it; None without libturbojpeg (Debian's
    libturbojpeg0, not a camwatch dependency: simplejpeg has no such call)."""
    name = ctypes.util.find_library("turbojpeg")
    if name is None:
        return None
    library = ctypes.CDLL(name)
    library.tjInitDecompress.restype = ctypes.c_void_p
    handle = ctypes.c_void_p(library.tjInitDecompress())
    stop_on_warning = 8192  # TJFLAG_STOPONWARNING: refuse a damaged JPEG, as strict decoding

    def decode(data: bytes) -> object:
        picture = av.VideoFrame(WIDTH, HEIGHT, "yuvj420p")
        planes = picture.planes
        pointers = (ctypes.c_void_p * 3)(*(plane.buffer_ptr for plane in planes))
        strides = (ctypes.c_int * 3)(*(plane.line_size for plane in planes))
        size = ctypes.c_ulong(len(data))
        flags = stop_on_warning
        if library.tjDecompressToYUVPlanes(
            handle, data, size, pointers, WIDTH, strides, HEIGHT, flags
        ):
            raise ValueError("libjpeg-turbo refused the JPEG")
        return picture

    return decode


def full_decodes(jpegs: list[bytes], repeats: int) -> dict[str, float]:
    """CPU ms per frame of the full decodes to the writer's 4:2:0 planes."""
    costs: dict[str, float] = {}
    if not takes_pictures():  # a revision whose writer decoded its JPEGs its own way
        return costs
    decoder = JPEG_DECODER()
    costs = {
        "full decode to a picture (camwatch's JpegDecoder: FFmpeg)": per_frame_ms(
            decoder.picture, jpegs, repeats
        )
    }
    turbo = turbojpeg_planes()
    if turbo is not None:
        costs["full decode to a picture (libjpeg-turbo YUV planes, libturbojpeg)"] = per_frame_ms(
            turbo, jpegs, repeats
        )
    return costs


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
        **full_decodes(jpegs, repeats),
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


def rate_controls(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[RateControl]:
    takes_crf = "crf" in inspect.signature(ClipWriter).parameters
    crfs = [RateControl(crf=int(c)) for c in args.crf.split(",") if c]
    if not takes_crf and crfs:
        parser.error("this revision's ClipWriter has no crf parameter")
    qps = [RateControl(qp=int(q)) for q in args.qp.split(",") if q]
    return crfs + qps or [RateControl()]


def measure(
    rates: list[RateControl], jpegs: list[bytes], repeats: int, directory: Path
) -> dict[RateControl, tuple[list[float], list[float], list[float]]]:
    """Per rate control: the writer given JPEGs, given pictures, and libx264 alone (ms per
    frame, one value a round; the rate controls interleaved, so load on the machine hits all)."""
    pictures = decoded(jpegs) if takes_pictures() else None
    alone_pictures = pictures or [
        av.CodecContext.create("mjpeg", "r").decode(av.Packet(data))[0] for data in jpegs
    ]
    runs: dict[RateControl, tuple[list[float], list[float], list[float]]] = {
        rate: ([], [], []) for rate in rates
    }
    for _ in range(repeats):
        for rate in rates:
            given_jpegs, given_pictures, alone = runs[rate]
            given_jpegs.append(write_clip(directory / f"{rate.name}.mp4", jpegs, rate))
            if pictures is not None:
                path = directory / f"{rate.name}-pictures.mp4"
                given_pictures.append(write_clip(path, jpegs, rate, decoded(jpegs)))
            alone.append(encode_ms(alone_pictures, rate))
    return runs


def median_of(runs: list[float]) -> str:
    if not runs:
        return "-"
    return f"{statistics.median(runs):.2f} ({min(runs):.2f}-{max(runs):.2f})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--crf", default="", help="comma-separated crf values (default: the default)"
    )
    parser.add_argument("--qp", default="", help="comma-separated constant quantizers")
    parser.add_argument("--scene", choices=SCENES, default="crowd")
    parser.add_argument("--seconds", type=float, default=7.2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    limit_opencv_threads()
    rates = rate_controls(parser, args)
    jpegs, clean = scene_jpegs(args.scene, args.seconds)
    cameras = camera_lumas(jpegs)
    size = np.mean([len(j) for j in jpegs])
    print(f"{len(jpegs)} frames of {WIDTH}x{HEIGHT} ({args.scene}), JPEG {size:.0f} B")
    with tempfile.TemporaryDirectory() as directory:
        runs = measure(rates, jpegs, args.repeats, Path(directory))
        print(
            "| rate control | writer CPU ms/frame, given JPEGs | given pictures (as live) "
            "| libx264 alone | Y PSNR dB against the camera JPEGs "
            "| against the scene without noise | kbit/s | format |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for rate in rates:
            against_camera, against_scene, kbits, pixel_format = quality(
                Path(directory) / f"{rate.name}.mp4", cameras, clean
            )
            given_jpegs, given_pictures, alone = runs[rate]
            scene = "-" if against_scene is None else f"{against_scene:.2f}"
            print(
                f"| {rate.name} | {median_of(given_jpegs)} | {median_of(given_pictures)} "
                f"| {statistics.median(alone):.2f} | {against_camera:.2f} | {scene} "
                f"| {kbits:.0f} | {pixel_format} |"
            )
    jpeg_kbits = sum(len(data) for data in jpegs) * 8 / (len(jpegs) / FPS) / 1000
    scene = "" if clean is None else f"{psnr(cameras, clean):.2f}"
    print(f"| (the camera's JPEGs) | | | | | {scene} | {jpeg_kbits:.0f} | |")
    print()
    print("\n".join(detection_images(jpegs, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
