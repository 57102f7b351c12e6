"""The login page in headless Chromium: redirect, wrong and right password, session, logout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from camwatch.config import Config
from tests.helpers.support import ServerThread, demo_config

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "open sesame"

pytestmark = pytest.mark.browser


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"headless Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context()
        context.set_default_timeout(15000)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        yield page
        browser.close()


def password_config(tmp_path: Path) -> Config:
    config = demo_config(str(tmp_path))
    config.server.password = PASSWORD
    return config


def log_in(page: Any, password: str = PASSWORD) -> None:
    """Fill in and send the login form."""
    page.fill("#username", "admin")
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_login_logout_in_a_browser(tmp_path, page):
    with ServerThread(password_config(tmp_path)) as server:
        page.goto(server.url + "/")
        assert page.url == server.url + "/login"
        log_in(page, "wrong")
        page.wait_for_selector("#message:not([hidden])")
        assert "wrong user name or password" in page.inner_text("#message")

        log_in(page)
        page.wait_for_url(server.url + "/")
        page.wait_for_selector("button.logout")
        [cookie] = page.context.cookies()
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("document.cookie") == ""  # scripts cannot read the session
        page.wait_for_selector(".tile.has-frame")  # live view works
        assert page.query_selector(".security-banner") is None

        page.click("button.logout")
        page.wait_for_url(server.url + "/login")
        page.goto(server.url + "/")
        assert page.url == server.url + "/login"
        assert page.errors == []  # type: ignore[attr-defined]


def test_deep_link_returns_after_login(tmp_path, page):
    with ServerThread(password_config(tmp_path)) as server:
        page.goto(server.url + "/api/cameras")
        assert page.url == server.url + "/login?next=api%2Fcameras"
        log_in(page)
        page.wait_for_url(server.url + "/api/cameras")
        assert '"name": "cam"' in page.content()


def test_open_redirects_are_ignored(tmp_path, page):
    with ServerThread(password_config(tmp_path)) as server:
        for target in (
            "//evil.example/",
            "https://evil.example/",
            "/%2Fevil.example",
            "javascript:alert(1)",
            "../../x",
        ):
            page.goto(server.url + "/login?next=" + target)
            log_in(page)
            page.wait_for_url(server.url + "/")
            page.context.clear_cookies()


def test_exposed_server_shows_a_banner(tmp_path, page):
    with ServerThread(demo_config(str(tmp_path))) as server:
        server.config.server.host = "0.0.0.0"  # as a LAN-facing server without password
        page.goto(server.url + "/")
        banner = page.wait_for_selector(".security-banner")
        assert "set a password" in banner.inner_text()
        assert page.query_selector("button.logout") is None
