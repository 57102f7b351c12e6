"""Login page, login/logout endpoints and /api/status (is a login needed, is the server exposed)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import tornado.web

from camwatch.server.auth import MAX_CREDENTIAL_LENGTH, SESSION_COOKIE, SESSION_SECONDS, Credentials
from camwatch.server.base import BaseHandler

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LoginPageHandler(BaseHandler):
    """GET /login: the page; POST /login: JSON {username, password} -> session cookie."""

    public = True
    max_body_bytes = 4096

    def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((WEB_DIR / "login.html").read_bytes())

    async def post(self) -> None:
        # A form on another site cannot send this content type without a CORS preflight.
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type.lower() != "application/json":
            raise tornado.web.HTTPError(
                400, "send the login as JSON (Content-Type: application/json)"
            )
        credentials = self.credentials()
        auth, address = self.auth, self.request.remote_ip or "?"
        if not auth.enabled:
            self.write_json({"user": None})
            return
        if not await self.throttled(auth.verify(address, credentials)):
            log.warning("failed login from %s", address)
            raise tornado.web.HTTPError(401, "wrong user name or password")
        log.info("login from %s", address)
        self.set_cookie(
            SESSION_COOKIE,
            auth.issue_session(),
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.request.protocol == "https",
            max_age=SESSION_SECONDS,
        )
        self.write_json({"user": auth.username})

    def credentials(self) -> Credentials:
        body = self.json_body()
        fields = {
            "username": body.get("username", self.auth.username),
            "password": body.get("password"),
        }
        for key, value in fields.items():
            if not isinstance(value, str):
                raise tornado.web.HTTPError(400, f"{key}: expected a string")
            if len(value) > MAX_CREDENTIAL_LENGTH:
                raise tornado.web.HTTPError(
                    400, f"{key}: longer than {MAX_CREDENTIAL_LENGTH} characters"
                )
        return Credentials(fields["username"], fields["password"])


class LogoutHandler(BaseHandler):
    """POST /logout: the session cookie is revoked and cleared."""

    public = True  # logging out must work with an expired session too

    def post(self) -> None:
        self.auth.revoke_session(self.session_cookie())
        self.clear_cookie(SESSION_COOKIE, path="/")
        self.set_status(204)
        self.finish()


class StatusHandler(BaseHandler):
    """GET /api/status: what the page needs to show a login state and an exposure warning."""

    def get(self) -> None:
        auth = self.auth
        self.write_json(
            {
                "auth": auth.enabled,
                "user": auth.username if auth.enabled else None,
                "tls": self.request.protocol == "https",
                "insecure": not auth.enabled and not is_loopback(self.context.config.server.host),
            }
        )
