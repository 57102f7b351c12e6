"""Labelled synthetic clips for evaluating motion detection: people, cars and nuisances."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

if __package__:  # imported as bench.motion_clips
    from bench.motion_patterns import PatternedBox
else:  # as a neighbour of a script in bench/ (bench/mjpeg_source.py, run.py): bench/ on sys.path
    from motion_patterns import PatternedBox

WIDTH, HEIGHT, FPS = 640, 360, 10.0
Interval = tuple[float, float]
Polygon = list[list[float]]
Light = Callable[[float], "float | np.ndarray"]  # time -> gain (scalar or H x W x 1 map)


class Actor(Protocol):
    relevant: bool  # something a person cares about (its intervals are labels)

    def draw(self, image: np.ndarray, t: float) -> None: ...
    def intervals(self, width: int, duration_s: float) -> list[Interval]: ...


# -- the still scene ----------------------------------------------------------------------


def background(width: int = WIDTH, height: int = HEIGHT, seed: int = 1) -> np.ndarray:
    """A plausible outdoor scene: sky, a wall with windows, a lawn, a path, fine texture."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    horizon = int(height * 0.35)
    sky = np.linspace(225, 170, horizon, dtype=np.float32)[:, None, None]
    image[:horizon] = sky * np.array([1.0, 0.93, 0.85], np.float32)
    image[horizon:] = (85, 125, 95)  # lawn
    wall_top, wall_left, wall_right = int(height * 0.12), int(width * 0.45), int(width * 0.95)
    image[wall_top : horizon + 20, wall_left:wall_right] = (120, 140, 170)
    for x in range(wall_left + 20, wall_right - 40, 70):
        cv2.rectangle(image, (x, wall_top + 20), (x + 35, wall_top + 60), (70, 60, 55), -1)
    path_top = int(height * 0.62)
    image[path_top : path_top + int(height * 0.2)] = (150, 160, 165)
    small = (height // 12 + 1, width // 12 + 1)
    blotches = rng.uniform(-25, 25, (*small, 1)) + rng.uniform(-8, 8, (*small, 3))
    image += cv2.resize(blotches.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    image += rng.normal(0, 6, image.shape).astype(np.float32)  # fixed fine texture
    return np.clip(cv2.GaussianBlur(image, (3, 3), 0), 0, 255)


def plain_wall(width: int = WIDTH, height: int = HEIGHT, seed: int = 1) -> np.ndarray:
    """An indoor scene: a plain painted wall over a floor, with faint blotches and texture."""
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    floor = int(height * 0.75)
    image[:floor] = (112, 118, 122)
    image[floor:] = (88, 92, 100)
    small = (height // 24 + 1, width // 24 + 1)
    blotches = rng.uniform(-6, 6, small).astype(np.float32)
    image += cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)[:, :, None]
    image += rng.normal(0, 2, image.shape).astype(np.float32)
    return np.clip(image, 0, 255)


class Noise:
    """Sensor noise: per-pixel grain plus optional blotchy (low-frequency) noise, cheaply."""

    def __init__(self, width: int, height: int, sigma: float, blotch: float, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.sigma, self.blotch, self.width, self.height = sigma, blotch, width, height
        pad = 32
        self.bank = [
            self.rng.standard_normal((height + pad, width + pad, 3), np.float32) for _ in range(3)
        ]
        if blotch:
            small = [
                self.rng.standard_normal(((height + pad) // 3, (width + pad) // 3, 3), np.float32)
                for _ in range(3)
            ]
            self.blotches = [cv2.resize(s, (width + pad, height + pad)) for s in small]

    def _pick(self, bank: list[np.ndarray]) -> np.ndarray:
        k = int(self.rng.integers(len(bank)))
        dy, dx = (int(v) for v in self.rng.integers(0, 32, 2))
        return bank[k][dy : dy + self.height, dx : dx + self.width]

    def add(self, image: np.ndarray) -> None:
        if self.sigma:
            image += self.sigma * self._pick(self.bank)
        if self.blotch:
            image += self.blotch * self._pick(self.blotches)


# -- actors -------------------------------------------------------------------------------------


@dataclass
class Walker:
    """A person walking across: head, torso, swinging arms and legs."""

    start_t: float
    speed: float  # pixels per second; negative walks right to left
    height: float  # pixels, head to feet
    feet_y: float
    shirt: tuple[float, float, float] = (40, 40, 150)
    trousers: tuple[float, float, float] = (60, 45, 35)
    skin: tuple[float, float, float] = (120, 150, 190)
    pause: tuple[float, float] | None = None  # stands still from, until
    stripes: tuple[float, float, float] | None = None  # a striped shirt: the other colour
    relevant: bool = True

    def _walked(self, t: float) -> float:
        """Seconds spent walking by time t."""
        walked = t - self.start_t
        if self.pause is not None:
            walked -= max(0.0, min(t, self.pause[1]) - self.pause[0])
        return walked

    def x_at(self, t: float, width: int) -> float:
        start_x = -0.3 * self.height if self.speed > 0 else width + 0.3 * self.height
        return start_x + self.speed * self._walked(t)

    def draw(self, image: np.ndarray, t: float) -> None:
        if t < self.start_t:
            return
        h, x, y = self.height, self.x_at(t, image.shape[1]), self.feet_y
        still = self.pause is not None and self.pause[0] <= t < self.pause[1]
        swing = 0.0 if still else math.sin(2 * math.pi * 1.8 * self._walked(t))
        thick = max(1, round(h * 0.09))
        hip = (x, y - 0.47 * h)
        for side in (-1, 1):
            foot = (x + side * swing * 0.16 * h, y)
            _line(image, hip, foot, self.trousers, thick)
        shoulder = (x, y - 0.8 * h)
        for side in (-1, 1):
            hand = (x - side * swing * 0.13 * h, y - 0.45 * h)
            _line(image, shoulder, hand, self.shirt, max(1, round(h * 0.06)))
        cv2.rectangle(
            image,
            _pt(x - 0.11 * h, y - 0.83 * h),
            _pt(x + 0.11 * h, y - 0.45 * h),
            self.shirt,
            -1,
            cv2.LINE_AA,
            4,
        )
        if self.stripes is not None:
            width = max(1, round(0.03 * h))
            for k in range(1, 12, 2):
                top = y - 0.83 * h + k * 0.035 * h
                _line(image, (x - 0.11 * h, top), (x + 0.11 * h, top), self.stripes, width)
        cv2.circle(image, _pt(x, y - 0.91 * h), _px(0.085 * h), self.skin, -1, cv2.LINE_AA, 4)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        """While the body's centre is inside the frame and walking."""

        def x_at(t: float) -> float:
            return self.x_at(t, width)

        if self.pause is None:
            return _inside(x_at, self.start_t, duration_s, width, duration_s)
        return _inside(x_at, self.start_t, self.pause[0], width, duration_s) + _inside(
            x_at, self.pause[1], duration_s, width, duration_s
        )


@dataclass
class Passersby:
    """People crossing one after another, each on a path, at a pace, a size (nearer paths are
    lower in the picture) and in clothes of their own, a few seconds apart: a seeded schedule
    of `count` walkers from `first_t`. `lanes` bounds where their feet are (fractions of the
    picture's height)."""

    first_t: float
    count: int
    lanes: tuple[float, float] = (0.55, 0.95)
    gaps: tuple[float, float] = (3.5, 6.0)  # seconds between one leaving and the next coming
    speeds: tuple[float, float] = (80.0, 140.0)  # pixels a second of one 150 px tall
    striped_share: float = 0.5  # the share of them in striped shirts
    seed: int = 21
    relevant: bool = True

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.walkers: list[Walker] = []
        start = self.first_t
        for _ in range(self.count):
            lane = rng.uniform(*self.lanes)
            height = HEIGHT * (0.11 + 0.85 * (lane - 0.42))  # 40 px tall at 0.42, 150 at 0.78
            speed = rng.uniform(*self.speeds) * height / 150 * rng.choice([-1.0, 1.0])
            shirt, trousers, other = _colour(rng), _colour(rng), _colour(rng)
            striped = rng.uniform() < self.striped_share
            walker = Walker(start, speed, height, HEIGHT * lane, shirt, trousers)
            walker.stripes = other if striped else None
            self.walkers.append(walker)
            crossing = (WIDTH + 0.6 * height) / abs(speed)
            start += crossing + rng.uniform(*self.gaps)

    def draw(self, image: np.ndarray, t: float) -> None:
        for walker in self.walkers:
            walker.draw(image, t)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        return [i for w in self.walkers for i in w.intervals(width, duration_s)]


@dataclass
class Car:
    """A car driving across (or driving in and parking when stop_t is set)."""

    start_t: float
    speed: float
    length: float
    bottom_y: float
    colour: tuple[float, float, float] = (40, 40, 180)
    stop_t: float | None = None
    relevant: bool = True

    def x_at(self, t: float, width: int) -> float:
        start_x = -self.length / 2 if self.speed > 0 else width + self.length / 2
        moving = min(t, self.stop_t) if self.stop_t is not None else t
        return start_x + self.speed * (moving - self.start_t)

    def draw(self, image: np.ndarray, t: float) -> None:
        if t < self.start_t:
            return
        x, y, n = self.x_at(t, image.shape[1]), self.bottom_y, self.length
        body_h = 0.22 * n
        cv2.rectangle(
            image,
            _pt(x - n / 2, y - 0.08 * n - body_h),
            _pt(x + n / 2, y - 0.08 * n),
            self.colour,
            -1,
            cv2.LINE_AA,
            4,
        )
        cv2.rectangle(
            image,
            _pt(x - n / 4, y - 0.08 * n - body_h - 0.16 * n),
            _pt(x + n / 5, y - 0.08 * n - body_h),
            self.colour,
            -1,
            cv2.LINE_AA,
            4,
        )
        cv2.rectangle(
            image,
            _pt(x - n / 5, y - 0.1 * n - body_h - 0.12 * n),
            _pt(x + n / 7, y - 0.08 * n - body_h),
            (200, 190, 170),
            -1,
            cv2.LINE_AA,
            4,
        )
        for wheel in (x - 0.3 * n, x + 0.3 * n):
            cv2.circle(
                image, _pt(wheel, y - 0.08 * n), _px(0.09 * n), (25, 25, 25), -1, cv2.LINE_AA, 4
            )

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        end = self.stop_t if self.stop_t is not None else duration_s
        return _inside(lambda t: self.x_at(t, width), self.start_t, end, width, duration_s)


@dataclass
class Traffic:
    """Cars passing again and again along a distant road (nuisance when masked)."""

    every_s: float
    bottom_y: float
    length: float
    speed: float
    relevant: bool = False

    def draw(self, image: np.ndarray, t: float) -> None:
        for k in range(int(t / self.every_s) - 4, int(t / self.every_s) + 1):
            colour = ((k * 67) % 200 + 30, (k * 131) % 200 + 30, (k * 29) % 200 + 30)
            Car(
                k * self.every_s,
                self.speed * (1 if k % 2 else -1),
                self.length,
                self.bottom_y,
                colour,
            ).draw(image, t)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        return []


@dataclass
class Foliage:
    """A tree whose leaf clusters sway in gusty wind."""

    centre: tuple[float, float]
    radius: float
    amplitude: float  # pixels at full gust
    seed: int = 5
    relevant: bool = False

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        n = 220
        angle, r = rng.uniform(0, 2 * math.pi, n), self.radius * np.sqrt(rng.uniform(0, 1, n))
        self.leaves = np.stack(
            [self.centre[0] + r * np.cos(angle), self.centre[1] + 0.8 * r * np.sin(angle)], axis=1
        )
        self.sizes = rng.uniform(0.06, 0.14, n) * self.radius
        self.shades = rng.uniform(0.5, 1.4, n)
        self.phases = rng.uniform(0, 2 * math.pi, n)

    def draw(self, image: np.ndarray, t: float) -> None:
        cx, cy = self.centre
        cv2.rectangle(
            image,
            _pt(cx - 0.08 * self.radius, cy),
            _pt(cx + 0.08 * self.radius, cy + 1.6 * self.radius),
            (40, 60, 80),
            -1,
        )
        gust = 0.6 + 0.4 * math.sin(2 * math.pi * t / 7.0)
        sway = self.amplitude * gust * np.sin(2 * math.pi * 0.8 * t + self.phases)
        for (x, y), size, shade, dx in zip(
            self.leaves, self.sizes, self.shades, sway, strict=False
        ):
            colour = (30 * shade, 110 * shade, 50 * shade)
            cv2.circle(image, _pt(x + dx, y + 0.3 * dx), _px(size), colour, -1, cv2.LINE_AA, 4)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        return []


@dataclass
class Rain:
    """Thin bright streaks at random places every frame."""

    drops: int = 90
    seed: int = 9
    relevant: bool = False

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def draw(self, image: np.ndarray, t: float) -> None:
        height, width = image.shape[:2]
        xs, ys = self.rng.uniform(0, width, self.drops), self.rng.uniform(0, height, self.drops)
        lengths = self.rng.uniform(8, 26, self.drops)
        for x, y, n in zip(xs, ys, lengths, strict=False):
            cv2.line(image, _pt(x, y), _pt(x + 0.25 * n, y + n), (210, 210, 210), 1, cv2.LINE_AA, 4)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        return []


@dataclass
class Snow:
    """Flakes falling and drifting; a few large ones close to the lens."""

    flakes: int = 160
    seed: int = 13
    relevant: bool = False

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.start = rng.uniform(0, 1, (self.flakes, 2))
        self.fall = rng.uniform(0.08, 0.2, self.flakes)  # frame heights per second
        self.size = np.where(
            rng.uniform(0, 1, self.flakes) < 0.05, 3.5, rng.uniform(1, 2.2, self.flakes)
        )
        self.phase = rng.uniform(0, 2 * math.pi, self.flakes)

    def draw(self, image: np.ndarray, t: float) -> None:
        height, width = image.shape[:2]
        ys = (self.start[:, 1] + self.fall * t) % 1.0 * height
        xs = (self.start[:, 0] * width + 6 * np.sin(1.3 * t + self.phase)) % width
        for x, y, size in zip(xs, ys, self.size, strict=False):
            cv2.circle(image, _pt(x, y), _px(size), (235, 235, 235), -1, cv2.LINE_AA, 4)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        return []


# -- light ------------------------------------------------------------------------------------


def _ramp(width: int, height: int, cx: float, cy: float, reach: float) -> np.ndarray:
    """1 at (cx, cy) (fractions of the frame) falling smoothly to 0 about `reach` away."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    d2 = ((xs / width - cx) ** 2 + (ys / height - cy) ** 2) / reach**2
    ramp: np.ndarray = np.exp(-d2)[:, :, None].astype(np.float32)
    return ramp


def lights_switched(
    times: Sequence[float], off: float = 0.45, width: int = WIDTH, height: int = HEIGHT
) -> Light:
    """Room lights toggled at `times` (starting off): dimmer and unevenly lit while off."""
    lamp = 0.5 + 0.5 * _ramp(width, height, 0.2, 0.1, 0.7)

    def gain(t: float) -> float | np.ndarray:
        on = sum(t >= s for s in times) % 2 == 1
        return lamp if on else off * (0.8 + 0.2 * lamp)

    return gain


def exposure_steps(steps: Sequence[tuple[float, float]], ramp_s: float = 0.4) -> Light:
    """Auto-exposure: the gain moves to each (time, gain) over ramp_s."""

    def gain(t: float) -> float:
        value = 1.0
        for start, target in steps:
            if t >= start:
                value += (target - value) * min(1.0, (t - start) / ramp_s)
        return value

    return gain


def lightning(
    flashes: Sequence[float], fps: float = FPS, width: int = WIDTH, height: int = HEIGHT
) -> Light:
    """One-frame flashes, much stronger in the sky."""
    sky = (1.35 + 0.8 * np.linspace(1, 0, height, dtype=np.float32) ** 2)[:, None, None]
    sky = np.broadcast_to(sky, (height, width, 1)).copy()

    def gain(t: float) -> float | np.ndarray:
        return sky if any(abs(t - f) < 0.5 / fps for f in flashes) else 1.0

    return gain


def flicker(
    seed: int = 3, strength: float = 0.25, width: int = WIDTH, height: int = HEIGHT
) -> Light:
    """TV light: the room's brightness jumps every frame, most near the TV (right)."""
    rng = np.random.default_rng(seed)
    tv = _ramp(width, height, 0.95, 0.5, 0.6)

    def gain(t: float) -> np.ndarray:
        overall, near = rng.uniform(1 - strength, 1 + strength * 0.6), rng.uniform(-0.3, 0.3)
        return overall * (1 + near * tv)

    return gain


def sunset(duration_s: float, end_gain: float = 0.3) -> Light:
    def gain(t: float) -> np.ndarray:
        k = end_gain ** (t / duration_s)
        return np.array([k**0.8, k, k**1.2], np.float32)  # bluer as it darkens

    return gain


def cloud_shadows(
    seed: int = 4, width: int = WIDTH, height: int = HEIGHT, depth: float = 0.4
) -> Light:
    """Soft shadows of clouds drifting across the scene."""
    rng = np.random.default_rng(seed)
    clouds = [
        (rng.uniform(0, 3), rng.uniform(0, 1), rng.uniform(0.2, 0.35), rng.uniform(0.03, 0.05))
        for _ in range(6)
    ]
    small_w, small_h = width // 8, height // 8
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)

    def gain(t: float) -> np.ndarray:
        shade = np.zeros((small_h, small_w), np.float32)
        for x0, y0, size, speed in clouds:
            cx = (x0 + speed * t) % 3.0 - 1.0  # wraps round far outside the picture
            d2 = ((xs / small_w - cx) ** 2 + ((ys / small_h - y0) * 0.6) ** 2) / size**2
            shade = np.maximum(shade, np.exp(-d2))
        full = cv2.resize(1 - depth * shade, (width, height), interpolation=cv2.INTER_LINEAR)
        return full[:, :, None]

    return gain


def darkness(level: float) -> Light:
    return lambda t: level


def combined(*lights: Light) -> Light:
    def gain(t: float) -> float | np.ndarray:
        value: float | np.ndarray = 1.0
        for light in lights:
            value = value * light(t)
        return value

    return gain


# -- clips --------------------------------------------------------------------------------------


@dataclass
class Clip:
    """A generated clip and the intervals in which something a person cares about moves."""

    name: str
    what: str
    duration_s: float
    actors: list[Actor] = field(default_factory=list)
    weather: list[Actor] = field(default_factory=list)  # drawn on top, after the light
    light: Light | None = None
    noise: float = 3.0
    blotch: float = 0.0
    mask: list[Polygon] = field(default_factory=list)
    jpeg_quality: int | None = None  # frames arrive as camera JPEGs of this quality
    fps: float = FPS
    width: int = WIDTH
    height: int = HEIGHT
    seed: int = 1
    scene: Callable[[int, int, int], np.ndarray] | None = None  # the still scene (else background)

    @property
    def labels(self) -> list[Interval]:
        found = [
            i for a in self.actors if a.relevant for i in a.intervals(self.width, self.duration_s)
        ]
        return sorted(found)

    def frames(self) -> Iterator[tuple[float, np.ndarray]]:
        """(time, BGR uint8 image) for every frame, deterministically."""
        still = (self.scene or background)(self.width, self.height, self.seed)
        noise = Noise(self.width, self.height, self.noise, self.blotch, self.seed + 100)
        for i in range(round(self.duration_s * self.fps)):
            t = i / self.fps
            image = still.copy()
            for actor in self.actors:
                actor.draw(image, t)
            if self.light is not None:
                image *= self.light(t)
            for actor in self.weather:
                actor.draw(image, t)
            noise.add(image)
            yield t, np.clip(image, 0, 255).astype(np.uint8)


def _inside(
    x_at: Callable[[float], float],
    start: float,
    end: float,
    width: int,
    duration_s: float,
    step: float = 0.05,
) -> list[Interval]:
    """The interval (within [start, end]) during which x_at(t) is inside 0..width."""
    times = [
        t
        for t in np.arange(start, min(end, duration_s) + 1e-9, step)
        if 0 <= x_at(float(t)) <= width
    ]
    return [(round(float(times[0]), 2), round(float(times[-1]), 2))] if times else []


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * 16), round(y * 16)  # 4 fractional bits: smooth sub-pixel motion


def _px(length: float) -> int:
    return max(16, round(length * 16))


def _line(
    image: np.ndarray,
    a: tuple[float, float],
    b: tuple[float, float],
    colour: tuple[float, float, float],
    thickness: int,
) -> None:
    cv2.line(image, _pt(*a), _pt(*b), colour, thickness, cv2.LINE_AA, 4)


def person(
    start_t: float,
    speed: float = 120.0,
    height: float = 150.0,
    feet_y: float = 300.0,
    **kwargs: object,
) -> Walker:
    return Walker(start_t, speed, height, feet_y, **kwargs)  # type: ignore[arg-type]


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    red, green, blue = (float(v) for v in rng.uniform(30, 220, 3))
    return red, green, blue


def _two_trees() -> list[Actor]:
    return [
        Foliage(centre=(120, 110), radius=80, amplitude=5),
        Foliage(centre=(470, 90), radius=70, amplitude=6, seed=6),
    ]


def clips() -> list[Clip]:
    """Every evaluation case: people and cars to record, nuisances to ignore."""
    road = [[0.0, 0.28], [1.0, 0.28], [1.0, 0.45], [0.0, 0.45]]
    dark_clothes = {"shirt": (70, 100, 95), "trousers": (75, 110, 90), "skin": (90, 120, 105)}
    return [
        Clip("person", "a person crosses at walking speed", 14, [person(3)]),
        Clip(
            "person_far_slow",
            "a small far figure strolls slowly",
            30,
            [person(2, speed=16, height=40, feet_y=150)],
        ),
        Clip(
            "person_low_contrast",
            "a person in colours close to the lawn",
            14,
            [person(3, speed=70, height=90, feet_y=220, **dark_clothes)],
        ),
        Clip(
            "person_dark",
            "a person in a dark, noisy scene (JPEG camera)",
            16,
            [person(4, speed=90)],
            light=darkness(0.3),
            noise=10,
            blotch=4,
            jpeg_quality=70,
        ),
        Clip(
            "person_flicker",
            "a person walks in while TV light flickers",
            20,
            [person(8, speed=100)],
            light=flicker(),
        ),
        Clip(
            "person_lights_on",
            "lights switched on while a person walks",
            16,
            [person(3, speed=60)],
            light=lights_switched([0.0, 6.0, 9.0]),
        ),
        Clip("person_rain", "a person crosses in the rain", 16, [person(5)], weather=[Rain()]),
        Clip(
            "person_twice",
            "two people cross on the same path, 6 s apart",
            24,
            [person(3), person(9, speed=-110, shirt=(150, 120, 40))],
        ),
        Clip(
            "person_pauses",
            "a person walks in, stands 25 s, walks on",
            45,
            [person(3, pause=(5.5, 30.5))],
        ),
        Clip(
            "person_foliage",
            "a person walks past a swaying tree",
            30,
            [Foliage(centre=(120, 110), radius=80, amplitude=5), person(15, feet_y=290)],
        ),
        Clip(
            "passersby_far_grainy",
            "far people cross a grainy scene one after another for 90 s",
            90,
            [Passersby(2.0, 7, lanes=(0.45, 0.62), gaps=(2.0, 4.0), speeds=(90, 150), seed=8)],
            noise=10,
            blotch=3,
            jpeg_quality=75,
        ),
        Clip(
            "passersby_trees",
            "people walk past two trees swaying in gusty wind for 60 s",
            60,
            [*_two_trees(), Passersby(20.0, 3, lanes=(0.7, 0.9), gaps=(8.0, 14.0), seed=5)],
        ),
        Clip(
            "far_figure_trees",
            "a small far figure strolls by after 20 s of trees swaying",
            40,
            [*_two_trees(), person(20, speed=16, height=40, feet_y=150)],
        ),
        Clip("car", "a car drives past", 12, [Car(4, speed=260, length=220, bottom_y=330)]),
        Clip(
            "car_parks",
            "a car drives in and stays parked",
            60,
            [Car(4, speed=200, length=220, bottom_y=330, stop_t=6.0)],
        ),
        Clip(
            "masked_road",
            "traffic on a masked road, then a person",
            30,
            [Traffic(every_s=4, bottom_y=150, length=90, speed=160), person(18, feet_y=320)],
            mask=[road],
        ),
        Clip(
            "patterns_fast",
            "patterned boxes (5, 14, 30% of the picture) rush past a plain wall",
            20,
            [
                PatternedBox(2, 0.05, 500, "grain"),
                PatternedBox(8, 0.14, -500, "checks", seed=32),
                PatternedBox(14, 0.30, 500, "light_grain", seed=33),
            ],
            scene=plain_wall,
        ),
        Clip(
            "patterns_slow",
            "patterned boxes (5, 14, 30% of the picture) pushed past a plain wall",
            34,
            [
                PatternedBox(2, 0.05, 150, "mottled"),
                PatternedBox(11, 0.14, -150, "grain", seed=32),
                PatternedBox(21, 0.30, 150, "grain", seed=33),
            ],
            scene=plain_wall,
        ),
        Clip(
            "patterns_lights",
            "lights switched on and off while a patterned box crosses",
            16,
            [PatternedBox(3, 0.14, 100, "grain", seed=34)],
            light=lights_switched([0.0, 6.0, 9.0]),
            scene=plain_wall,
        ),
        Clip("quiet", "a still scene with sensor noise", 30),
        Clip(
            "dark_noise",
            "a dark scene with heavy sensor noise (JPEG camera)",
            30,
            light=darkness(0.25),
            noise=12,
            blotch=6,
            jpeg_quality=70,
        ),
        Clip(
            "lights",
            "room lights switched on and off",
            30,
            light=lights_switched([8.0, 16.0, 24.0]),
        ),
        Clip(
            "exposure",
            "camera auto-exposure steps",
            30,
            light=exposure_steps([(6, 1.4), (13, 0.7), (20, 1.15), (26, 0.85)]),
        ),
        Clip(
            "lightning",
            "lightning strobes",
            30,
            light=lightning([5.0, 5.2, 5.3, 11.0, 11.1, 11.4, 17.5, 17.6, 17.8, 18.0, 25.0]),
        ),
        Clip("tv_flicker", "TV light flickering every frame", 30, light=flicker(seed=8)),
        Clip("sunset", "sunset: the scene darkens and turns blue", 40, light=sunset(40)),
        Clip("clouds", "shadows of clouds drift across", 40, light=cloud_shadows()),
        Clip(
            "foliage",
            "a tree sways in gusty wind",
            30,
            [Foliage(centre=(120, 110), radius=80, amplitude=5)],
        ),
        Clip("rain", "rain streaks", 30, weather=[Rain()]),
        Clip("snow", "falling snow", 30, weather=[Snow()]),
    ]


def clip_named(name: str) -> Clip:
    return next(c for c in clips() if c.name == name)


# -- busy scenes (cost benchmarks: something moves all the time) ---------------------------------


@dataclass
class Crowd:
    """Walkers crossing without pause in both directions on three paths, a new one every
    `every_s` seconds (a busy pavement). The scene repeats every `period_s` (6 walkers)."""

    every_s: float = 1.2
    crossing_s: float = 7.0  # time one walker takes to cross the picture
    relevant: bool = True

    def _walkers(self, width: int, height: int, t: float) -> list[Walker]:
        first = int((t - 2 * self.crossing_s) / self.every_s)
        walkers = []
        for k in range(max(0, first), int(t / self.every_s) + 1):
            lane = k % 3
            size = height * (0.28 + 0.08 * lane)
            direction = 1 if k % 2 else -1
            shade = k % 6  # six walkers make the period: lane, direction and colour repeat
            shirt = ((shade * 67) % 180 + 40, (shade * 131) % 180 + 40, (shade * 29) % 180 + 40)
            walkers.append(
                Walker(
                    k * self.every_s,
                    direction * (width + 0.6 * size) / self.crossing_s,
                    size,
                    height * (0.62 + 0.12 * lane),
                    shirt=shirt,
                )
            )
        return walkers

    @property
    def period_s(self) -> float:
        return 6 * self.every_s

    def draw(self, image: np.ndarray, t: float) -> None:
        for walker in self._walkers(image.shape[1], image.shape[0], t):
            walker.draw(image, t)

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        return [(0.0, duration_s)]


def busy_clips(width: int = 640, height: int = 480, duration_s: float = 20.0) -> list[Clip]:
    """Scenes where something moves in every frame, for the detector's cost (not labelled for
    the evaluation): a crowd crossing, a road with constant traffic, trees swaying."""
    scale = height / HEIGHT
    trees = [
        Foliage(centre=(width * x, height * 0.3), radius=80 * scale, amplitude=6 * scale, seed=s)
        for x, s in ((0.15, 5), (0.5, 6), (0.85, 7))
    ]
    traffic = [
        Traffic(every_s=1.5, bottom_y=height * 0.55, length=0.3 * width, speed=0.6 * width),
        Traffic(every_s=2.1, bottom_y=height * 0.8, length=0.35 * width, speed=0.8 * width),
    ]
    common = {"width": width, "height": height}
    return [
        Clip("still", "sensor noise only", duration_s, **common),  # type: ignore[arg-type]
        Clip("crowd", "walkers crossing all the time", duration_s, [Crowd()], **common),  # type: ignore[arg-type]
        Clip("traffic", "a road with constant traffic", duration_s, traffic, **common),  # type: ignore[arg-type]
        Clip("trees", "three trees swaying in gusty wind", duration_s, trees, **common),  # type: ignore[arg-type]
    ]
