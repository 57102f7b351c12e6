"""Camera addresses as people see them: passwords in URLs and query strings become ***."""

from __future__ import annotations

import logging
import re

HIDDEN = "***"
# scheme://user:password@host: greedy up to the last @ before the path, so a password with an
# unescaped @ is hidden whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#]*)@")
_SECRET_PARAMETER = re.compile(
    r"(?P<key>(?<![A-Za-z0-9_])(?:password|passwd|pass|pwd|secret|token|access_token|auth"
    r"|apikey|api_key|key|sig|signature|credentials?)=)(?P<value>[^&\s#;,'\"]*)",
    re.IGNORECASE,
)


def _hide_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match["userinfo"].partition(":")
    shown = f"{user}:{HIDDEN}" if colon else HIDDEN
    return f"{match['scheme']}{shown}@"


def redact(text: str) -> str:
    """`text` with every URL password and password-like query parameter replaced by ***.

    The one function for anything that shows a source: logs, the API, the offline picture."""
    text = _USERINFO.sub(_hide_userinfo, text)
    return _SECRET_PARAMETER.sub(lambda m: m["key"] + HIDDEN, text)


class RedactingFormatter(logging.Formatter):
    """Every log line, tracebacks and library messages included, through `redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
