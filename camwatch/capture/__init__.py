"""Capture: sources, the MJPEG reader, the capture thread, cameras and the fan-out hub."""
