"""numba's on-disk cache, keyed also on the kernels a module's cached functions compile in.

numba keys a cached function on its own source file. A function that compiles in kernels from
other modules (``inline="always"``, or plain calls to other ``@njit`` functions and intrinsics)
keeps its cached machine code after those kernels change, and runs the old kernels until its
own file changes too. A module declares what it compiles in, before its first cached function::

    from shriven.numba_cache import cache_depends_on
    from shriven.risk import _kernels as rk

    cache_depends_on(__file__, rk)

and the cache of each of its ``@njit(cache=True)`` functions then also keys on the contents of
those modules' files (a test shows the stale code numba alone keeps, and the fix).

How: cache locators (numba's ``CacheImpl._locator_classes``, tried before numba's own, one per
numba cache place) that serve the declared modules' functions only, whose source stamp adds a
hash of each dependency's file to numba's. If a numba version lacks that hook the declaration
changes nothing, and the cache behaves as numba's does.
"""

from __future__ import annotations

import functools
import hashlib
import os
from types import ModuleType

from numba.core import caching

__all__ = ["cache_depends_on"]

#: Source files that declared dependencies, and the dependencies' files.
_DEPENDS: dict[str, tuple[str, ...]] = {}


def cache_depends_on(source_file: str, *modules: ModuleType) -> None:
    """Key the cached ``@njit`` functions defined in ``source_file`` also on ``modules``' files.

    Call it before the first of them is defined (numba picks a function's cache place when it is
    decorated).
    """
    files = tuple(os.path.abspath(m.__file__) for m in modules if m.__file__)
    key = os.path.abspath(source_file)
    _DEPENDS[key] = tuple(dict.fromkeys(_DEPENDS.get(key, ()) + files))


def _file_hash(path: str) -> str:
    st = os.stat(path)
    return _hash_contents(path, st.st_mtime_ns, st.st_size)


@functools.cache
def _hash_contents(path: str, mtime_ns: int, size: int) -> str:  # noqa: ARG001 - the cache key
    """A file's SHA-256, read again only when its mtime or size moved (as numba does its own)."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


class _WithDependencies:
    """A numba locator's stamp, plus its dependencies' files (declared modules' functions only)."""

    _depends: tuple[str, ...] = ()

    @classmethod
    def from_function(cls, py_func, py_file):  # noqa: ANN001, ANN206 - numba's signature
        files = _DEPENDS.get(os.path.abspath(py_file))
        if files is None:
            return None  # no declaration: numba's own locators
        self = super().from_function(py_func, py_file)
        if self is not None:
            self._depends = files
        return self

    def get_source_stamp(self):  # noqa: ANN201 - numba's signature: any picklable value
        return (super().get_source_stamp(), tuple(_file_hash(f) for f in self._depends))


class _UserProvided(_WithDependencies, caching.UserProvidedCacheLocator):
    """``NUMBA_CACHE_DIR``, when set (numba's first choice)."""


class _InTree(_WithDependencies, caching.InTreeCacheLocator):
    """The cache beside the source, in ``__pycache__``."""


class _UserWide(_WithDependencies, caching.UserWideCacheLocator):
    """The user-wide cache, when ``__pycache__`` is not writable."""


def _install() -> None:
    impl = getattr(caching, "CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    if isinstance(classes, list) and _InTree not in classes:
        classes[:0] = [_UserProvided, _InTree, _UserWide]


_install()
