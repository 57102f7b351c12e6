"""A stand-in network camera for the benchmark: pre-encoded JPEG frames served as MJPEG.

Run as its own process: `python3 bench/mjpeg_source.py --port P --width W --height H --fps F`.
`/moving.mjpg` shows two objects crossing a textured scene without pause (motion all the time);
`/still.mjpg` shows the same scene with sensor noise only; `/intermittent.mjpg` an object crossing
for 5 s every 15 s; `/crowd.mjpg` people walking across a garden all the time, in both
directions on three paths (bench/motion_clips.py's Crowd). Each client gets its own paced stream;
a client that falls behind skips frames, like a real camera.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import cv2
import numpy as np
import simplejpeg
from motion_clips import Crowd, Noise
from motion_clips import background as garden

INTERMITTENT_PERIOD_S, INTERMITTENT_MOVING_S = 15.0, 5.0

BOUNDARY = b"benchframe"
STILL_VARIANTS = 8
CROSSING_SECONDS = 2.0


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    small = rng.integers(40, 200, (max(2, height // 24), max(2, width // 24), 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    image = cv2.GaussianBlur(image, (0, 0), 2)
    horizon = int(height * 0.6)
    for x in range(0, width, max(8, width // 20)):
        cv2.rectangle(
            image, (x, horizon - height // 8), (x + max(2, width // 160), horizon), (70, 80, 90), -1
        )
    return image


def with_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0, 1.5, image.shape).astype(np.int16)
    noisy: np.ndarray = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return noisy


def draw_object(
    image: np.ndarray, progress: float, row: float, colour: tuple[int, int, int]
) -> None:
    height, width = image.shape[:2]
    body_w, body_h = max(8, width // 12), max(20, height // 3)
    x = int(-body_w + (progress % 1.0) * (width + body_w))
    feet = int(height * row)
    cv2.rectangle(image, (x, feet - body_h), (x + body_w, feet), colour, -1)


def part(jpeg: bytes) -> bytes:
    return (
        b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % (BOUNDARY, len(jpeg))
        + jpeg
        + b"\r\n"
    )


def make_frames(width: int, height: int, fps: float, quality: int) -> dict[str, list[bytes]]:
    rng = np.random.default_rng(7)
    scene = background(width, height, rng)
    still = [
        part(
            simplejpeg.encode_jpeg(
                with_noise(scene, rng), quality, colorspace="BGR", colorsubsampling="420"
            )
        )
        for _ in range(STILL_VARIANTS)
    ]
    moving = []
    count = max(2, round(fps * CROSSING_SECONDS))
    for i in range(count):
        image = scene.copy()
        draw_object(image, i / count, 0.9, (40, 50, 160))
        draw_object(image, i / count + 0.5, 0.7, (160, 120, 40))
        moving.append(
            part(
                simplejpeg.encode_jpeg(
                    with_noise(image, rng), quality, colorspace="BGR", colorsubsampling="420"
                )
            )
        )
    return {
        "/still.mjpg": still,
        "/moving.mjpg": moving,
        "/intermittent.mjpg": intermittent(scene, still, fps, quality, rng),
        "/crowd.mjpg": crowd(width, height, fps, quality),
    }


def encode(image: np.ndarray, quality: int) -> bytes:
    return part(simplejpeg.encode_jpeg(image, quality, colorspace="BGR", colorsubsampling="420"))


def intermittent(
    scene: np.ndarray, still: list[bytes], fps: float, quality: int, rng: np.random.Generator
) -> list[bytes]:
    """An object crossing for INTERMITTENT_MOVING_S, then the still scene, every period."""
    moving = round(fps * INTERMITTENT_MOVING_S)
    frames = []
    for i in range(moving):
        image = scene.copy()
        draw_object(image, i / moving, 0.9, (40, 50, 160))
        frames.append(encode(with_noise(image, rng), quality))
    rest = round(fps * INTERMITTENT_PERIOD_S) - moving
    return frames + [still[i % len(still)] for i in range(rest)]


def crowd(width: int, height: int, fps: float, quality: int) -> list[bytes]:
    """One period of the crowd, from a moment when it is already in full flow."""
    people = Crowd()
    still = garden(width, height)
    noise = Noise(width, height, 3.0, 0.0, 101)
    start = 2 * people.crossing_s
    frames = []
    for i in range(round(people.period_s * fps)):
        image = still.copy()
        people.draw(image, start + i / fps)
        noise.add(image)
        frames.append(encode(np.clip(image, 0, 255).astype(np.uint8), quality))
    return frames


class Camera:
    """Serves each connection its own stream, paced by an absolute schedule."""

    def __init__(self, frames: dict[str, list[bytes]], fps: float) -> None:
        self.frames, self.fps = frames, fps

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            path = request.split(b" ", 2)[1].decode().split("?")[0]
            frames = self.frames.get(path)
            if frames is None:
                writer.write(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                return
            writer.write(
                b"HTTP/1.0 200 OK\r\nCache-Control: no-cache\r\n"
                b"Content-Type: multipart/x-mixed-replace; boundary=%s\r\n\r\n" % BOUNDARY
            )
            await self._stream(frames, writer)
        except (
            OSError,
            asyncio.IncompleteReadError,
            TimeoutError,
            asyncio.CancelledError,
            IndexError,
        ):
            pass
        finally:
            writer.close()

    async def _stream(self, frames: list[bytes], writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        index = 0
        while True:
            delay = start + index / self.fps - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0 / self.fps:  # behind: skip to now, as a camera would
                index = int((loop.time() - start) * self.fps)
            writer.write(frames[index % len(frames)])
            await writer.drain()
            index += 1


async def serve(args: argparse.Namespace) -> None:
    camera = Camera(make_frames(args.width, args.height, args.fps, args.quality), args.fps)
    server = await asyncio.start_server(camera.handle, "127.0.0.1", args.port)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--fps", type=float, default=10)
    parser.add_argument("--quality", type=int, default=80)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
