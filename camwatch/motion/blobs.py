"""Blobs of changed pixels (8-connected) in 0/255 images: labelling, areas, selection."""

from __future__ import annotations

import cv2
import numpy as np

SOLID_BLOB_FRACTION = 0.01  # blobs this large (1% of the picture) are things passing by: their
# coming and going does not count as restlessness


def without_solid_blobs(changed: np.ndarray, picture_size: int | None = None) -> np.ndarray:
    """Changed pixels outside blobs of SOLID_BLOB_FRACTION of the picture (`picture_size`
    pixels, default: all of `changed`) or more: swaying leaves, rain and snow flicker in
    fragments, while a person or a car passing by is one solid blob."""
    solid_area = SOLID_BLOB_FRACTION * (changed.size if picture_size is None else picture_size)
    if cv2.countNonZero(changed) < solid_area:
        return changed
    blobs = Blobs(changed)
    solid = blobs.areas >= solid_area
    if not solid.any():
        return changed
    return blobs.select(~solid)


class Blobs:
    """The 8-connected blobs of a 0/255 image: their areas, which ones a mask touches, and an
    image of chosen ones. Labelled only inside the bounding box of the set pixels (what moved is
    usually a small part of the picture). Labels are 16-bit when they cannot overflow (8-connected
    blobs are 2 px apart; OpenCV labels about 2.5x faster than 32-bit), and 8-bit copies, when at
    most 255 blobs, let OpenCV's lookup table and histogram do the per-label work in one pass
    each."""

    def __init__(self, image: np.ndarray) -> None:
        self._shape = image.shape[:2]
        x, y, width, height = cv2.boundingRect(image)
        self._box = (slice(y, y + height), slice(x, x + width))
        fits = (height + 1) // 2 * ((width + 1) // 2) < 2**16
        self.labels: np.ndarray  # of the bounding box
        self.count, self.labels, stats, _ = cv2.connectedComponentsWithStats(
            image[self._box], connectivity=8, ltype=cv2.CV_16U if fits else cv2.CV_32S
        )
        self.areas: np.ndarray = stats[1:, cv2.CC_STAT_AREA]
        self._labels8 = self.labels.astype(np.uint8) if self.count <= 256 else None

    def touched(self, mask: np.ndarray) -> np.ndarray:
        """Per blob (label 1 up): whether any of its pixels is non-zero in `mask` (uint8)."""
        mask = mask[self._box]
        if self._labels8 is None:
            return np.bincount(self.labels[mask > 0], minlength=self.count)[1:] > 0
        hits = cv2.calcHist([self._labels8], [0], mask, [256], [0, 256])
        touched: np.ndarray = hits.ravel()[1 : self.count] > 0
        return touched

    def select(self, chosen: np.ndarray) -> np.ndarray:
        """A 0/255 image of the blobs where `chosen` (a bool per blob, label 1 up) is true."""
        lookup = np.zeros(max(256, self.count), np.uint8)
        lookup[1 : self.count][chosen] = 255
        selected = np.zeros(self._shape, np.uint8)
        if self._labels8 is not None:
            cv2.LUT(self._labels8, lookup[:256], dst=selected[self._box])
        else:
            selected[self._box] = np.take(lookup, self.labels)
        return selected


Box = tuple[int, int, int, int]  # x, y, width, height


def bounding_box(image: np.ndarray) -> Box:
    """The bounding box of an image's non-zero pixels (width 0: none)."""
    x, y, width, height = cv2.boundingRect(image)
    return x, y, width, height


def flat_nonzero(image: np.ndarray, box: Box | None = None) -> np.ndarray:
    """np.flatnonzero of a 0/255 image, in the same (row-major) order, through OpenCV's
    findNonZero inside the set pixels' bounding box (`box`, when known):
    much faster when few pixels are set, as is usual (findNonZero's scan of zeros costs more
    than the bounding box's)."""
    x, y, width, height = bounding_box(image) if box is None else box
    points = cv2.findNonZero(image[y : y + height, x : x + width]) if width else None
    if points is None:
        return np.zeros(0, np.intp)
    xy = points.reshape(-1, 2)
    flat: np.ndarray = (xy[:, 1].astype(np.intp) + y) * image.shape[1] + xy[:, 0] + x
    return flat
