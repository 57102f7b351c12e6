"""The /metrics handler: the exposition camwatch.integrations.metrics renders, as asked."""

from __future__ import annotations

import tornado.web

from camwatch.server.base import BaseHandler


class MetricsHandler(BaseHandler):
    def get(self) -> None:
        metrics = self.context.metrics
        if metrics is None:
            raise tornado.web.HTTPError(404, "metrics are not enabled")
        body, content_type = metrics.exposition(self.request.headers.get("Accept", ""))
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-store")
        self.finish(body)
