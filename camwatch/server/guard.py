"""Guarded: the one gate every handler passes: security headers, login, CSRF and body limits."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Awaitable
from http import HTTPStatus
from types import TracebackType
from typing import Any

import tornado.web
from tornado.httputil import HTTPServerRequest

from camwatch.server.auth import REALM, SESSION_COOKIE, Authenticator, Throttled, parse_basic
from camwatch.server.context import AppContext

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'"
    ),
}

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ERROR_MESSAGES = {416: "the requested range is not in the file"}
MAX_BODY_BYTES = 64 * 1024


class Refused(tornado.web.HTTPError):
    """An HTTPError with headers of its own (send_error clears the handler's headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str]) -> None:
        super().__init__(status, message.replace("%", "%%"))
        self.headers = headers


def authenticator(context: AppContext) -> Authenticator:
    if context.auth is None:  # fail closed: an app made without make_app still checks it
        context.auth = Authenticator.from_config(context.config.server)
    return context.auth


def cross_origin_error(request: HTTPServerRequest) -> str | None:
    """Why a browser request comes from another site, or None (same origin or not a browser).

    Browsers send Sec-Fetch-Site (same-origin, same-site, cross-site, none); older ones send
    Origin on cross-origin requests. Clients that send neither are not browsers, so no other
    site can make them send anything (the same rule as Tornado's cross_origin_protection)."""
    headers = request.headers
    site = headers.get("Sec-Fetch-Site")
    origin = headers.get("Origin")
    if site in ("same-origin", "none"):
        return None
    if site is not None:
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    if origin is None:
        return None
    if urllib.parse.urlsplit(origin).netloc.lower() == headers.get("Host", "").lower():
        return None
    return "cross-site request refused (Origin does not match Host)"


def is_browser(request: HTTPServerRequest) -> bool:
    headers = request.headers
    return "Sec-Fetch-Mode" in headers or "X-Requested-With" in headers


def is_navigation(request: HTTPServerRequest) -> bool:
    """A browser loading a page (as opposed to a script, an image or a player)."""
    if request.method not in ("GET", "HEAD"):
        return False
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in request.headers.get("Accept", "")


def login_location(path: str) -> str:
    """`login?next=...`, relative to the request so it works behind a path prefix too."""
    depth = max(0, path.count("/") - 1)
    target = path.lstrip("/")
    query = "?" + urllib.parse.urlencode({"next": target}) if target else ""
    return "../" * depth + "login" + query


class Guarded(tornado.web.RequestHandler):
    """Mixed into every handler (BaseHandler, the live socket, static files).

    `public = True` lets a handler through without a login (/healthz, the login page).
    Errors are JSON {"error": ...}; no traceback ever reaches the client."""

    context: AppContext
    public = False
    max_body_bytes = MAX_BODY_BYTES
    error_reason = ""  # why the request failed, for its access log line (log_request)

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    async def prepare(self) -> None:
        await self.guard()

    async def guard(self) -> None:
        self.check_declared_length()
        if self.request.method not in SAFE_METHODS:
            error = cross_origin_error(self.request)
            if error is not None:
                raise tornado.web.HTTPError(403, error)
        if not self.public:
            await self.require_login()

    def check_declared_length(self) -> None:
        """413 on the Content-Length header alone: handlers that stream their body (every
        BaseHandler) run this before a byte of it is read."""
        length = self.request.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > self.max_body_bytes:
            self.refuse_body()

    def refuse_body(self) -> None:
        raise tornado.web.HTTPError(413, f"request body is larger than {self.max_body_bytes} bytes")

    # -- authentication ----------------------------------------------------------------------

    @property
    def auth(self) -> Authenticator:
        return authenticator(self.context)

    def session_cookie(self) -> str | None:
        return self.get_cookie(SESSION_COOKIE)

    async def require_login(self) -> None:
        auth = self.auth
        if not auth.enabled or auth.session_valid(self.session_cookie()):
            return
        header = self.request.headers.get("Authorization")
        if header and auth.basic_cached(header):
            return
        if header and header.lower().startswith("basic "):
            await self.check_basic(header)
            return
        self.refuse_unauthenticated("login required")

    async def check_basic(self, header: str) -> None:
        address = self.request.remote_ip or "?"
        accepted = await self.throttled(
            self.auth.verify_basic(address, header, parse_basic(header))
        )
        if not accepted:
            log.warning("failed HTTP Basic login from %s", address)
            self.refuse_unauthenticated("wrong user name or password")

    async def throttled(self, check: Awaitable[bool]) -> bool:
        """The result of a password check, or a 429 when it was not checked (see verify)."""
        try:
            return await check
        except Throttled as e:
            raise Refused(429, e.reason, {"Retry-After": str(e.seconds)}) from None

    def refuse_unauthenticated(self, message: str) -> None:
        """Browsers loading a page go to the login page; players get a Basic challenge."""
        if is_navigation(self.request):
            self.set_header("Cache-Control", "no-store")
            self.redirect(login_location(self.request.path), status=303)
            raise tornado.web.Finish()
        headers = {}
        if not is_browser(self.request):
            # Browsers would pop up their own password box on this header; the page logs in.
            headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        raise Refused(401, message, headers)

    # -- errors ----------------------------------------------------------------------------

    def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Any:
        """An error that a Tornado handler answers without a body (StaticFileHandler's 416)
        gets the JSON body every other error has."""
        empty = chunk is None and not self._write_buffer and not self._finished
        if empty and self._status_code >= 400 and self.request.method != "HEAD":
            message = ERROR_MESSAGES.get(self._status_code, self._reason)
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            chunk = json.dumps({"error": message})
        return super().finish(chunk)

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """An HTTPError is said once, on its request's access log line (log_request), with
        its reason; Tornado would log it a second time as a warning of its own. Anything else
        is a bug: logged by Tornado, traceback and all."""
        if isinstance(value, tornado.web.HTTPError):
            self.error_reason = value.get_message() or ""
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError):
            message = exc_info[1].log_message or HTTPStatus(status_code).phrase
            try:
                message = message % exc_info[1].args
            except (TypeError, ValueError):
                pass  # a message with a literal % and no arguments
            for name, value in getattr(exc_info[1], "headers", {}).items():
                self.set_header(name, value)
        elif status_code >= 500:
            message = "internal server error"
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"error": message}))
