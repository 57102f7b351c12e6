"""camwatch: a self-hosted webcam streamer with motion recording."""

__version__ = "0.1.0"
