"""Libraries that only some configurations use (PyAV), imported on first use, not at startup."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import _bootstrap
from typing import Any

# Looked up by every `import NAME` statement and by the import system: answered without loading.
_WITHOUT_LOADING = frozenset({"__class__", "__dict__", "__loader__", "__name__", "__spec__"})
# Looked up by the import system for `import NAME.sub` while it holds NAME.sub's import lock.
_SUBMODULE_PATH = "__path__"
_import_system: Any = _bootstrap  # its per-module locks are not in its stubs
_after_load: dict[str, list[Callable[[], None]]] = {}
_packages: dict[str, str] = {}  # the pip package of each deferred module
_failures: dict[str, str] = {}  # why each module that failed to load did (it is not run again)
_runners: dict[str, int] = {}  # the thread running each deferred module's code, while it runs


class MissingLibrary(ImportError):
    """A library camwatch needs is not installed."""


class BrokenLibrary(MissingLibrary):
    """A library camwatch needs is installed but does not load (a shared library missing)."""


class _Deferred(types.ModuleType):
    """A module whose code has not run yet: the first other attribute looked up runs it, once,
    as `import` would: under the import system's lock for its name (importlib.util.LazyLoader,
    which this replaces, is not thread-safe before Python 3.12 and loads on the `__spec__`
    look-up every `import` statement makes)."""

    def __getattribute__(self, name: str) -> Any:
        if name not in _WITHOUT_LOADING and type(self) is _Deferred:
            spec = types.ModuleType.__getattribute__(self, "__spec__")
            if not (name == _SUBMODULE_PATH and _running_elsewhere(spec.name)):
                _load_once(self, spec)
        return types.ModuleType.__getattribute__(self, name)


def _running_elsewhere(name: str) -> bool:
    """Whether another thread is running NAME's code. That thread may be about to import the
    submodule whose lock this one holds: waiting for it would hang both, so the import goes on
    with the partial module, as a plain `import` does while another thread runs the package."""
    runner = _runners.get(name)
    return runner is not None and runner != threading.get_ident()


@contextmanager
def _import_lock(name: str) -> Iterator[bool]:
    """Hold the import system's lock for NAME (reentrant; the one `import NAME` takes). Yields
    False without it when taking it would close a cycle of threads waiting for each other's
    imports; the import system then hands over the partial module too."""
    lock = _import_system._get_module_lock(name)
    try:
        lock.acquire()
    except _import_system._DeadlockError:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _load_once(module: types.ModuleType, spec: importlib.machinery.ModuleSpec) -> None:
    """Run the module's code unless it has run or is running (its own look-ups of its
    attributes go straight through); other threads wait for it meanwhile."""
    with _import_lock(spec.name) as locked:
        failure = _failures.get(spec.name)
        if failure is not None:
            raise BrokenLibrary(failure, name=spec.name)
        if locked and type(module) is _Deferred and spec.name not in _runners:
            _load(module, spec)


def _load(module: types.ModuleType, spec: importlib.machinery.ModuleSpec) -> None:
    """Run the module's code, then make it a plain module. An ImportError inside it (a shared
    library missing) is kept: this and every later use raise BrokenLibrary, without running
    half of it again."""
    assert spec.loader is not None
    _runners[spec.name] = threading.get_ident()
    spec._initializing = True  # type: ignore[attr-defined]  # other `import NAME`s wait, as for import
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        package = _packages.get(spec.name, spec.name)
        _failures[spec.name] = (
            f"camwatch needs {package}, which is installed but does not load ({error}): "
            f"pip install --force-reinstall {package}"
        )
        raise BrokenLibrary(_failures[spec.name], name=spec.name) from None
    finally:
        spec._initializing = False  # type: ignore[attr-defined]
        del _runners[spec.name]
    module.__class__ = types.ModuleType
    for callback in _after_load.pop(spec.name, []):
        callback()


def defer_import(name: str, package: str) -> None:
    """From now on `import NAME` gives a module that runs its code on first use (attribute
    look-up). Raises MissingLibrary naming the pip package when NAME is not installed, so a
    missing library is still reported at startup. Nothing happens when NAME is already loaded.
    Threads may first use it together, also through `import NAME.sub` while another runs it."""
    if sys.modules.get(name) is not None:  # None: imports of it are blocked, as if missing
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise MissingLibrary(f"camwatch needs {package}: pip install {package}", name=name)
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    _packages[name] = package
    sys.modules[name] = module


def require(name: str) -> None:
    """Run NAME's code now if it is deferred and has not run; MissingLibrary (BrokenLibrary)
    when it does not load, now or at an earlier use."""
    module = sys.modules.get(name)
    if type(module) is _Deferred:
        _load_once(module, types.ModuleType.__getattribute__(module, "__spec__"))


def is_loaded(name: str) -> bool:
    """Whether NAME's code has run (it is imported and was not deferred, or has been used)."""
    module = sys.modules.get(name)
    return module is not None and type(module) is not _Deferred


def after_load(name: str, callback: Callable[[], None]) -> None:
    """Call `callback()` once NAME's code has run: now if it has (or NAME is not deferred),
    else right after it runs, on the thread that first uses it and before that use."""
    with _import_lock(name):
        if type(sys.modules.get(name)) is _Deferred:
            _after_load.setdefault(name, []).append(callback)
            return
    callback()
