"""Recording: clips, thumbnails, the event index, retention and reconciliation."""
