"""Two (or more) camwatch checkouts side by side on one MJPEG camera, CPU per thread, at once.

    git archive main | tar -x -C /tmp/a; git archive HEAD | tar -x -C /tmp/b
    python3 bench/ab_threads.py /tmp/a /tmp/b --rounds 3 --seconds 30 [--viewer mjpeg|ws|none]

Each round starts every checkout's server (`python -m camwatch` through bench/thread_names.py)
on the same bench/mjpeg_source.py stream, gives each one viewer of the kind asked for, and
measures every thread over the same window from /proc/PID/task/TID/schedstat (nanoseconds,
not the 10 ms ticks of /proc/.../stat, so a thread at 0.3% of a core reads true in 30 s) and
its context switches; `ended` is what threads that ended in the window spent (a finished
clip's writer; from /proc/.../stat ticks). Running them at once puts both under the same
load; the start order alternates between rounds. Prints each round and the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import run as bench  # bench/ is sys.path[0]
from procstat import cpu_seconds, load_average, thread_cpu_seconds, thread_group

Sample = dict[str, float]


def thread_sample(pid: int) -> dict[int, tuple[str, float, int, int]]:
    """Per thread: (name, CPU seconds, voluntary and involuntary context switches)."""
    threads: dict[int, tuple[str, float, int, int]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        task = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{task}/comm") as f:
                name = f.read().strip()
            with open(f"{task}/schedstat") as f:
                nanoseconds = int(f.read().split()[0])
            with open(f"{task}/status") as f:
                switches = [int(line.split()[1]) for line in f if "ctxt_switches" in line]
        except (OSError, ValueError):  # the thread ended meanwhile
            continue
        threads[int(tid)] = (name, nanoseconds / 1e9, switches[0], switches[1])
    return threads


def per_second(pid: int, before: dict[int, tuple[str, float, int, int]], seconds: float) -> Sample:
    """% of a core per kind of thread, and the main and capture threads' switches a second."""
    sample: Sample = {}
    for tid, (name, cpu, voluntary, involuntary) in thread_sample(pid).items():
        _, cpu0, voluntary0, involuntary0 = before.get(tid, (name, 0.0, 0, 0))
        kind = thread_group(name)
        sample[kind] = sample.get(kind, 0.0) + 100 * (cpu - cpu0) / seconds
        if kind in ("main", "capture"):
            for key, count in (
                ("switches", voluntary - voluntary0),
                ("preempted", involuntary - involuntary0),
            ):
                sample[f"{kind} {key}/s"] = sample.get(f"{kind} {key}/s", 0.0) + count / seconds
    sample["total"] = sum(v for k, v in sample.items() if "/s" not in k)
    return sample


class EndedMeter:
    """CPU of the threads that ended in the window (a finished clip's writer): the process's
    CPU (/proc/PID/stat, which keeps what ended threads spent) less the live threads'."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._total, self._threads = cpu_seconds(pid), thread_cpu_seconds(pid)

    def percent(self, seconds: float) -> float:
        total, threads = cpu_seconds(self.pid), thread_cpu_seconds(self.pid)
        live = sum(
            cpu - self._threads.get(tid, (name, 0.0))[1] for tid, (name, cpu) in threads.items()
        )
        return max(0.0, 100 * (total - self._total - live) / seconds)


def start_viewer(base: str, kind: str, start: float, end: float) -> subprocess.Popen[str] | None:
    if kind == "none":
        return None
    if kind == "mjpeg":
        return bench.start_viewers(base, 1, start, end, 10, mjpeg_url=base + "/stream.mjpg")
    command = [bench.PYTHON, str(bench.BENCH / "viewers.py"), "--ws-url"]
    command += [base.replace("http://", "ws://") + "/webcam?meta=1", "--ws", "1", "--mjpeg", "0"]
    command += ["--start", str(start), "--end", str(end), "--fps", "10"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def one_round(
    roots: list[Path], source: bench.MjpegSource, args: argparse.Namespace, workdir: Path
) -> dict[str, Sample]:
    scenario = bench.Scenario("mjpeg", 640, 480, 10, args.scene)
    servers = []
    try:
        for root in roots:
            directory = workdir / root.name
            directory.mkdir()
            server = bench.CamwatchServer(scenario, source.url(args.scene), directory, root=root)
            servers.append((root.name, server))
        time.sleep(5)  # past start-up
        start = time.time() + bench.CONNECT_S
        end = start + args.seconds
        viewers = [start_viewer(server.base, args.viewer, start, end) for _, server in servers]
        time.sleep(max(0.0, start - time.time()))
        before = {name: thread_sample(server.process.pid) for name, server in servers}
        ended = {name: EndedMeter(server.process.pid) for name, server in servers}
        time.sleep(max(0.0, end - time.time()))
        samples = {
            name: per_second(server.process.pid, before[name], args.seconds)
            for name, server in servers
        }
        for name, sample in samples.items():
            sample["ended"] = ended[name].percent(args.seconds)
            sample["total"] += sample["ended"]
        for viewer in viewers:
            if viewer is not None:
                result = bench.finish_viewers(viewer, 30)
                if result.get("errors"):
                    print("viewer errors:", result["errors"], flush=True)
        return samples
    finally:
        for _, server in servers:
            server.stop()


def describe(sample: Sample) -> str:
    return ", ".join(f"{key} {value:.3f}" for key, value in sorted(sample.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="+", type=Path, help="checkouts (their folder names differ)")
    parser.add_argument("--scene", default="still", help="bench/mjpeg_source.py scene")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--viewer", choices=("mjpeg", "ws", "none"), default="mjpeg")
    args = parser.parse_args()
    rounds: dict[str, list[Sample]] = {root.name: [] for root in args.roots}
    source = bench.MjpegSource(640, 480, 10)
    try:
        for number in range(args.rounds):
            roots = list(args.roots) if number % 2 == 0 else list(reversed(args.roots))
            with tempfile.TemporaryDirectory(prefix="camwatch-ab-") as workdir:
                samples = one_round(roots, source, args, Path(workdir))
            print(f"round {number + 1}, load average {load_average()}", flush=True)
            for name, sample in samples.items():
                rounds[name].append(sample)
                print(f"  {name}: {describe(sample)}", flush=True)
    finally:
        source.stop()
    print(f"medians of {args.rounds} rounds, % of a core ({args.viewer} viewer, {args.scene}):")
    for name, samples in rounds.items():
        keys = sorted({key for sample in samples for key in sample})
        medians = {key: statistics.median(s.get(key, 0.0) for s in samples) for key in keys}
        print(f"  {name}: {describe(medians)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
