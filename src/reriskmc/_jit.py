"""numba decorator defaults, set in one place.

- ``cache=True`` everywhere, with a cache directory that works whether the package is
  installed editable or not (``NUMBA_CACHE_DIR`` if the user set it, else
  ``$XDG_CACHE_HOME/reriskmc/numba/<key>`` or ``~/.cache/reriskmc/numba/<key>``): a
  second run compiles nothing. The key hashes the kernel sources, and is also the
  stamp numba checks a cached function against (:func:`_install_cache_locator`):
  numba's own stamp is the hash of the file that defines the function alone, not of
  the files of the functions inlined into it, so after an edit to ``kernels/paths.py``
  alone the block kernel would load stale code.
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


def _install_cache_locator() -> None:
    """Make numba file this package's compiled functions by the sources' key, not by path.

    numba's own locator for ``NUMBA_CACHE_DIR`` puts a function's cache in a folder named
    after a hash of its file's absolute path, and stamps it with the hash of that one
    file: a copy of the same sources in another folder (a new checkout, another virtual
    environment) would compile the block kernel again (over a minute), and in a cache
    folder the user chose, an edit to a file inlined into the kernel alone would load
    stale code. Here the folder is named after the package and its subfolder, and the
    stamp is :func:`source_key`: an edit to any kernel source invalidates, a move does
    not. Only for ``kernels/`` (the files the key hashes). Left out (numba's own
    locators then apply) where numba's caching is shaped otherwise.
    """
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    base = getattr(caching, "_CacheLocator", None)
    if base is None or not isinstance(getattr(impl, "_locator_classes", None), list):
        return
    here = os.path.dirname(os.path.abspath(__file__))
    parent = os.path.dirname(here)
    stamp = []  # source_key(), computed once per process, on first use

    class SourceKeyLocator(base):
        def __init__(self, py_func, py_file):
            self._lineno = py_func.__code__.co_firstlineno
            folder = os.path.relpath(os.path.dirname(os.path.abspath(py_file)), parent)
            self._path = os.path.join(numba.config.CACHE_DIR, folder.replace(os.sep, "."))

        def get_cache_path(self):
            return self._path

        def get_source_stamp(self):
            if not stamp:
                stamp.append(source_key())
            return stamp[0]

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            # the files source_key() hashes: compiled code elsewhere keeps numba's stamp
            inside = os.path.abspath(py_file).startswith(os.path.join(here, "kernels") + os.sep)
            if not numba.config.CACHE_DIR or not inside:
                return None
            self = cls(py_func, py_file)
            try:
                self.ensure_cache_path()
            except OSError:
                return None
            return self

    impl._locator_classes.insert(0, SourceKeyLocator)


_install_cache_locator()


def jit(fn=None, **kw):
    """A serial, cached, nopython function.

    The kernel's inner functions use ``inline="always"``: inlined at numba's IR level,
    the arrays they receive need no reference-count updates at each call. Those
    updates are atomic, and with several threads working on the same arrays they
    serialised the threads (measured: two threads 1.5x one, against 2.0x inlined).
    The kernel's large steps are compiled on their own instead: :func:`stage`.
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


def stage(fn=None, *, noalias=True):
    """A large step of the block kernel (a stage of a scenario's month, the start of a
    group of paths, folding a group in), compiled once as a function of its own.

    The kernel's small helpers are inlined into numba's IR (``inline="always"``).
    Inlined the same way, the stages would make the block kernel one function of some
    23,000 lines of LLVM IR, which takes 70 s to compile: numba inlines and types every
    call site anew, and LLVM's optimisation (SROA above all) grows faster than the
    function. Compiled on their own they take under half of that, and run as fast:
    LLVM still inlines the smaller ones into the kernel, and a call of a larger one
    costs little beside its loops over a group of paths. Their reference-count updates
    are on the calling thread's own copies of the arrays' counts (each thread's call of
    the kernel makes its own), so threads do not contend for them.

    ``noalias``: like :func:`jit_noalias`, the stage is promised that no two of its
    array arguments share memory (no two are the same array or views of one); False
    for a stage given a view beside the array it is taken from. No Python wrapper
    (only the kernel calls a stage). Cached on its own as well as in the kernel's
    entry, so that on a cold cache another process can compile it meanwhile
    (``compile_ahead``).
    """
    if fn is None:
        return lambda f: stage(f, noalias=noalias)
    opts = dict(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
    return jit_noalias(fn, **opts) if noalias else jit(fn, **opts)
