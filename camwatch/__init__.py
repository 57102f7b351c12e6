"""camwatch: a self-hosted webcam streamer with motion recording."""

from camwatch.deferred import defer_import

__version__ = "0.1.0"

# PyAV (with FFmpeg's libraries, about 20 MB resident) loads when a camera, clip or export
# first uses it: an MJPEG, V4L2 or demo camera that is not recording never does.
defer_import("av", "av")
