"""build_service: the one place that decides which components a Config turns on."""

from __future__ import annotations

from camwatch.config import Config
from camwatch.service import Service


def build_service(config: Config) -> Service:
    service = Service(config)
    return service
