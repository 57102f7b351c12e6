"""Shared pytest fixtures."""

from tests.helpers.broker import collectors  # noqa: F401  (MQTT subscribers, closed after)
from tests.helpers.browser import chromium, open_page  # noqa: F401  (fixtures for browser tests)
from tests.helpers.event_files import store  # noqa: F401  (an empty EventStore)
