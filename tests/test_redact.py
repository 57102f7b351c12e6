"""redact(): passwords in camera addresses never shown; the offline picture's text uses it."""

from __future__ import annotations

import logging
import sys

import pytest

from camwatch.capture.redact import RedactingFormatter, redact
from camwatch.capture.sources import FrameSource, HttpSource, SourceError
from camwatch.capture.thread import CaptureThread
from camwatch.frame import Frame, Picture
from tests.helpers.support import wait_until


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("http://camuser:secret@host/video", "http://camuser:***@host/video"),
        ("rtsp://admin:p@ss@10.0.0.2:554/s1", "rtsp://admin:***@10.0.0.2:554/s1"),
        (
            "cannot open https://token@cam.local/x: refused",
            "cannot open https://***@cam.local/x: refused",
        ),
        ("http://h/cgi?user=a&password=secret&x=1", "http://h/cgi?user=a&password=***&x=1"),
        ("http://h/snap?PWD=secret;", "http://h/snap?PWD=***;"),
        ("http://h/api?token=secret#frag", "http://h/api?token=***#frag"),
        ("/dev/video0", "/dev/video0"),
        ("demo", "demo"),
        ("http://host/video?keyframe=1", "http://host/video?keyframe=1"),
    ],
)
def test_redact_hides_passwords_only(text, shown):
    assert redact(text) == shown


def test_log_lines_are_redacted_tracebacks_too():
    formatter = RedactingFormatter("%(message)s")
    try:
        raise OSError("cannot open http://u:secret@h/")
    except OSError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "source %s", ("rtsp://u:pw@h/",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "secret" not in line and ":pw@" not in line and "u:***@h" in line


class Unreachable(FrameSource):
    def __init__(self, url: str) -> None:
        self.url = url

    def open(self) -> None:
        raise SourceError(f"cannot open {self.url}: connection refused")

    def read(self) -> Picture:
        raise AssertionError("never opened")


def test_the_offline_picture_does_not_show_the_password():
    frames: list[Frame] = []
    thread = CaptureThread(
        "cam", lambda: Unreachable("http://camuser:secret@127.0.0.1:9/video"), frames.append
    )
    thread.start()
    try:
        wait_until(lambda: frames, message="a placeholder frame")
    finally:
        thread.stop()
    lines = thread.placeholder_lines()
    assert "cannot open http://camuser:***@127.0.0.1:9/video" in lines[1]
    assert "secret" not in " ".join(lines) and "secret" not in thread.state.message
    assert not frames[0].online


def test_http_source_describes_itself_without_the_password():
    source = HttpSource("http://camuser:secret@127.0.0.1:9/video", timeout=1)
    assert source.description == "http://camuser:***@127.0.0.1:9/video"
    with pytest.raises(SourceError) as raised:
        source.open()
    assert "secret" not in str(raised.value)
