"""200 viewers connecting and leaving (websocket, base64, MJPEG, snapshots, connection resets)
against the real server process: no leaked sockets, memory back to its level, and a steady
viewer that never stalls and keeps getting the newest frames. (The share of frames it gets
under load depends on the machine: a benchmark figure, measured by bench/soak.py and
bench/run.py, not asserted here.)"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from bench.churn import churn, steady
from bench.procstat import fd_count, rss_bytes
from tests.helpers.processes import camwatch_env, free_port, stop_process, wait_for_health
from tests.helpers.support import wait_until

pytestmark = pytest.mark.slow
VIEWERS = 200
SECONDS = float(os.environ.get("CAMWATCH_CHURN_SECONDS", "20"))
# What "never stalls" means here: the hub hands each viewer the newest frame, so a viewer is at
# most a frame behind; seconds without a frame, or a frame seconds old, would be a stall. The
# bound is generous because it also holds the test client's own lag (its event loop runs the
# 200 churning viewers too): 0.8 s gap and 1.5 s age were seen with a load average of 16.
# (The server itself drops a viewer that takes no frame for 30 s.)
STALL_S = 5.0


def settled_fds(pid: int) -> int:
    """The server's open file count once it stops changing (after the warm-up's sockets close)."""
    counts: list[int] = []

    def steady() -> bool:
        counts.append(fd_count(pid))
        return len(counts) >= 3 and len(set(counts[-3:])) == 1

    wait_until(steady, timeout=15, interval=0.25, message="the server's fds to settle")
    return counts[-1]


async def load(port: int, seconds: float) -> tuple[object, object]:
    steady_task = asyncio.ensure_future(steady(port, seconds))
    churn_stats = await churn(port, VIEWERS, seconds)
    return churn_stats, await steady_task


def test_200_viewers_come_and_go_without_leaks(tmp_path):
    port = free_port()
    config = tmp_path / "camwatch.toml"  # all 200 from one address: past the per-client limit
    config.write_text("[server]\nmax_client_connections = 1000\n")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camwatch",
            "--config",
            str(config),
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
        fds_before = settled_fds(process.pid)
        rss_before = rss_bytes(process.pid)

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
            f"{kept.received}/{kept.sent} frames ({kept.ratio:.1%}), longest gap "
            f"{kept.longest_gap_s:.2f} s, oldest frame {kept.oldest_s:.2f} s; fds {fds_before} -> "
            f"{fds_after}; RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB"
        )
        assert churned.total > VIEWERS * SECONDS / 2  # the churn really happened
        assert sum(churned.errors.values()) <= churned.total // 100, churned.errors
        # the steady viewer was served the whole time, never stalled, never got an old frame
        assert kept.received > 0 and kept.longest_gap_s < STALL_S and kept.oldest_s < STALL_S
        assert kept.out_of_order == 0
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
