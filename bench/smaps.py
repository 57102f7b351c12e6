"""Where a process's resident memory is: /proc/PID/smaps summed per file and anonymous region.

    python3 bench/smaps.py PID [--top 25]
    python3 bench/smaps.py --imports numpy,cv2,av,camwatch.service   # what each import adds

Prints RSS and anonymous MB per mapped file (a library's code, data and relocations together)
and the anonymous regions by kind ([heap], thread stacks, glibc arenas, large mmaps), largest
first, so a change in memory can be traced to what holds it.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections import defaultdict
from dataclasses import dataclass

HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$")
ARENA_BYTES = 64 * 1024 * 1024  # glibc's per-thread arenas are reserved 64 MB at a time
STACK_BYTES = 8 * 1024 * 1024  # a thread's default stack (ulimit -s)


@dataclass
class Mapping:
    start: int
    end: int
    perms: str
    name: str
    rss_kb: int = 0
    anonymous_kb: int = 0

    @property
    def size(self) -> int:
        return self.end - self.start


def read_smaps(pid: int) -> list[Mapping]:
    mappings: list[Mapping] = []
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            header = HEADER.match(line)
            if header:
                start, end, perms, name = header.groups()
                mappings.append(Mapping(int(start, 16), int(end, 16), perms, name.strip()))
            elif line.startswith("Rss:"):
                mappings[-1].rss_kb = int(line.split()[1])
            elif line.startswith("Anonymous:"):
                mappings[-1].anonymous_kb = int(line.split()[1])
    return mappings


def anonymous_kind(mapping: Mapping, before: Mapping | None, after: Mapping | None) -> str:
    """What an unnamed region most likely is, from its size and its neighbours."""
    if mapping.name:
        return mapping.name
    if mapping.perms[:3] == "---":
        return "reserved, not accessible (guard pages, arenas' unused part)"
    guard_before = before is not None and before.end == mapping.start and before.perms[:3] == "---"
    reserve_after = after is not None and after.start == mapping.end and after.perms[:3] == "---"
    if guard_before and mapping.size >= STACK_BYTES - 4096:
        return "thread stacks"
    if mapping.start % ARENA_BYTES == 0 and (reserve_after or mapping.size == ARENA_BYTES):
        return "glibc malloc arenas (threads other than the main one)"
    if mapping.size >= 1024 * 1024:
        return "mmaps >= 1 MB (Python's object arenas, numpy arrays, big malloc blocks)"
    return "mmaps < 1 MB"


def summary(mappings: list[Mapping]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """{file: [rss_kb, anonymous_kb]} and {anonymous kind: [rss_kb, count]}."""
    files: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    regions: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, mapping in enumerate(mappings):
        if mapping.name.startswith("/"):
            files[mapping.name][0] += mapping.rss_kb
            files[mapping.name][1] += mapping.anonymous_kb
            continue
        before = mappings[i - 1] if i else None
        after = mappings[i + 1] if i + 1 < len(mappings) else None
        kind = anonymous_kind(mapping, before, after)
        regions[kind][0] += mapping.rss_kb
        regions[kind][1] += 1
    return files, regions


def rollup_mb(pid: int | str = "self") -> tuple[float, float]:
    """(RSS, anonymous) in MB from /proc/PID/smaps_rollup."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return fields["Rss"], fields["Anonymous"]


def import_steps(modules: list[str]) -> None:
    """Import each module in turn in this process and print what RSS and anonymous grew by."""
    before = rollup_mb()
    print(
        f"| import | RSS MB | + | anonymous MB | + |\n|---|---|---|---|---|\n| (start) "
        f"| {before[0]:.1f} | | {before[1]:.1f} | |"
    )
    for name in modules:
        importlib.import_module(name)
        now = rollup_mb()
        print(
            f"| {name} | {now[0]:.1f} | {now[0] - before[0]:+.1f} | {now[1]:.1f} "
            f"| {now[1] - before[1]:+.1f} |"
        )
        before = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pid", type=int, nargs="?")
    parser.add_argument("--top", type=int, default=25, help="files to list (largest RSS first)")
    parser.add_argument("--imports", help="comma-separated modules to import here, one by one")
    args = parser.parse_args()
    if args.imports:
        import_steps(args.imports.split(","))
        return
    if args.pid is None:
        parser.error("give a PID or --imports")
    mappings = read_smaps(args.pid)
    files, regions = summary(mappings)
    total = sum(m.rss_kb for m in mappings) / 1024
    anonymous = sum(m.anonymous_kb for m in mappings) / 1024
    print(f"RSS {total:.1f} MB, anonymous {anonymous:.1f} MB, file-backed {total - anonymous:.1f}")
    print("\n| file | RSS MB | of it anonymous (relocated data) |\n|---|---|---|")
    ranked = sorted(files.items(), key=lambda item: -item[1][0])
    for name, (rss_kb, anon_kb) in ranked[: args.top]:
        print(f"| {name.rsplit('/', 1)[-1]} | {rss_kb / 1024:.1f} | {anon_kb / 1024:.1f} |")
    rest = sum(rss for _, (rss, _) in ranked[args.top :]) / 1024
    print(f"| {len(ranked) - args.top} other files | {rest:.1f} | |")
    print("\n| anonymous region | RSS MB | regions |\n|---|---|---|")
    for kind, (rss_kb, count) in sorted(regions.items(), key=lambda item: -item[1][0]):
        print(f"| {kind} | {rss_kb / 1024:.1f} | {count} |")


if __name__ == "__main__":
    main()
