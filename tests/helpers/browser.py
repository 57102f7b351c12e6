"""Headless Chromium for browser tests: one browser per module, pages that collect console errors.

Use the `open_page` fixture (registered in tests/conftest.py):

    def test_x(open_page):
        watched = open_page(width=390, height=844)
        watched.page.goto(url)
        ...
        watched.assert_no_errors()
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CAMWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # <video> with sound, as after a click
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


class WatchedPage:
    """A Playwright page that records console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            location = message.location.get("url", "") if message.location else ""
            self.errors.append(f"console: {message.text} ({location})")

    def allow(self, pattern: str) -> None:
        """Tolerate console errors matching pattern (e.g. an expected HTTP 400)."""
        self._allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self._allowed)]

    def assert_no_errors(self) -> None:
        assert self.unexpected_errors() == []

    def screenshot(self, name: str, **options: Any) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), **options)
        return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"headless Chromium not found at {CHROMIUM} (scripts/setup --test installs "
            "it; CAMWATCH_CHROMIUM overrides the path)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


PageFactory = Callable[..., WatchedPage]

MEDIA_ERR_DECODE = 3
_PLAY_TO_END = """() => new Promise(resolve => {
    const v = document.getElementById("v");
    v.onended = () => resolve({muted: v.muted, audio: v.webkitAudioDecodedByteCount,
                               video: v.webkitVideoDecodedByteCount, t: v.currentTime});
    v.onerror = () => resolve(
        {error: v.error && v.error.code, message: v.error && v.error.message});
    v.play().catch(e => resolve({error: String(e)}));
    setTimeout(() => resolve({timeout: v.currentTime}), 30000);
})"""


def play_to_end(open_page: PageFactory, media: Path) -> dict[str, Any]:
    """Play a media file with sound in a page of its own, to its end: {muted, audio, video
    (decoded bytes), t (seconds)}, or {error: code, message: Chromium's reason} / {timeout: t}.

    On a loaded machine Chromium's headless media pipeline has, rarely, reported
    MEDIA_ERR_DECODE for a file that played on every other attempt (the cause was not found;
    Chromium reports an audio renderer error as a decode error too). Such a failure is
    retried once on the same bytes: a file that cannot be decoded fails both times, and the
    first failure's copy is kept in test-artifacts/ for a look."""
    page_file = media.parent / "play.html"
    page_file.write_text(f'<video id="v" src="{media.name}"></video>')
    played: dict[str, Any] = {}
    for attempt in range(2):
        watched = open_page()
        watched.page.goto(page_file.as_uri())
        played = watched.page.evaluate(_PLAY_TO_END)
        if played.get("error") != MEDIA_ERR_DECODE or attempt:
            watched.assert_no_errors()
            return played
        ARTIFACTS.mkdir(exist_ok=True)
        kept = ARTIFACTS / f"decode-error-{time.time():.0f}-{media.name}"
        shutil.copy(media, kept)
        reason = played.get("message")
        print(f"Chromium: MEDIA_ERR_DECODE ({reason}) playing {media.name} (kept as {kept}); again")
    return played


@pytest.fixture
def open_page(chromium: Any) -> Iterator[PageFactory]:
    """open_page(width, height, **context_options) -> WatchedPage, closed after the test."""
    contexts: list[Any] = []

    def factory(width: int = 1280, height: int = 800, **options: Any) -> WatchedPage:
        options.setdefault("locale", "en-GB")
        options.setdefault("timezone_id", "Europe/Berlin")
        context = chromium.new_context(viewport={"width": width, "height": height}, **options)
        context.set_default_timeout(15000)
        contexts.append(context)
        return WatchedPage(context.new_page())

    yield factory
    for context in contexts:
        context.close()
