"""Unit tests of the authentication primitives: hashing, sessions, Basic parsing, throttling."""

from __future__ import annotations

import base64
import stat

from camwatch.server.auth import (
    REVOKED_FILE,
    SECRET_FILE,
    SESSION_SECONDS,
    Authenticator,
    Credentials,
    FailureThrottle,
    PasswordHash,
    RevokedSessions,
    load_secret,
    parse_basic,
)


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_password_hash_keeps_no_plaintext_and_is_salted():
    first, second = PasswordHash("hunter2"), PasswordHash("hunter2")
    assert first.matches("hunter2") and not first.matches("hunter3")
    assert first.salt != second.salt and first.digest != second.digest
    assert b"hunter2" not in first.digest + first.salt
    assert "hunter2" not in repr(vars(first))


def test_credentials_need_both_name_and_password(tmp_path):
    auth = Authenticator("admin", "pw", tmp_path)
    assert auth.check_credentials(Credentials("admin", "pw"))
    assert not auth.check_credentials(Credentials("admin", "PW"))
    assert not auth.check_credentials(Credentials("root", "pw"))
    assert not auth.check_credentials(Credentials("admin", "pw" * 1000))


def test_no_password_means_disabled_and_no_key_file(tmp_path):
    auth = Authenticator("admin", "", tmp_path / "data")
    assert not auth.enabled
    assert auth.session_valid(None)
    assert not (tmp_path / "data").exists()


def test_secret_file_is_private_and_reused(tmp_path):
    key = load_secret(tmp_path / "data")
    path = tmp_path / "data" / SECRET_FILE
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(tmp_path / "data") == key


def test_secret_file_readable_by_others_is_made_private(tmp_path):
    load_secret(tmp_path)
    path = tmp_path / SECRET_FILE
    path.chmod(0o644)
    load_secret(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_unwritable_data_dir_falls_back_to_a_key_for_this_run(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert len(load_secret(blocker / "data")) == 32


def test_session_survives_restart_but_not_a_password_change(tmp_path):
    clock = FakeClock()
    token = Authenticator("admin", "pw", tmp_path, clock=clock).issue_session()
    assert Authenticator("admin", "pw", tmp_path, clock=clock).session_valid(token)
    assert not Authenticator("admin", "other", tmp_path, clock=clock).session_valid(token)


def test_session_expires(tmp_path):
    clock = FakeClock()
    auth = Authenticator("admin", "pw", tmp_path, clock=clock)
    token = auth.issue_session()
    clock.now += SESSION_SECONDS - 10
    assert auth.session_valid(token)
    clock.now += 20
    assert not auth.session_valid(token)


def test_tampered_or_foreign_sessions_are_refused(tmp_path):
    auth = Authenticator("admin", "pw", tmp_path / "a")
    other = Authenticator("admin", "pw", tmp_path / "b")
    token = auth.issue_session()
    expires, nonce, signature = token.split(".")
    assert not auth.session_valid(f"{int(expires) + 10**6}.{nonce}.{signature}")
    flipped = "1" if signature.endswith("0") else "0"  # a different last digit, always
    assert not auth.session_valid(f"{expires}.{nonce}.{signature[:-1]}{flipped}")
    assert not auth.session_valid(other.issue_session())
    for junk in ("", ".", "..", "a.b.c", "é.é.é", "x" * 1000, f"{expires}.{nonce}"):
        assert not auth.session_valid(junk)


def test_revoked_session_stops_working(tmp_path):
    auth = Authenticator("admin", "pw", tmp_path)
    token, kept = auth.issue_session(), auth.issue_session()
    auth.revoke_session(token)
    assert not auth.session_valid(token)
    assert auth.session_valid(kept)


def test_revocations_are_kept_on_disk_until_the_cookie_would_expire(tmp_path):
    clock = FakeClock()
    auth = Authenticator("admin", "pw", tmp_path, clock=clock)
    old = auth.issue_session()
    clock.now += SESSION_SECONDS / 2
    new = auth.issue_session()
    auth.revoke_session(old)
    auth.revoke_session(new)
    assert stat.S_IMODE((tmp_path / REVOKED_FILE).stat().st_mode) == 0o600
    restarted = Authenticator("admin", "pw", tmp_path, clock=clock)
    assert not restarted.session_valid(old) and not restarted.session_valid(new)
    clock.now += SESSION_SECONDS / 2 + 10  # the old cookie has expired: its entry can go
    later = RevokedSessions(tmp_path / REVOKED_FILE, Authenticator.REVOKED_MAX)
    later.load(clock.now)
    assert len(later) == 1
    (tmp_path / REVOKED_FILE).write_text("junk\n../x 99999999999\n")  # damaged: ignored
    assert Authenticator("admin", "pw", tmp_path, clock=clock).session_valid(auth.issue_session())


def test_past_the_revocation_limit_old_sessions_are_logged_out_not_let_back_in(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(Authenticator, "REVOKED_MAX", 3)  # 4096 in use
    clock = FakeClock()
    auth = Authenticator("admin", "pw", tmp_path, clock=clock)
    sessions = {}
    for name in ("before", "stolen", "kept", "b", "c", "d", "newest"):
        sessions[name] = auth.issue_session()
        clock.now += 3600  # issued an hour apart
    for name in ("stolen", "b", "c", "d"):  # four logouts: one more than the limit
        auth.revoke_session(sessions[name])
    restarted = Authenticator("admin", "pw", tmp_path, clock=clock)
    for checked in (auth, restarted):
        # the oldest revocation is given up for a cutoff: its cookie stays refused, and so
        # is the one issued before it; those issued after it are still good
        assert [name for name, token in sessions.items() if checked.session_valid(token)] == [
            "kept",
            "newest",
        ]
    assert len(auth.revoked) == 3 and len(restarted.revoked) == 3  # memory stays bounded
    clock.now += SESSION_SECONDS  # every one of them expired: the file forgets them all
    auth.revoke_session(auth.issue_session())
    assert (tmp_path / REVOKED_FILE).read_text().count(
        "\n"
    ) == 1 and auth.revoked.cutoff < clock.now


def test_parse_basic():
    assert parse_basic(basic("admin", "p:w é")) == Credentials("admin", "p:w é")
    assert parse_basic("basic " + base64.b64encode(b"u:").decode()) == Credentials("u", "")
    for bad in (
        "Bearer abc",
        "Basic",
        "Basic !!!",
        "Basic " + base64.b64encode(b"nocolon").decode(),
        "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
        "Basic " + "A" * 5000,
    ):
        assert parse_basic(bad) is None


def test_basic_cache_remembers_accepted_headers_for_a_while(tmp_path):
    clock = FakeClock()
    auth = Authenticator("admin", "pw", tmp_path, clock=clock)
    header = basic("admin", "pw")
    assert not auth.basic_cached(header)
    auth.remember_basic(header)
    assert auth.basic_cached(header)
    assert not auth.basic_cached(basic("admin", "pw2"))
    clock.now += auth.BASIC_CACHE_SECONDS + 1
    assert not auth.basic_cached(header)
    for i in range(auth.BASIC_CACHE_SIZE * 2):
        auth.remember_basic(basic("admin", str(i)))
    assert len(auth._basic_ok) == auth.BASIC_CACHE_SIZE


def test_throttle_locks_out_with_doubling_delays():
    clock = FakeClock()
    throttle = FailureThrottle(free=3, max_lock=10, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("a") == 0
        throttle.failed("a")
    assert throttle.retry_after("a") == 0
    throttle.failed("a")
    assert throttle.retry_after("a") == 1
    delays = []
    for _ in range(6):
        clock.now += throttle.retry_after("a")
        throttle.failed("a")
        delays.append(throttle.retry_after("a"))
    assert delays == [2, 4, 8, 10, 10, 10]
    assert throttle.retry_after("b") == 0  # per address
    throttle.succeeded("a")
    assert throttle.retry_after("a") == 0


def test_throttle_forgets_quiet_addresses_and_bounds_memory():
    clock = FakeClock()
    throttle = FailureThrottle(free=0, forget_after=60, max_addresses=100, clock=clock)
    throttle.failed("a")
    assert throttle.retry_after("a") == 1
    clock.now += 61
    assert throttle.retry_after("a") == 0
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) == 100
