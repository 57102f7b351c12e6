"""heap.give_back: what a thread freed inside its malloc arena goes back to the system."""

import ctypes
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from camwatch.recording import heap

CHUNK = 64 * 1024  # below glibc's mmap threshold: the chunks come from the thread's arena
CHUNKS = 512  # 32 MB
LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
LIBC.free.argtypes = [ctypes.c_void_p]


def anonymous_mb() -> float:
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no Anonymous line")


def free_inside_an_arena() -> list[int]:
    """On a thread of its own: 32 MB malloc'd in 64 KB blocks, touched and freed, each with a
    small block after it still held (so they cannot merge into a free top that glibc would
    trim by itself): the returned small blocks, to free afterwards."""
    held: list[int] = []

    def work() -> None:
        blocks = []
        for _ in range(CHUNKS):
            blocks.append(LIBC.malloc(CHUNK))
            ctypes.memset(blocks[-1], 1, CHUNK)
            held.append(LIBC.malloc(64))
        for block in blocks:
            LIBC.free(block)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return held


def freed_memory_is_given_back() -> None:
    before = anonymous_mb()
    small_blocks = free_inside_an_arena()
    kept = anonymous_mb() - before
    assert kept > 24, kept  # freed, yet resident: what the clip writer's encoder leaves behind
    assert heap.give_back()
    assert anonymous_mb() - before < kept - 24
    for block in small_blocks:
        LIBC.free(block)


@pytest.mark.skipif(heap._trim is None, reason="no malloc_trim in this C library")
def test_memory_a_thread_freed_is_given_back():
    """In a fresh interpreter: arenas that earlier tests grew would already hold the blocks."""
    root = Path(__file__).resolve().parent.parent
    code = "from tests.test_heap import freed_memory_is_given_back as f; f()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
