"""Where a process's resident memory is: /proc/PID/smaps summed per file and anonymous region.

    python3 bench/smaps.py PID [--top 25]

Prints RSS and anonymous MB per mapped file (a library's code, data and relocations together)
and the anonymous regions by kind ([heap], thread stacks, glibc arenas, large mmaps), largest
first, so a change in memory can be traced to what holds it.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("pid", type=int)
    parser.add_argument("--top", type=int, default=25, help="files to list (largest RSS first)")
    args = parser.parse_args()
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
