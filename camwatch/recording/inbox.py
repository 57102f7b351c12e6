"""Inbox: a writer thread's queue that wakes the thread only when the producer says so."""

from __future__ import annotations

import threading
from collections import deque


class Inbox:
    """What a writer thread is handed: unbounded itself (the writer bounds what it queues),
    and it wakes the thread only when `put` says so."""

    def __init__(self) -> None:
        self._items: deque[object] = deque()
        self._ready = threading.Event()
        self.since_wake = 0  # items put since the thread was last woken

    def put(self, item: object, *, wake: bool = True) -> None:
        self._items.append(item)
        self.since_wake += 1
        if wake:
            self.since_wake = 0
            self._ready.set()

    def qsize(self) -> int:
        return len(self._items)

    def get(self) -> object:
        """The oldest item, waiting for a wake-up while there is none."""
        while not self._items:
            self._ready.wait()
            self._ready.clear()
        return self._items.popleft()
