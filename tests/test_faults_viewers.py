"""200 viewers connecting and leaving (websocket, base64, MJPEG, snapshots, connection resets)
against the real server process: no leaked sockets, no memory growth, and a steady viewer keeps
at least 90% of the frames."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import pytest

from bench.churn import churn, steady
from bench.procstat import fd_count, rss_bytes
from tests.helpers.processes import camwatch_env, free_port, stop_process, wait_for_health
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow
VIEWERS = 200
SECONDS = float(os.environ.get("CAMWATCH_CHURN_SECONDS", "20"))


async def load(port: int, seconds: float) -> tuple[object, object]:
    steady_task = asyncio.ensure_future(steady(port, seconds))
    churn_stats = await churn(port, VIEWERS, seconds)
    return churn_stats, await steady_task


def test_200_viewers_come_and_go_without_leaks(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camwatch",
            "--source",
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--width",
            "320",
            "--height",
            "240",
            "--fps",
            "10",
            "--data-dir",
            str(tmp_path / "data"),
            "--log-level",
            "warning",
        ],
        env=camwatch_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_health(port, process)
        asyncio.run(churn(port, 20, 3.0))  # warm up: thread pools, buffers, first imports
        time.sleep(1.0)
        fds_before, rss_before = fd_count(process.pid), rss_bytes(process.pid)

        churned, kept = asyncio.run(load(port, SECONDS))

        wait_until(
            lambda: fd_count(process.pid) <= fds_before + 2,
            timeout=15,
            message="the server's sockets to be closed",
        )
        fds_after, rss_after = fd_count(process.pid), rss_bytes(process.pid)
        print(
            f"\n{churned.total} connections {churned.connections}, "
            f"{churned.frames} frames, errors {churned.errors}; steady viewer "
            f"{kept.received}/{kept.sent} frames ({kept.ratio:.1%}); fds {fds_before} -> "
            f"{fds_after}; RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB"
        )
        assert churned.total > VIEWERS * SECONDS / 2  # the churn really happened
        assert sum(churned.errors.values()) <= churned.total // 100, churned.errors
        assert kept.sent >= SECONDS * 10 * 0.8 and kept.ratio >= 0.9
        assert rss_after - rss_before < 40 * 2**20
        assert process.poll() is None
    finally:
        process.terminate()
        try:
            process.wait(10)
        finally:
            stop_process(process)
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "Traceback" not in stderr, stderr[-3000:]
