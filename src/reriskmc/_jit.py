"""numba decorator defaults, set in one place.

- ``cache=True`` everywhere, with a cache directory that works whether the package is
  installed editable or not (``NUMBA_CACHE_DIR`` if the user set it, else
  ``$XDG_CACHE_HOME/reriskmc/numba/<key>`` or ``~/.cache/reriskmc/numba/<key>``): a
  second run compiles nothing. The key hashes the kernel sources: numba checks only
  the file that defines a cached function, not the files of the functions inlined into
  it, so after an edit to ``kernels/paths.py`` alone the block kernel would otherwise
  load stale code (found when it did).
- no ``fastmath``: results must be bit-identical for any thread count and block size,
  and the model is branch-heavy, so reassociation would buy little.
- ``error_model="numpy"``: division by zero gives inf/nan instead of raising, which
  saves a check in every division of the inner loop (the kernels never divide by a
  value that can be zero without guarding it first).
"""

from __future__ import annotations

import os


def source_key() -> str:
    """A short hash of every compiled source file (this module and ``kernels/``)."""
    import hashlib

    here = os.path.dirname(os.path.abspath(__file__))
    kernels = os.path.join(here, "kernels")
    files = [os.path.abspath(__file__)] + sorted(
        os.path.join(kernels, f) for f in os.listdir(kernels) if f.endswith(".py")
    )
    h = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + b"\0" + f.read())
    return h.hexdigest()[:16]


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "reriskmc", "numba", source_key())


os.environ.setdefault("NUMBA_CACHE_DIR", cache_dir())

import numba  # noqa: E402  (after the cache directory is set)

if not numba.config.CACHE_DIR:  # numba was imported before us: tell it now
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]


def jit(fn=None, **kw):
    """A serial, cached, nopython function.

    The kernel's inner functions use ``inline="always"``: inlined at numba's IR level,
    the arrays they receive need no reference-count updates at each call. Those
    updates are atomic, and with several threads working on the same arrays they
    serialised the threads (measured: two threads 1.5x one, against 2.0x inlined).
    """
    opts = dict(cache=True, nogil=True, error_model="numpy")
    opts.update(kw)
    return numba.njit(**opts)(fn) if fn is not None else numba.njit(**opts)


def _noalias_compiler():
    from numba.core.compiler import Compiler

    class NoAliasCompiler(Compiler):
        """numba's own pipeline, with every pointer argument marked ``noalias``."""

        def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
            flags.noalias = True  # numba makes a fresh Flags object for each compilation
            super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)

    return NoAliasCompiler


def jit_noalias(fn=None, **kw):
    """:func:`jit`, promising LLVM that no two array arguments share memory.

    Without that promise LLVM must assume that a store to one scratch array may change
    any other, so it keeps values in memory and does not vectorise the loops over a
    group of paths. The caller must keep the promise: every array passed in is a
    separate allocation (the engine checks, see ``engine._check_distinct``).
    """
    return jit(fn, pipeline_class=_noalias_compiler(), **kw)
