"""CPU time and memory of a process (all its threads) from /proc, for the benchmark."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process and every thread it has had (/proc/PID/stat)."""
    return cpu_seconds_of(f"/proc/{pid}/stat")


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


@dataclass(frozen=True)
class Memory:
    """/proc/PID/smaps_rollup at one moment, in MB: what the process alone holds (anonymous:
    heap, arenas, stacks) and what is mapped from files (libraries' code and data, shared
    with any other process that maps them; PSS divides shared pages among their users)."""

    rss: float = 0.0
    pss: float = 0.0
    anonymous: float = 0.0
    private: float = 0.0  # private clean + dirty: pages no other process maps

    @property
    def file_backed(self) -> float:
        return self.rss - self.anonymous


def memory_of(pid: int) -> Memory:
    fields: dict[str, float] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    except OSError:  # gone, or not ours to read
        return Memory()
    return Memory(
        fields.get("Rss", 0.0),
        fields.get("Pss", 0.0),
        fields.get("Anonymous", 0.0),
        fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0),
    )


@dataclass
class Usage:
    cpu_percent: float  # % of one core over the window
    rss_mb: float  # the largest RSS seen during the window
    memory: Memory = field(default_factory=Memory)  # smaps_rollup at the end of the window
    rss_low_mb: float = 0.0  # the smallest RSS seen (an intermittent scene: between clips)


class UsageMeter:
    """Measures one process between `start()` and `stop()`, sampling RSS as it goes."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._cpu0 = 0.0
        self._t0 = 0.0
        self._rss = self._rss_low = 0.0

    def start(self) -> None:
        self._cpu0, self._t0 = cpu_seconds(self.pid), time.monotonic()
        self._rss = self._rss_low = rss_mb(self.pid)

    def sample(self) -> None:
        rss = rss_mb(self.pid)
        self._rss, self._rss_low = max(self._rss, rss), min(self._rss_low, rss)

    def stop(self) -> Usage:
        cpu, elapsed = cpu_seconds(self.pid) - self._cpu0, time.monotonic() - self._t0
        self.sample()
        percent = 100.0 * cpu / elapsed if elapsed > 0 else 0.0
        return Usage(percent, self._rss, memory_of(self.pid), self._rss_low)

    def over(self, seconds: float, interval: float = 0.5) -> Usage:
        """start(), sample() every `interval` for `seconds`, then stop()."""
        self.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            self.sample()
        return self.stop()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def thread_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """Per live thread of the process: (name, user + system CPU seconds), keyed by thread id."""
    threads: dict[int, tuple[str, float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            threads[int(tid)] = (name, cpu_seconds_of(f"/proc/{pid}/task/{tid}/stat"))
        except (FileNotFoundError, ProcessLookupError):  # the thread ended meanwhile
            continue
    return threads


def cpu_seconds_of(stat_path: str) -> float:
    """utime + stime of a /proc/.../stat file, in seconds."""
    with open(stat_path) as f:
        fields = f.read().rpartition(")")[2].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def thread_group(name: str) -> str:
    """A thread's kind from its name: `clip-cam-2026...` and `clip-cam-...` are both `clip`."""
    for separator in "-_:":
        name = name.split(separator, 1)[0]
    return name.rstrip("0123456789") or name


class ThreadMeter:
    """CPU seconds per kind of thread between `start()` and `stop()`; threads that ended in
    the window are counted together as `ended` (the process total minus the live threads)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._start: dict[int, tuple[str, float]] = {}
        self._total = 0.0
        self.last: dict[str, float] = {}  # what the last stop() returned

    def start(self) -> None:
        self._start, self._total = thread_cpu_seconds(self.pid), cpu_seconds(self.pid)

    def stop(self) -> dict[str, float]:
        now, total = thread_cpu_seconds(self.pid), cpu_seconds(self.pid)
        groups: dict[str, float] = {}
        for tid, (name, seconds) in now.items():
            spent = seconds - self._start.get(tid, (name, 0.0))[1]
            groups[thread_group(name)] = groups.get(thread_group(name), 0.0) + spent
        ended = (total - self._total) - sum(groups.values())
        if ended > 0.005:
            groups["ended"] = ended
        self.last = groups
        return groups
