"""Libraries that only some configurations use (PyAV), imported on first use, not at startup."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

# Looked up by every `import NAME` statement and by the import system: answered without loading.
_WITHOUT_LOADING = frozenset({"__class__", "__dict__", "__loader__", "__name__", "__spec__"})
_load_lock = threading.RLock()
_after_load: dict[str, list[Callable[[], None]]] = {}
_loading: set[str] = set()  # modules whose code is running (on the thread holding _load_lock)


class MissingLibrary(ImportError):
    """A library camwatch needs is not installed."""


class _Deferred(types.ModuleType):
    """A module whose code has not run yet: the first other attribute looked up runs it, once,
    under a lock (importlib.util.LazyLoader, which this replaces, is not thread-safe before
    Python 3.12 and loads on the `__spec__` look-up every `import` statement makes)."""

    def __getattribute__(self, name: str) -> Any:
        if name not in _WITHOUT_LOADING:
            with _load_lock:  # other threads wait here while the module's code runs
                spec = types.ModuleType.__getattribute__(self, "__spec__")
                if type(self) is _Deferred and spec.name not in _loading:
                    _load(self, spec)
        return types.ModuleType.__getattribute__(self, name)


def _load(module: types.ModuleType, spec: importlib.machinery.ModuleSpec) -> None:
    """Run the module's code (its own look-ups of its attributes go straight through), then
    make it a plain module; the next use after a failure tries again and raises again."""
    assert spec.loader is not None
    _loading.add(spec.name)
    try:
        spec.loader.exec_module(module)
    finally:
        _loading.discard(spec.name)
    module.__class__ = types.ModuleType
    for callback in _after_load.pop(spec.name, []):
        callback()


def defer_import(name: str, package: str) -> None:
    """From now on `import NAME` gives a module that runs its code on first use (attribute
    look-up). Raises MissingLibrary naming the pip package when NAME is not installed, so a
    missing library is still reported at startup. Nothing happens when NAME is already loaded.

    Only `import NAME` (and `from NAME import x`) are safe: a thread importing a submodule
    (`import NAME.sub`) holds the import system's lock for it while it waits for NAME's code,
    which another thread may be running and which imports NAME.sub: both wait for ever."""
    if sys.modules.get(name) is not None:  # None: imports of it are blocked, as if missing
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise MissingLibrary(f"camwatch needs {package}: pip install {package}", name=name)
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    sys.modules[name] = module


def is_loaded(name: str) -> bool:
    """Whether NAME's code has run (it is imported and was not deferred, or has been used)."""
    module = sys.modules.get(name)
    return module is not None and type(module) is not _Deferred


def after_load(name: str, callback: Callable[[], None]) -> None:
    """Call `callback()` once NAME's code has run: now if it has (or NAME is not deferred),
    else right after it runs, on the thread that first uses it and before that use."""
    with _load_lock:
        if type(sys.modules.get(name)) is _Deferred:
            _after_load.setdefault(name, []).append(callback)
            return
    callback()
