"""Authentication: salted password hash, signed session cookies, HTTP Basic, failure throttling."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from camwatch.config import ServerConfig

log = logging.getLogger(__name__)

SESSION_COOKIE = "camwatch_session"
SESSION_SECONDS = 30 * 24 * 3600
SECRET_FILE = "session.key"
REVOKED_FILE = "revoked-sessions"
REALM = "camwatch"
MAX_CREDENTIAL_LENGTH = 1024

Clock = Callable[[], float]


class PasswordHash:
    """scrypt of the password with a random salt; the only form the password is kept in."""

    # n=2**14, r=8: about 16 MiB and a few tens of ms per check (OWASP's scrypt minimum).
    N, R, P = 2**14, 8, 1

    def __init__(self, password: str) -> None:
        self.salt = secrets.token_bytes(16)
        self.digest = self._derive(password)

    def _derive(self, password: str) -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8"),
            salt=self.salt,
            n=self.N,
            r=self.R,
            p=self.P,
            maxmem=64 * 1024 * 1024,
            dklen=32,
        )

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(self._derive(password), self.digest)


def load_secret(data_dir: Path) -> bytes:
    """The per-install signing key in data_dir/session.key (0600), made on first use.

    If the data dir cannot be written, a key for this run only is used (sessions then end with
    the process)."""
    path = data_dir / SECRET_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return _read_secret(path)
        key = secrets.token_bytes(32)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
    except OSError as e:
        log.warning(
            "cannot keep the session key in %s (%s); logins last until restart",
            path,
            e.strerror or e,
        )
        return secrets.token_bytes(32)


def _read_secret(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        log.warning("%s was readable by others; making it private (0600)", path)
        path.chmod(0o600)
    key = path.read_bytes()
    if len(key) < 32:
        raise OSError(f"{path} is too short to be a session key")
    return key


class FailureThrottle:
    """Per client address: after `free` failures in a row, each further one locks the address out
    for twice as long as the last (1 s, 2 s, 4 s ... up to `max_lock`). Bounded memory: the
    least recently failing addresses are forgotten first; a success or `forget_after` quiet
    seconds clear an address."""

    def __init__(
        self,
        *,
        free: int = 5,
        max_lock: float = 300.0,
        forget_after: float = 900.0,
        max_addresses: int = 4096,
        clock: Clock = time.monotonic,
    ) -> None:
        self.free, self.max_lock, self.forget_after = free, max_lock, forget_after
        self.max_addresses = max_addresses
        self._clock = clock
        # address -> (failures in a row, locked until, last failure)
        self._entries: OrderedDict[str, tuple[int, float, float]] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """Seconds this address must still wait before its credentials are checked (0: none)."""
        entry = self._entries.get(address)
        if entry is None:
            return 0.0
        now = self._clock()
        if now - entry[2] > self.forget_after:
            del self._entries[address]
            return 0.0
        return max(0.0, entry[1] - now)

    def failed(self, address: str) -> None:
        now = self._clock()
        failures, _, last = self._entries.pop(address, (0, 0.0, now))
        if now - last > self.forget_after:
            failures = 0
        failures += 1
        lock = 0.0
        if failures > self.free:
            lock = min(self.max_lock, 2.0 ** (failures - self.free - 1))
        self._entries[address] = (failures, now + lock, now)
        while len(self._entries) > self.max_addresses:
            self._entries.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._entries.pop(address, None)

    def __len__(self) -> int:
        return len(self._entries)


class Throttled(Exception):
    """The guess was not checked: the address is locked out, or every check slot is taken."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = max(1, int(seconds + 0.999))
        self.reason = reason


class CheckSlots:
    """Password checks run on `running` threads of their own, with at most `waiting` queued;
    a check beyond that is refused instead of queued, so a burst of guesses costs at most
    `running` cores and a bounded wait, and never starves the default executor."""

    def __init__(self, running: int = 2, waiting: int = 6) -> None:
        self.running, self.limit = running, running + waiting
        self.pending = 0
        self._executor: ThreadPoolExecutor | None = None

    def full(self) -> bool:
        return self.pending >= self.limit

    async def run(self, check: Callable[[], bool]) -> bool:
        """Run `check` in a slot (call `full()` first: this is only ever called on the loop)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.running, thread_name_prefix="password-check")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, check)
        finally:
            self.pending -= 1


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def parse_basic(header: str) -> Credentials | None:
    """`Authorization: Basic base64(user:password)` -> Credentials; None if malformed."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value or len(value) > 2 * MAX_CREDENTIAL_LENGTH:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    if not colon:
        return None
    return Credentials(username, password)


class Authenticator:
    """Checks credentials and session cookies for the server; disabled when no password is set.

    Checking a password costs an scrypt run, so a successful HTTP Basic header is remembered
    (as an HMAC under a key of this process, never in clear) for a few minutes: players and
    Home Assistant send it with every request."""

    BASIC_CACHE_SECONDS = 300.0
    BASIC_CACHE_SIZE = 64
    REVOKED_MAX = 4096

    def __init__(
        self,
        username: str,
        password: str,
        data_dir: Path,
        *,
        clock: Clock = time.time,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self.enabled = bool(password)
        self.username = username
        self._hash = PasswordHash(password) if password else None
        self._clock = clock
        self.throttle = throttle or FailureThrottle()
        self._secret = load_secret(data_dir) if self.enabled else b""
        self._session_key = self._derive_session_key(username, password)
        self._cache_key = secrets.token_bytes(32)
        self._basic_ok: OrderedDict[bytes, float] = OrderedDict()
        self._basic_checking: dict[bytes, asyncio.Future[bool]] = {}
        self.slots = CheckSlots()
        self.revoked = RevokedSessions(data_dir / REVOKED_FILE, self.REVOKED_MAX)
        if self.enabled:
            self.revoked.load(self._clock())

    def _derive_session_key(self, username: str, password: str) -> bytes:
        """Bound to the user and password, salted with the install's secret: sessions survive a
        restart, and changing the password logs everyone out."""
        if not self.enabled:
            return b""
        salt = hmac.digest(self._secret, b"session-binding", "sha256")
        binding = hashlib.scrypt(
            f"{username}\0{password}".encode(),
            salt=salt,
            n=PasswordHash.N,
            r=PasswordHash.R,
            p=PasswordHash.P,
            maxmem=64 * 1024 * 1024,
            dklen=32,
        )
        return hmac.digest(self._secret, b"session|" + binding, "sha256")

    @classmethod
    def from_config(cls, server: ServerConfig) -> Authenticator:
        return cls(server.username, server.password, Path(server.data_dir))

    # -- passwords ---------------------------------------------------------------------------

    def check_credentials(self, credentials: Credentials) -> bool:
        """Constant-time check of user name and password (always runs the password hash)."""
        if self._hash is None:
            return True
        if len(credentials.password) > MAX_CREDENTIAL_LENGTH:
            return False
        name_ok = hmac.compare_digest(
            credentials.username.encode("utf-8"), self.username.encode("utf-8")
        )
        password_ok = self._hash.matches(credentials.password)
        return name_ok and password_ok

    async def verify(self, address: str, credentials: Credentials | None) -> bool:
        """Check a guess from `address`, or raise Throttled without checking it.

        The guess counts as a failure from the moment it starts (a success clears the count),
        so guesses sent at once meet the lockout as surely as guesses sent one by one."""
        wait = self.throttle.retry_after(address)
        if wait > 0:
            raise Throttled(wait, f"too many failed logins; try again in {int(wait + 0.999)} s")
        if self.slots.full():
            raise Throttled(1, "too many logins being checked; try again in 1 s")
        self.throttle.failed(address)
        if credentials is None:
            return False
        accepted = await self.slots.run(lambda: self.check_credentials(credentials))
        if accepted:
            self.throttle.succeeded(address)
        return accepted

    async def verify_basic(
        self, address: str, header: str, credentials: Credentials | None
    ) -> bool:
        """verify() for an Authorization header; the same header sent again while it is being
        checked (a player opening several streams) waits for that check, not a new one."""
        token = self._basic_token(header)
        checking = self._basic_checking.get(token)
        if checking is not None:
            return await asyncio.shield(checking)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._basic_checking[token] = future
        try:
            accepted = await self.verify(address, credentials)
        except Throttled as e:
            future.set_exception(e)
            future.exception()  # marked retrieved: only waiters, if any, need it
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._basic_checking[token]
        future.set_result(accepted)
        if accepted:
            self.remember_basic(header)
        return accepted

    def _basic_token(self, header: str) -> bytes:
        return hmac.digest(self._cache_key, header.encode("utf-8", "replace"), "sha256")

    def basic_cached(self, header: str) -> bool:
        """True if this exact Authorization header was accepted within the last few minutes."""
        token = self._basic_token(header)
        expires = self._basic_ok.get(token)
        if expires is None:
            return False
        if expires < self._clock():
            del self._basic_ok[token]
            return False
        return True

    def remember_basic(self, header: str) -> None:
        token = self._basic_token(header)
        self._basic_ok[token] = self._clock() + self.BASIC_CACHE_SECONDS
        self._basic_ok.move_to_end(token)
        while len(self._basic_ok) > self.BASIC_CACHE_SIZE:
            self._basic_ok.popitem(last=False)

    # -- sessions ----------------------------------------------------------------------------

    def _signature(self, payload: str) -> str:
        return hmac.new(self._session_key, payload.encode("ascii"), "sha256").hexdigest()

    def issue_session(self) -> str:
        """A cookie value `expires.nonce.signature`."""
        payload = f"{int(self._clock()) + SESSION_SECONDS}.{secrets.token_urlsafe(16)}"
        return f"{payload}.{self._signature(payload)}"

    def session_valid(self, token: str | None) -> bool:
        if not self.enabled:
            return True
        if not token or len(token) > 256:
            return False
        payload, _, signature = token.rpartition(".")
        expires_text, _, nonce = payload.partition(".")
        try:
            if not hmac.compare_digest(self._signature(payload), signature):
                return False
        except (TypeError, UnicodeEncodeError):
            return False
        if not expires_text.isdigit() or int(expires_text) < self._clock():
            return False
        return not self.revoked.refuses(nonce, int(expires_text))

    def revoke_session(self, token: str | None) -> None:
        """Logout: this cookie stops working even if someone kept a copy."""
        if not token or not self.session_valid(token):
            return
        expires, nonce, _ = token.split(".")
        self.revoked.add(nonce, int(expires), self._clock())


NONCE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CUTOFF_MARK = "*"  # the file's line for RevokedSessions.cutoff (never a nonce)


class RevokedSessions:
    """Logged-out sessions (nonce -> when its cookie expires), each kept until its cookie would
    have expired anyway, at most `limit` of them, in data_dir/revoked-sessions.

    Past the limit, the revocations of the sessions that expire first (the oldest) give way to
    a cutoff: every session expiring at or before it is refused, the revoked ones and the
    others issued no later. Users are logged out early; a revoked cookie never comes back.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit
        self._expires: dict[str, int] = {}
        self.cutoff = 0  # sessions expiring at or before this are refused (0: none)

    def __len__(self) -> int:
        return len(self._expires)

    def refuses(self, nonce: str, expires: int) -> bool:
        return expires <= self.cutoff or nonce in self._expires

    def add(self, nonce: str, expires: int, now: float) -> None:
        """A logout: kept, the expired forgotten, the limit kept, the file rewritten."""
        self._expires[nonce] = expires
        self._trim(now)
        self._save(now)

    def _trim(self, now: float) -> None:
        for old in [n for n, expires in self._expires.items() if expires < now]:
            del self._expires[old]
        if len(self._expires) <= self.limit:
            return
        excess = len(self._expires) - self.limit
        by_expiry = sorted(self._expires.values())
        if self.cutoff < now:
            log.warning(
                "more than %d logouts within a session's lifetime: the sessions issued "
                "before the oldest of them are logged out",
                self.limit,
            )
        self.cutoff = max(self.cutoff, by_expiry[excess - 1])
        # what the cutoff refuses needs no entry of its own
        for covered in [n for n, expires in self._expires.items() if expires <= self.cutoff]:
            del self._expires[covered]

    def load(self, now: float) -> None:
        """The file's logouts and cutoff still in force; nothing if it is missing or unreadable
        (damaged lines are skipped)."""
        try:
            lines = self.path.read_text("ascii").splitlines()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as e:
            log.warning("cannot read %s (%s); earlier logouts are forgotten", self.path, e)
            return
        for line in lines:
            nonce, _, expires = line.partition(" ")
            if not expires.isdigit() or int(expires) < now:
                continue
            if nonce == CUTOFF_MARK:
                self.cutoff = max(self.cutoff, int(expires))
            elif NONCE.match(nonce):
                self._expires[nonce] = int(expires)
        self._trim(now)

    def _save(self, now: float) -> None:
        lines = [f"{nonce} {expires}\n" for nonce, expires in self._expires.items()]
        if self.cutoff >= now:
            lines.append(f"{CUTOFF_MARK} {self.cutoff}\n")
        save_revoked(self.path, "".join(lines))


def save_revoked(path: Path, text: str) -> None:
    """Replace the file atomically (0600), so a crash leaves the old list or the new one."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as e:
        log.warning("cannot save the logout in %s (%s); it lasts until restart", path, e)
