"""CPU time and memory of a process (all its threads) from /proc, for the benchmark."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process and every thread it has had (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def fd_count(pid: int) -> int:
    """Open file descriptors of the process (/proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    return round(rss_mb(pid) * 1024 * 1024)


def rss_mb(pid: int) -> float:
    """Resident set size in MB (/proc/PID/status VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Usage:
    cpu_percent: float  # % of one core over the window
    rss_mb: float  # the largest RSS seen during the window


class UsageMeter:
    """Measures one process between `start()` and `stop()`, sampling RSS as it goes."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._cpu0 = 0.0
        self._t0 = 0.0
        self._rss = 0.0

    def start(self) -> None:
        self._cpu0, self._t0 = cpu_seconds(self.pid), time.monotonic()
        self._rss = rss_mb(self.pid)

    def sample(self) -> None:
        self._rss = max(self._rss, rss_mb(self.pid))

    def stop(self) -> Usage:
        cpu, elapsed = cpu_seconds(self.pid) - self._cpu0, time.monotonic() - self._t0
        self.sample()
        return Usage(100.0 * cpu / elapsed if elapsed > 0 else 0.0, self._rss)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"
