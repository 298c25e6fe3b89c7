"""What a run shows on stderr while it works: the compile notice and the progress bar.

The first run of a version compiles the block kernel (about half a minute) before the first
block. Where the kernel's cache holds no compiled kernel for this version, a line says
so before compiling; else, should loading take longer than ``LATE_S`` seconds (a cache
of another numba, say), the line comes then. While compiling, the seconds elapsed
follow every ``TICK_S`` seconds, on a terminal (rewriting one line) or not (a line
each). The progress bar starts only after compiling, so its time left is right.
"""

from __future__ import annotations

import sys
import threading
import time

TICK_S = 10.0
LATE_S = 2.0
MESSAGE = "compiling the kernel (once per version, about half a minute)..."


def kernel_cached() -> bool:
    """Whether numba's cache holds an index for the block kernel of these sources (it
    may still miss: an index of another numba or CPU recompiles, see ``LATE_S``)."""
    import os

    try:
        from .kernels.block import simulate_lane

        index = simulate_lane._cache._cache_file._index_path
    except (AttributeError, ImportError):  # numba's internals moved: rely on the timer
        return True
    return os.path.exists(index)


class CompileNotice:
    """A context manager around compiling: says that it is compiling, and for how long.

    ``cached``: whether the kernel is expected to load from the cache (then the notice
    waits ``late_s`` seconds before speaking); ``stream``: where to write;
    ``tty``: rewrite one line (a terminal) or write a line per tick.
    """

    def __init__(self, cached, stream=None, tty=None, tick_s=TICK_S, late_s=LATE_S):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.cached, self.tick_s, self.late_s = cached, tick_s, late_s
        self.spoke = False
        self._done = threading.Event()
        self._thread = None

    def __enter__(self):
        self.t0 = time.monotonic()
        if not self.cached:
            self._say(MESSAGE)
        self._thread = threading.Thread(target=self._watch, name="compile-notice", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        if self.spoke:
            done = f"compiled the kernel in {time.monotonic() - self.t0:.0f} s"
            self._write(f"\r{done:<{len(MESSAGE) + 8}}\n" if self.tty else f"{done}\n")
        return False

    def _watch(self):
        wait = self.tick_s if self.spoke else self.late_s
        while not self._done.wait(wait):
            elapsed = time.monotonic() - self.t0
            if not self.spoke:
                self._say(MESSAGE)
            else:
                self._tick(elapsed)
            wait = self.tick_s

    def _say(self, text: str):
        self.spoke = True
        self._write(text + ("" if self.tty else "\n"))

    def _tick(self, elapsed: float):
        if self.tty:
            self._write(f"\r{MESSAGE} {elapsed:.0f} s")
        else:
            self._write(f"  still compiling: {elapsed:.0f} s\n")

    def _write(self, text: str):
        self.stream.write(text)
        self.stream.flush()


class Bar:
    """A progress bar of paths on stderr (a terminal only) that appears at its first
    update, after compiling, so that its time left counts simulating alone; a resumed
    run's bar counts this session's paths."""

    def __init__(self, n_paths: int, enabled: bool | None = None):
        self.n_paths = n_paths
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None
        self.first = 0
        self.last = 0

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        import click

        if self.bar is None:
            label = "paths" if done == 0 else f"paths (resumed after {done:,})"
            self.bar = click.progressbar(
                length=self.n_paths - done, label=label, file=sys.stderr, show_pos=True,
                show_eta=True,
            )  # fmt: skip
            self.bar.__enter__()
            self.first = self.last = done
        self.bar.update(done - self.last)
        self.last = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
