"""Blobs of changed pixels (8-connected) in 0/255 images: labelling, areas, selection."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SOLID_BLOB_FRACTION = 0.01  # blobs this large (1% of the picture) are things passing by: their
# coming and going does not count as restlessness

Box = tuple[int, int, int, int]  # x, y, width, height


def bounding_box(image: np.ndarray) -> Box:
    """The bounding box of an image's non-zero pixels (width 0: none)."""
    x, y, width, height = cv2.boundingRect(image)
    return x, y, width, height


@dataclass(frozen=True)
class SetPixels:
    """The non-zero pixels of an image: their bounding box and their flat indices (row-major
    order) in the image and in the box. What moved is usually a small part of the picture, so
    work done per set pixel is cheaper than a pass over the image."""

    box: Box
    flat: np.ndarray  # into the image
    local: np.ndarray  # into the box

    @classmethod
    def of(cls, image: np.ndarray, box: Box | None = None) -> SetPixels:
        """Those of a 0/255 image (`box`: its bounding box, when known), found by OpenCV's
        findNonZero inside the bounding box (its scan of zeros costs more than the box's)."""
        x, y, width, height = bounding_box(image) if box is None else box
        points = cv2.findNonZero(image[y : y + height, x : x + width]) if width else None
        if points is None:
            none = np.zeros(0, np.intp)
            return cls((x, y, width, height), none, none)
        xy = points.reshape(-1, 2).astype(np.intp)
        local = xy[:, 1] * width + xy[:, 0]
        flat = (xy[:, 1] + y) * image.shape[1] + xy[:, 0] + x
        return cls((x, y, width, height), flat, local)

    @property
    def count(self) -> int:
        return int(self.flat.size)

    def within(self, image: np.ndarray) -> SetPixels:
        """The set pixels of `image` (of the same size), all of which are among these."""
        kept = image.ravel()[self.flat] > 0
        return SetPixels(self.box, self.flat[kept], self.local[kept])


def without_solid_blobs(
    changed: np.ndarray, pixels: SetPixels, picture_size: int | None = None
) -> np.ndarray:
    """Changed pixels (`pixels`: changed's) outside blobs of SOLID_BLOB_FRACTION of the picture
    (`picture_size` pixels, default: all of `changed`) or more: swaying leaves, rain and snow
    flicker in fragments, while a person or a car passing by is one solid blob."""
    solid_area = SOLID_BLOB_FRACTION * (changed.size if picture_size is None else picture_size)
    if pixels.count < solid_area:
        return changed
    blobs = Blobs(changed, pixels)
    solid = blobs.areas >= solid_area
    if not solid.any():
        return changed
    return blobs.select(~solid)


class Blobs:
    """The 8-connected blobs of a 0/255 image: their areas, which ones a mask touches, and an
    image of chosen ones. Labelled only inside the bounding box of the set pixels, and counted
    and selected through the set pixels' labels (OpenCV's statistics, histogram and lookup
    table each pass over the whole box, which is mostly zeros). Labels are 16-bit when they
    cannot overflow (8-connected blobs are 2 px apart; OpenCV labels about 2.5x faster than
    32-bit)."""

    def __init__(self, image: np.ndarray, pixels: SetPixels) -> None:
        self._shape = image.shape[:2]
        self._pixels = pixels
        x, y, width, height = pixels.box
        fits = (height + 1) // 2 * ((width + 1) // 2) < 2**16
        self.count, labels = cv2.connectedComponents(
            image[y : y + height, x : x + width],
            connectivity=8,
            ltype=cv2.CV_16U if fits else cv2.CV_32S,
        )
        self._labels = labels.ravel()[pixels.local]  # each set pixel's blob (1 up)
        self.areas: np.ndarray = np.bincount(self._labels, minlength=self.count)[1:]

    def touched(self, mask: np.ndarray) -> np.ndarray:
        """Per blob (label 1 up): whether any of its pixels is non-zero in `mask` (uint8, of
        the image's size)."""
        hit = mask.ravel()[self._pixels.flat] > 0
        hits: np.ndarray = np.bincount(self._labels[hit], minlength=self.count)[1:] > 0
        return hits

    def select(self, chosen: np.ndarray) -> np.ndarray:
        """A 0/255 image of the blobs where `chosen` (a bool per blob, label 1 up) is true."""
        lookup = np.zeros(self.count, np.bool_)
        lookup[1:] = chosen
        selected = np.zeros(self._shape, np.uint8)
        selected.ravel()[self._pixels.flat[lookup[self._labels]]] = 255
        return selected
