"""JpegDecoder: a camera JPEG decoded to the full-range 4:2:0 picture a clip encodes as it is."""

from __future__ import annotations

import av
import numpy as np

from camwatch import jpeg
from camwatch.frame import Frame

# A camera's JPEG is full range (0-255): its planes are encoded as they are, and the H.264 says
# so (VUI video_full_range_flag, which browsers honour), rather than squeezed to video range.
FULL_RANGE_FORMAT = "yuvj420p"


class JpegDecoder:
    """Camera JPEG to a VideoFrame through FFmpeg's MJPEG decoder, as the encoder takes it: the
    JPEG's own full-range YCbCr 4:2:0 planes (yuvj420p), not converted at all; other samplings
    (4:2:2, 4:4:4, grey) are made 4:2:0 by swscale. One per thread: FFmpeg's codec contexts
    are not thread-safe. A `strict` decoder refuses a JPEG with any error in it, as
    libjpeg-turbo does (else FFmpeg makes what it can of a damaged one)."""

    def __init__(self, *, strict: bool = False) -> None:
        self._codec = av.CodecContext.create("mjpeg", "r")
        if strict:
            self._codec.options = {"err_detect": "explode"}
        self.decoded = 0  # pictures decoded

    @staticmethod
    def decodes(frame: Frame) -> bool:
        """Whether the writer would take the frame as `picture` made (a camera JPEG of even
        size; the odd ones are cropped by way of BGR)."""
        return frame.camera_jpeg is not None and frame.width % 2 == 0 and frame.height % 2 == 0

    def picture(self, data: bytes) -> av.VideoFrame:
        try:
            frames = self._codec.decode(av.Packet(data))
            if not frames:
                raise jpeg.JpegError("no picture in JPEG")
            picture = frames[0]
            if picture.format.name != FULL_RANGE_FORMAT:
                picture = picture.reformat(format=FULL_RANGE_FORMAT)
        except av.FFmpegError as e:  # a corrupt JPEG, or one swscale cannot convert
            raise jpeg.JpegError(str(e)) from None
        picture.pict_type = av.video.frame.PictureType.NONE  # else every frame is a keyframe
        self.decoded += 1
        return picture


def luma(picture: av.VideoFrame) -> np.ndarray:
    """A picture's Y plane: a view of its pixels (no copy), without the rows' padding; the
    grey image of a camera JPEG at full size."""
    plane = picture.planes[0]
    rows: np.ndarray = np.frombuffer(memoryview(plane), np.uint8).reshape(
        plane.height, plane.line_size
    )
    return rows[:, : plane.width]
