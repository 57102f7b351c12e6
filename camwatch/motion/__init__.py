"""Motion: the detector, lighting, masks, the event tracker, run-time settings and offline scan."""
