"""The security gate against a real server: logins, every route guarded, CSRF, websocket origin,
body limits, security headers, TLS and the warning for an exposed server without a password."""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import tornado.web

from camwatch.config import ServerConfig
from camwatch.server.auth import FailureThrottle
from camwatch.server.guard import SECURITY_HEADERS
from camwatch.service import warn_if_exposed
from tests.helpers.certs import self_signed
from tests.helpers.processes import free_port
from tests.helpers.security_client import (
    Response,
    basic_header,
    request,
    session_cookie,
    websocket_frames,
    websocket_refusal,
)
from tests.helpers.support import ServerThread, demo_config, wait_until

PASSWORD = "correct horse battery staple"
GOOD = {"Authorization": basic_header("admin", PASSWORD)}
NAVIGATE = {
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "none",
    "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
}
PUBLIC_PATHS = {"/healthz", "/login", "/logout", "/static/login.js", "/static/login.css"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    config = demo_config(str(tmp_path_factory.mktemp("secure")))
    config.server.password = PASSWORD
    with ServerThread(config) as running:
        # Many tests here fail on purpose; the lockout has a test of its own.
        running.call(
            lambda: setattr(running.service.context.auth, "throttle", FailureThrottle(free=10_000))
        )
        wait_until(
            lambda: request(running.port, "GET", "/snapshot.jpg", headers=GOOD).status == 200,
            message="first frame",
        )
        yield running


def login(server: ServerThread, password: str = PASSWORD, **headers: str) -> Response:
    return request(
        server.port,
        "POST",
        "/login",
        headers={"Content-Type": "application/json", **headers},
        body=json.dumps({"username": "admin", "password": password}),
    )


def sample_path(pattern: str) -> str:
    """A concrete URL for a route pattern (camera `cam`, any id, a static file)."""
    path = pattern.rstrip("$")
    path = re.sub(r"\(\?P<name>[^)]*\)", "cam", path)
    path = re.sub(r"\(\?P<\w+>[^)]*\)", "abc123", path)
    path = path.replace("(.*)", "js/main.js").replace("\\", "")
    assert re.fullmatch(pattern, path), (pattern, path)
    return path


def all_route_paths(server: ServerThread) -> list[str]:
    assert server.service is not None and server.service.server is not None
    app = server.service.server.request_callback
    assert isinstance(app, tornado.web.Application)
    return [sample_path(rule.matcher.regex.pattern) for rule in app.wildcard_router.rules]


def assert_json_error(response: Response, status: int) -> str:
    assert response.status == status, (response.status, response.body)
    assert response.header(
        "Content-Type",
    ).startswith("application/json")
    message = response.json()["error"]
    assert isinstance(message, str) and message
    return message


# -- every route is behind the login ----------------------------------------------------------


def test_every_route_but_health_and_login_needs_credentials(server):
    paths = all_route_paths(server)
    assert "/api/cameras" in paths and "/webcam" in paths and "/static/js/main.js" in paths
    for path in [*paths, "/no/such/page", "/static/../camwatch/cli.py"]:
        response = request(server.port, "GET", path)
        if path in PUBLIC_PATHS:
            assert response.status != 401, path
            continue
        assert_json_error(response, 401)
        assert response.header("WWW-Authenticate") == 'Basic realm="camwatch", charset="UTF-8"'
        assert b"cam" not in response.body.replace(b"camwatch", b"")  # nothing leaks


def test_credentials_open_every_route(server):
    for path in all_route_paths(server):
        if path in ("/webcam", "/cameras/cam/ws", "/stream.mjpg", "/cameras/cam/stream.mjpg"):
            continue  # live: checked below
        assert request(server.port, "GET", path, headers=GOOD).status not in (401, 403), path


def test_health_needs_nothing(server):
    response = request(server.port, "GET", "/healthz")
    assert (response.status, response.body) == (200, b"ok")


def test_wrong_basic_password_is_refused(server):
    for header in (
        basic_header("admin", "wrong"),
        basic_header("root", PASSWORD),
        "Basic !!notbase64",
        "Bearer token",
    ):
        response = request(server.port, "GET", "/api/cameras", headers={"Authorization": header})
        assert_json_error(response, 401)


def test_basic_works_for_players(server):
    snapshot = request(server.port, "GET", "/snapshot.jpg", headers=GOOD)
    assert snapshot.status == 200 and snapshot.body[:2] == b"\xff\xd8"
    frames = websocket_frames(f"ws://127.0.0.1:{server.port}/webcam", GOOD, count=2)
    assert all(frame[:2] == b"\xff\xd8" for frame in frames)


def test_ffmpeg_reads_the_mjpeg_stream_with_credentials_in_the_url(server, tmp_path):
    out = tmp_path / "frame.jpg"
    url = f"http://admin:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{server.port}/stream.mjpg"
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "mjpeg", "-i", url, "-frames:v", "1", str(out)],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:2] == b"\xff\xd8"


# -- browsers: login page, session cookie, logout ------------------------------------------------


def test_browser_is_sent_to_the_login_page(server):
    response = request(server.port, "GET", "/", headers=NAVIGATE)
    assert response.status == 303 and response.header("Location") == "login"
    deep = request(server.port, "GET", "/cameras/cam/stream.mjpg", headers=NAVIGATE)
    assert deep.header("Location") == "../../login?next=cameras%2Fcam%2Fstream.mjpg"
    page = request(server.port, "GET", "/login", headers=NAVIGATE)
    assert page.status == 200 and b'src="static/login.js"' in page.body
    assert b"<script>" not in page.body  # no inline script: the CSP forbids it


def test_scripts_in_the_page_get_401_without_a_password_prompt(server):
    response = request(
        server.port,
        "GET",
        "/api/cameras",
        headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"},
    )
    assert_json_error(response, 401)
    assert response.header("WWW-Authenticate") is None


def test_login_sets_a_private_session_cookie_that_opens_everything(server):
    response = login(server)
    assert response.status == 200 and response.json() == {"user": "admin"}
    [cookie] = response.cookies
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in cookie and "secure" not in attributes  # plain HTTP here
    headers = {"Cookie": session_cookie(response)}
    assert request(server.port, "GET", "/api/cameras", headers=headers).status == 200
    assert request(server.port, "GET", "/", headers={**headers, **NAVIGATE}).status == 200
    assert request(server.port, "GET", "/static/js/main.js", headers=headers).status == 200
    origin = {**headers, "Origin": f"http://127.0.0.1:{server.port}"}
    frames = websocket_frames(f"ws://127.0.0.1:{server.port}/cameras/cam/ws", origin)
    assert frames[0][:2] == b"\xff\xd8"


def test_logout_revokes_the_session(server):
    cookie = session_cookie(login(server))
    response = request(server.port, "POST", "/logout", headers={"Cookie": cookie})
    assert response.status == 204
    assert any(
        c.startswith("camwatch_session=;") or 'camwatch_session=""' in c for c in response.cookies
    )
    assert request(server.port, "GET", "/api/cameras", headers={"Cookie": cookie}).status == 401


def test_forged_cookie_is_refused(server):
    cookie = session_cookie(login(server))
    forged = cookie[:-4] + ("0000" if not cookie.endswith("0000") else "1111")
    assert request(server.port, "GET", "/api/cameras", headers={"Cookie": forged}).status == 401


def test_login_refusals_are_json(server):
    assert_json_error(login(server, "nope"), 401)
    form = request(
        server.port,
        "POST",
        "/login",
        body="username=admin&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "JSON" in assert_json_error(form, 400)
    for body in ("[]", "{", '{"password": 5}', '{"username": null, "password": "x"}'):
        response = request(
            server.port, "POST", "/login", body=body, headers={"Content-Type": "application/json"}
        )
        assert_json_error(response, 400)


def test_repeated_failures_lock_the_address_out(tmp_path):
    config = demo_config(str(tmp_path))
    config.server.password = PASSWORD
    with ServerThread(config) as server:
        for _ in range(6):
            assert login(server, "guess").status == 401
        locked = login(server)  # even the right password waits
        assert "try again" in assert_json_error(locked, 429)
        assert int(locked.header("Retry-After")) >= 1
        basic = request(server.port, "GET", "/api/cameras", headers=GOOD)
        assert basic.status == 429
        time.sleep(float(locked.header("Retry-After")) + 0.2)
        assert login(server).status == 200
        assert login(server, "guess").status == 401  # the count restarted after the success


# -- CSRF and cross-site websockets ---------------------------------------------------------------


def test_cross_site_state_changes_are_refused(server):
    cookie = {"Cookie": session_cookie(login(server))}
    evil = [
        {"Origin": "http://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost"},
        {"Origin": "null"},
    ]
    for headers in evil:
        for method, path in (
            ("POST", "/logout"),
            ("PATCH", "/api/cameras/cam"),
            ("DELETE", "/api/cameras/cam"),
        ):
            response = request(
                server.port,
                method,
                path,
                headers={**cookie, **headers},
                body=b"{}" if method == "PATCH" else None,
            )
            assert "cross-site" in assert_json_error(response, 403), (method, headers)
        assert_json_error(login(server, **headers), 403)
    same = {**cookie, "Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"}
    assert (
        request(server.port, "PATCH", "/api/cameras/cam", headers=same, body=b"{}").status == 200
    )  # allowed through; an empty change of the camera's switches changes nothing


def test_cross_site_websocket_is_refused(server):
    cookie = session_cookie(login(server))
    url = f"ws://127.0.0.1:{server.port}/webcam"
    for origin in ("http://evil.example", f"http://127.0.0.1:{server.port + 1}", "null"):
        assert websocket_refusal(url, {"Cookie": cookie, "Origin": origin}) == 403
    assert websocket_refusal(url, {"Origin": f"http://127.0.0.1:{server.port}"}) == 401
    assert websocket_refusal(url, {"Authorization": basic_header("admin", "x")}) == 401


def test_websocket_url_without_upgrade_answers_json(server):
    assert "websocket" in assert_json_error(
        request(server.port, "GET", "/webcam", headers=GOOD), 400
    )


# -- input limits and response headers ------------------------------------------------------------


def test_bodies_over_the_limit_get_413(server):
    big = json.dumps({"password": "x" * 70_000})
    response = request(
        server.port, "POST", "/login", body=big, headers={"Content-Type": "application/json"}
    )
    assert "larger than" in assert_json_error(response, 413)
    patch = request(
        server.port, "PATCH", "/api/cameras/cam", body=b"{" + b" " * 70_000 + b"}", headers=GOOD
    )
    assert_json_error(patch, 413)


def test_body_over_the_server_limit_is_refused_unread(server):
    # The 413 comes back although the client has sent only the headers of a 2 GB upload.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(
            b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2000000000\r\n\r\n" + b"x" * 1000
        )
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"Content-Security-Policy: " in head and b"X-Content-Type-Options: nosniff" in head
    assert json.loads(body)["error"] == "request body is larger than 1048576 bytes"
    assert request(server.port, "GET", "/healthz").status == 200


def test_deeply_nested_json_is_a_400(server):
    response = request(
        server.port,
        "POST",
        "/login",
        body=b"[" * 4000,
        headers={"Content-Type": "application/json"},
    )
    assert_json_error(response, 400)


def test_security_headers_on_every_kind_of_response(server):
    cookie = {"Cookie": session_cookie(login(server))}
    responses = [
        request(server.port, "GET", "/healthz"),
        request(server.port, "GET", "/api/cameras"),
        request(server.port, "GET", "/", headers=NAVIGATE),
        request(server.port, "GET", "/", headers=cookie),
        request(server.port, "GET", "/static/js/main.js", headers=cookie),
        request(server.port, "GET", "/static/login.js"),
        request(server.port, "GET", "/static/nope.js", headers=cookie),
        request(server.port, "GET", "/nope", headers=cookie),
        request(server.port, "DELETE", "/api/cameras", headers=cookie),
        request(server.port, "GET", "/snapshot.jpg", headers=cookie),
        request(server.port, "POST", "/login", body="x" * 5000),
    ]
    assert {r.status for r in responses} >= {200, 303, 401, 404, 405, 413}
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.header(name) == value, (response.status, name)
        assert "frame-ancestors 'none'" in response.header("Content-Security-Policy")
        assert response.header("Access-Control-Allow-Origin") is None


def test_static_files_cannot_leave_the_web_dir(server):
    cookie = {"Cookie": session_cookie(login(server))}
    for path in (
        "/static/../cli.py",
        "/static/%2e%2e/cli.py",
        "/static/..%2fcli.py",
        "/static/%2e%2e%2fserver/auth.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
        "/static/",
        "/static/.",
        "/static/web",
    ):
        response = request(server.port, "GET", path, headers=cookie)
        assert response.status in (404, 405), (path, response.status)
        assert b"import" not in response.body and b"root:" not in response.body


# -- exposure warning ---------------------------------------------------------------------------


def test_status_reports_login_state(server):
    status = request(server.port, "GET", "/api/status", headers=GOOD).json()
    assert status == {"auth": True, "user": "admin", "tls": False, "insecure": False}


def test_exposed_server_without_password_is_flagged(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        warn_if_exposed(ServerConfig(host="0.0.0.0"))
        warn_if_exposed(ServerConfig(host="127.0.0.1"))
        warn_if_exposed(ServerConfig(host="::", password="x"))
    warnings = [r.getMessage() for r in caplog.records if "without a password" in r.getMessage()]
    assert len(warnings) == 1 and "0.0.0.0" in warnings[0]
    with ServerThread(demo_config(str(tmp_path))) as server:
        assert server.get_json("/api/status")["insecure"] is False  # loopback only
        server.config.server.host = "0.0.0.0"  # what a LAN-facing server would report
        assert server.get_json("/api/status") == {
            "auth": False,
            "user": None,
            "tls": False,
            "insecure": True,
        }


def test_index_loads_the_security_module(tmp_path):
    with ServerThread(demo_config(str(tmp_path))) as server:
        _, _, page = server.get("/")
        assert b'src="static/security.js"' in page
        status, _, script = server.get("/static/security.js")
        assert status == 200 and b"insecure" in script


# -- TLS ------------------------------------------------------------------------------------------


def test_tls_serves_https_with_secure_cookies(tmp_path):
    cert, key = self_signed(tmp_path)
    config = demo_config(str(tmp_path / "data"))
    config.server.password = PASSWORD
    config.server.certfile, config.server.keyfile = str(cert), str(key)
    client = ssl.create_default_context(cafile=str(cert))
    with ServerThread(config) as server:
        response = request(
            server.port,
            "POST",
            "/login",
            tls=client,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"username": "admin", "password": PASSWORD}),
        )
        assert response.status == 200
        assert "; Secure" in response.cookies[0] or "; secure" in response.cookies[0]
        cookie = {"Cookie": session_cookie(response)}
        status = request(server.port, "GET", "/api/status", headers=cookie, tls=client).json()
        assert status["tls"] is True
        frames = websocket_frames(f"wss://127.0.0.1:{server.port}/webcam", cookie, tls=client)
        assert frames[0][:2] == b"\xff\xd8"
        with pytest.raises((ConnectionError, OSError, Exception)):
            request(server.port, "GET", "/healthz", timeout=3)  # plain HTTP is not spoken


def test_bad_certificate_is_a_config_error_naming_the_key(tmp_path):
    (tmp_path / "bad.pem").write_text("not a certificate")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "camwatch",
            "--source",
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path),
            "--config",
            str(write_config(tmp_path, f'[server]\ncertfile = "{tmp_path / "bad.pem"}"\n')),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "server.certfile" in result.stderr and "Traceback" not in result.stderr


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "camwatch.toml"
    path.write_text(text)
    return path


def test_password_never_reaches_the_log_or_errors(tmp_path, caplog):
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "camwatch",
            "--config",
            str(write_config(tmp_path, "[server]\npassword = 12345\n")),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "server.password" in bad.stderr and "12345" not in bad.stderr
    secret = "Sup3r-s3cret-pa55"
    config = demo_config(str(tmp_path / "data"))
    config.server.password = secret
    assert secret not in repr(config)
    with caplog.at_level(logging.DEBUG), ServerThread(config) as server:
        for password in (secret + "x", secret):
            login(server, password)
            request(
                server.port,
                "GET",
                "/api/cameras",
                headers={"Authorization": basic_header("admin", password)},
            )
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "failed login" in text and secret not in text
    assert basic_header("admin", secret).split()[1] not in text
