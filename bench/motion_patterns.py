"""Patterned objects for the motion clips: boxes printed with high-contrast textures."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

Interval = tuple[float, float]


def pattern(kind: str, width: int, height: int, seed: int) -> np.ndarray:
    """A grey (H x W x 3 float32) texture: `grain` (random levels in 2 px squares, like gravel,
    tweed or a crowd printed on a van), `checks` (8 px squares) or `mottled` (blotches of
    several sizes, like a photograph)."""
    rng = np.random.default_rng(seed)
    if kind in ("grain", "dark_grain", "light_grain"):
        low, high = {"grain": (0, 255), "dark_grain": (0, 130), "light_grain": (125, 255)}[kind]
        small = rng.uniform(low, high, (-(-height // 2), -(-width // 2))).astype(np.float32)
        grey = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    elif kind == "checks":
        ys, xs = np.mgrid[0:height, 0:width]
        grey = np.where((ys // 12 + xs // 12) % 2 == 1, 215.0, 35.0).astype(np.float32)
    elif kind == "mottled":
        grey = np.full((height, width), 125.0, np.float32)
        for size, amplitude in ((3, 55.0), (9, 45.0), (27, 35.0)):
            small = rng.standard_normal((height // size + 2, width // size + 2)).astype(np.float32)
            grey += (
                amplitude
                * cv2.resize(small, (width + 2 * size, height + 2 * size))[:height, :width]
            )
    else:
        raise ValueError(f"unknown pattern {kind!r}")
    clipped = np.clip(grey, 0, 255)
    return np.repeat(clipped[:, :, None], 3, axis=2)


@dataclass
class PatternedBox:
    """A box covering `share` of the picture, printed with a pattern, pushed across at `speed`
    (pixels a second; negative: right to left) with its centre at `centre_y` (a fraction of
    the picture's height)."""

    start_t: float
    share: float
    speed: float
    kind: str
    centre_y: float = 0.6
    seed: int = 31
    picture: tuple[int, int] = (640, 360)  # width, height it is sized for
    relevant: bool = True
    texture: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        width, height = self.picture
        box_h = min(height, round((self.share * width * height / 1.3) ** 0.5))
        box_w = round(self.share * width * height / box_h)
        self.texture = pattern(self.kind, box_w, box_h, self.seed)

    def x_at(self, t: float, width: int) -> float:
        """The box's left edge at `t`."""
        box_w = self.texture.shape[1]
        start = -box_w if self.speed > 0 else width
        return start + self.speed * (t - self.start_t)

    def draw(self, image: np.ndarray, t: float) -> None:
        if t < self.start_t:
            return
        height, width = image.shape[:2]
        box_h, box_w = self.texture.shape[:2]
        x = round(self.x_at(t, width))
        top = min(height - box_h, max(0, round(self.centre_y * height - box_h / 2)))
        left, right = max(0, x), min(width, x + box_w)
        if right > left:
            image[top : top + box_h, left:right] = self.texture[:, left - x : right - x]

    def intervals(self, width: int, duration_s: float) -> list[Interval]:
        """While the box's centre is inside the picture."""
        half = self.texture.shape[1] / 2
        times = [
            float(t)
            for t in np.arange(self.start_t, duration_s + 1e-9, 0.05)
            if 0 <= self.x_at(float(t), width) + half <= width
        ]
        return [(round(times[0], 2), round(times[-1], 2))] if times else []
