"""Thumbnails: an event's picture as a small JPEG beside its clip, written atomically."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from camwatch import jpeg

log = logging.getLogger(__name__)

THUMBNAIL_WIDTH = 480
THUMBNAIL_QUALITY = 80


class Pictured(Protocol):
    """A frame a thumbnail can be made of (a ClipFrame)."""

    def bgr(self) -> np.ndarray: ...


@dataclass(frozen=True)
class Thumbnail:
    """An event's thumbnail to write (a clip writer's queue item): `frame`'s picture at `path`."""

    frame: Pictured
    path: Path

    def write(self) -> None:
        """Write it; when that fails (a full disk) the event goes on without a thumbnail,
        the error logged in a line."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_thumbnail(self.frame.bgr(), self.path)
        except OSError as e:
            log.error("cannot write the thumbnail %s: %s", self.path.name, e)


def write_thumbnail(image: np.ndarray, path: Path) -> None:
    """A JPEG of the BGR `image` at most THUMBNAIL_WIDTH wide; on failure (a full disk, say)
    neither a half-written file nor its temporary is left behind."""
    height, width = image.shape[:2]
    if width > THUMBNAIL_WIDTH:
        size = (THUMBNAIL_WIDTH, round(height * THUMBNAIL_WIDTH / width))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    data = jpeg.encode(image, THUMBNAIL_QUALITY)
    temporary = path.with_suffix(".jpg.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
