"""Runs camwatch (`python3 bench/thread_names.py ARGS` = `python3 -m camwatch ARGS`) with each
Python thread's name given to its OS thread, so /proc/PID/task/*/comm (and `top -H`) tell the
capture, clip-writer and event-loop threads apart for the benchmark's per-thread CPU."""

from __future__ import annotations

import ctypes
import runpy
import sys
import threading
from typing import Any

PR_SET_NAME = 15  # prctl: name the calling thread (15 bytes at most)
_libc = ctypes.CDLL(None, use_errno=True)


def name_os_thread(name: str) -> None:
    _libc.prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _named_bootstrap_inner(self: threading.Thread, *args: Any) -> None:
    name_os_thread(self.name)
    _bootstrap_inner(self, *args)


if __name__ == "__main__":
    threading.Thread._bootstrap_inner = _named_bootstrap_inner  # type: ignore[attr-defined]
    name_os_thread("main")  # the event loop
    sys.argv = ["camwatch", *sys.argv[1:]]
    runpy.run_module("camwatch", run_name="__main__", alter_sys=True)
