"""Shared pytest fixtures."""

from tests.browser import chromium, open_page  # noqa: F401  (fixtures for browser tests)
