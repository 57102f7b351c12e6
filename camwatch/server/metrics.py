"""The /metrics handler: Prometheus text rendered by camwatch.integrations.metrics."""

from __future__ import annotations

import tornado.web

from camwatch.integrations.metrics import CONTENT_TYPE
from camwatch.server.base import BaseHandler


class MetricsHandler(BaseHandler):
    def get(self) -> None:
        metrics = self.context.metrics
        if metrics is None:
            raise tornado.web.HTTPError(404, "metrics are not enabled")
        self.set_header("Content-Type", CONTENT_TYPE)
        self.set_header("Cache-Control", "no-store")
        self.finish(metrics.render())
