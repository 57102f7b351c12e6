"""RetentionService: reconciles at start, then enforces retention on a timer and on demand."""

from __future__ import annotations

import time

from camwatch.config import RetentionConfig
from camwatch.recording.retention import RetentionService
from tests.helpers.event_files import add_event
from tests.helpers.support import wait_until

T0 = 1_790_000_000.0  # 2026-09-21
DAY = 86400.0
NO_LIMITS = {"max_days": 0.0, "max_bytes": 0, "min_free_bytes": 0}


def test_retention_service_reconciles_at_start_and_runs_on_demand(store):
    gone = add_event(store, "gone", T0)
    (store.data_dir / gone.video_path).unlink()
    retention = RetentionConfig(**NO_LIMITS)
    service = RetentionService(store, retention, interval_s=600)
    service.start()
    try:
        assert store.get("gone") is None  # reconciled before start() returned
        wait_until(lambda: service.passes >= 1, message="first retention pass")
        add_event(store, "ancient", time.time() - 90 * DAY)
        retention.max_days = 30
        service.request_cleanup()  # as after each clip
        wait_until(lambda: store.get("ancient") is None, message="retention on demand")
        assert service.deleted_total == 1
    finally:
        service.stop()
    assert service._thread is None
