"""Property tests of the HTTP API: any request gets a non-5xx answer with security headers, and
every error is JSON {"error": ...} with no traceback."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camwatch.server.auth import FailureThrottle
from camwatch.server.guard import SECURITY_HEADERS
from tests.helpers.security_client import basic_header, request, session_cookie
from tests.helpers.support import ServerThread, demo_config, wait_until

PASSWORD = "fuzz-password"
SEGMENTS = [
    "",
    "api",
    "cameras",
    "cam",
    "nocam",
    "events",
    "media",
    "motion",
    "status",
    "static",
    "app.js",
    "login.js",
    "index.html",
    "webcam",
    "ws",
    "stream.mjpg",
    "snapshot.jpg",
    "healthz",
    "login",
    "logout",
    "metrics",
    "..",
    ".",
    "%2e%2e",
    "%2f",
    "%00",
    "%ff",
    "abc123.mp4",
    "abc123.jpg",
    "x" * 300,
    "CAM",
    "é",
    "🙂",
]
FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = demo_config(str(tmp_path_factory.mktemp("fuzz")), width=160, height=120)
    config.server.password = PASSWORD
    with ServerThread(config) as running:
        running.call(
            lambda: setattr(running.service.context.auth, "throttle", FailureThrottle(free=10**9))
        )
        good = {"Authorization": basic_header("admin", PASSWORD)}
        wait_until(
            lambda: request(running.port, "GET", "/snapshot.jpg", headers=good).status == 200,
            message="first frame",
        )
        yield running


@pytest.fixture(scope="module")
def cookie(server: ServerThread) -> str:
    response = request(
        server.port,
        "POST",
        "/login",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"password": PASSWORD}),
    )
    return session_cookie(response)


def quote_text(text: str) -> str:
    return urllib.parse.quote(text, safe="/%.-_~")


paths = st.one_of(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=5).map(
        lambda s: "/" + quote_text("/".join(s))
    ),
    st.text(max_size=40).map(lambda t: "/" + quote_text(t)),
).flatmap(
    lambda path: st.one_of(
        st.just(path),
        st.dictionaries(
            st.sampled_from(["camera", "limit", "before", "format", "next", "x"]),
            st.one_of(
                st.text(max_size=20),
                st.integers().map(str),
                st.sampled_from(
                    [
                        "base64",
                        "-1",
                        "0",
                        "1e9",
                        "nan",
                        "9" * 40,
                        "2026-01-01T00:00:00Z",
                        "'; DROP TABLE",
                    ]
                ),
            ),
            max_size=3,
        ).map(lambda q: path + "?" + urllib.parse.urlencode(q)),
    )
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "threshold",
                    "enabled",
                    "pixel_threshold",
                    "stable_frames",
                    "min_motion_frames",
                    "pre_roll_seconds",
                    "max_event_seconds",
                    "username",
                    "password",
                    "mask",
                    "x",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=10,
)

bodies = st.one_of(
    st.none(),
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b"[" * 5000,
            b"{" * 3000,
            b'{"threshold": 1e999}',
            b'"\\ud800"',
            b"\xff\xfe",
            b"null",
            b"{}",
            b" " * 70_000,
        ]
    ),
)

credential_headers = st.sampled_from(["none", "good", "bad", "junk", "cookie", "badcookie"])
extra_headers = st.dictionaries(
    st.sampled_from(
        [
            "Content-Type",
            "Origin",
            "Sec-Fetch-Site",
            "Sec-Fetch-Mode",
            "Accept",
            "Range",
            "If-Modified-Since",
            "If-None-Match",
            "X-Requested-With",
            "Accept-Encoding",
            "Cookie",
        ]
    ),
    st.one_of(
        st.sampled_from(
            [
                "application/json",
                "text/html",
                "bytes=0-10",
                "bytes=-5",
                "bytes=99999999-",
                "bytes=5-1",
                "http://evil.example",
                "same-origin",
                "cross-site",
                "navigate",
                "cors",
                "gzip",
                "*/*",
                "null",
                "camwatch_session=x.y.z",
            ]
        ),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    ),
    max_size=4,
)


def credentials(kind: str, cookie: str) -> dict[str, str]:
    return {
        "none": {},
        "good": {"Authorization": basic_header("admin", PASSWORD)},
        "bad": {"Authorization": basic_header("admin", "nope")},
        "junk": {"Authorization": "Basic ###"},
        "cookie": {"Cookie": cookie},
        "badcookie": {"Cookie": "camwatch_session=1.2.3"},
    }[kind]


def send(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; streaming answers (MJPEG) are judged by their headers only."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content_type = response.headers.get("Content-Type", "")
        data = b"" if content_type.startswith("multipart/") else response.read()
        return response.status, response.headers, data
    finally:
        connection.close()


def check_response(method: str, status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
    assert status < 500, (status, body[:300])
    assert b"Traceback" not in body and b'File "' not in body
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (status, name)
    assert headers.get("Access-Control-Allow-Origin") is None
    if status >= 400 and method != "HEAD":
        assert headers.get("Content-Type", "").startswith("application/json"), (status, body)
        error = json.loads(body)["error"]
        assert isinstance(error, str) and error


@FUZZ
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    path=paths,
    kind=credential_headers,
    extra=extra_headers,
    body=bodies,
)
def test_any_request_gets_a_clean_answer(server, cookie, method, path, kind, extra, body):
    headers = {**extra, **credentials(kind, cookie)}
    if kind not in ("cookie", "badcookie") and "Cookie" in extra:
        headers["Cookie"] = extra["Cookie"]
    if method in ("GET", "HEAD") and body is not None:
        body = None
    if method == "POST" and path.split("?")[0] == "/logout" and kind == "cookie":
        headers.pop("Cookie")  # logging out would revoke the cookie the other tests share
    status, response_headers, data = send(server.port, method, path, headers, body)
    check_response(method, status, response_headers, data)


@FUZZ
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_any_login_body_gets_a_clean_answer(server, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    status, response_headers, data = send(server.port, "POST", "/login", headers, body)
    check_response("POST", status, response_headers, data)
    assert status in (200, 400, 401, 413)


def json_routes(server: ServerThread) -> list[str]:
    """Routes that take a JSON body (PATCH), as they exist on this build."""
    assert server.service is not None and server.service.server is not None
    app: Any = server.service.server.request_callback
    found = []
    for rule in app.wildcard_router.rules:
        handler = rule.target
        if getattr(handler, "patch", None) is not None and "patch" in vars(handler):
            pattern = rule.matcher.regex.pattern.rstrip("$")
            found.append(re.sub(r"\(\?P<name>[^)]*\)", "cam", pattern).replace("\\", ""))
    return found


@FUZZ
@given(body=bodies, index=st.integers(min_value=0, max_value=10))
def test_any_patch_body_gets_a_clean_answer(server, cookie, body, index):
    routes = json_routes(server)
    if not routes:
        pytest.skip("no PATCH routes on this build")
    path = routes[index % len(routes)]
    headers = {"Cookie": cookie, "Content-Type": "application/json"}
    status, response_headers, data = send(server.port, "PATCH", path, headers, body)
    check_response("PATCH", status, response_headers, data)
    assert status in (200, 400, 404, 413), (status, data)


def test_server_is_healthy_after_fuzzing(server):
    assert request(server.port, "GET", "/healthz").body == b"ok"
    good = {"Authorization": basic_header("admin", PASSWORD)}
    assert request(server.port, "GET", "/snapshot.jpg", headers=good).status == 200
