"""Housekeeping of the compiled-kernel cache: old versions' folders are removed.

The kernel cache lives in ``<user cache>/reriskmc/numba/<key>``, one folder per version
of the kernel sources (``_jit.cache_dir``), about 8 MB each. Every run marks its own
folder as used; folders of other versions not used for ``MAX_AGE_DAYS`` are removed, so
upgrades do not pile up old kernels, while another installed version still in use keeps
its cache. A cache folder the user chose (``NUMBA_CACHE_DIR``) is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import time

MAX_AGE_DAYS = 30
MARKER = "last_used"
_KEY = re.compile(r"[0-9a-f]{16}")


def mark_used_and_prune(max_age_days: float = MAX_AGE_DAYS) -> list[str]:
    """Mark this version's cache folder as used and remove stale ones beside it.

    Returns the folders removed. Does nothing if numba caches elsewhere than the default
    folder (the user set ``NUMBA_CACHE_DIR``). Never raises: housekeeping must not fail
    a run.
    """
    import numba

    from ._jit import cache_dir

    current = cache_dir()
    if os.path.abspath(numba.config.CACHE_DIR or "") != os.path.abspath(current):
        return []
    try:
        return prune(os.path.dirname(current), os.path.basename(current), max_age_days * 86400.0)
    except OSError:
        return []


def prune(root: str, current: str, max_age_s: float, now: float | None = None) -> list[str]:
    """Touch ``root/current/last_used``; remove every other folder of ``root`` named like
    a cache key whose marker (or, without one, the folder itself) is older than
    ``max_age_s`` seconds. Anything else in ``root`` is left alone."""
    now = time.time() if now is None else now
    own = os.path.join(root, current)
    os.makedirs(own, exist_ok=True)
    marker = os.path.join(own, MARKER)
    with open(marker, "a"):
        pass
    os.utime(marker, (now, now))
    removed = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name == current or not _KEY.fullmatch(name) or not os.path.isdir(path):
            continue
        try:
            mark = os.path.join(path, MARKER)
            used = os.path.getmtime(mark if os.path.exists(mark) else path)
        except OSError:
            continue
        if now - used > max_age_s:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
