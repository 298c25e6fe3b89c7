"""Checkpoints of a long run: its merged statistics saved now and then, to go on from.

A checkpoint is one file, ``<folder>/state.npz`` (NumPy arrays only, no pickled
objects): the run's state after some number of paths (``engine._Totals.state``) and
what identifies the run (config text's SHA-256, seed, path count, precision target,
package version, kernel source key). It is replaced atomically (a temporary file in the
same folder, then ``os.replace``), so a run killed at any moment leaves the previous
checkpoint whole. Rerun with the same checkpoint folder, the run goes on from the saved
state and gives a result bit-identical to a run never interrupted; a checkpoint of a
different run is refused. When the result is written the checkpoint file is removed
(and the folder, if that leaves it empty).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np

FILE = "state.npz"
#: seconds between checkpoints by default
EVERY_S = 30.0
#: what must match for a run to go on from a checkpoint, in the order reported
IDENTITY = ("config_sha256", "seed", "n_paths", "target", "reriskmc_version", "kernel_source")


class CheckpointError(Exception):
    """A checkpoint that cannot be used: one line naming the folder and why."""


def identity(config, seed: int, n_paths: int, target=None, block_paths: int = 0) -> dict:
    """What identifies a run, as a checkpoint records it (strings and numbers only)."""
    from . import __version__
    from ._jit import source_key

    return {
        "config_sha256": config.sha256,
        "seed": int(seed),
        "n_paths": int(n_paths),
        "target": "none" if target is None else f"{target.kind} {target.value!r} {target.step}",
        "reriskmc_version": __version__,
        "kernel_source": source_key(),
        "block_paths": int(block_paths),  # recorded, not checked: results do not depend on it
    }


class Checkpoint:
    """The checkpoint of one run in ``folder``: :meth:`load` it, call the object after
    each block (``engine.Control.checkpoint``), :meth:`remove` it when done."""

    def __init__(self, folder, ident: dict, every_s: float = EVERY_S, clock=time.monotonic):
        self.folder = Path(folder)
        self.ident = ident
        self.every_s = every_s
        self.clock = clock
        self.last = clock()
        self.saves = 0
        self.save_s = 0.0  # time spent saving

    @property
    def path(self) -> Path:
        return self.folder / FILE

    def check_folder(self) -> None:
        """Make the folder if needed; refuse a path that is not a folder."""
        if self.folder.exists() and not self.folder.is_dir():
            raise CheckpointError(f"{self.folder}: not a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CheckpointError(f"{self.folder}: cannot make the folder ({e.strerror})") from None

    def load(self) -> dict | None:
        """The saved state of this run, or None if the folder holds no checkpoint."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            saved = json.loads(str(arrays.pop("identity")))
        except (OSError, ValueError, KeyError) as e:
            raise CheckpointError(f"{self.folder}: unreadable checkpoint {FILE} ({e})") from None
        differ = [
            f"{k} {saved.get(k)!r} there, {self.ident[k]!r} here"
            for k in IDENTITY
            if saved.get(k) != self.ident[k]
        ]
        if differ:
            raise CheckpointError(
                f"{self.folder}: checkpoint of another run ({'; '.join(differ)}); "
                f"remove {self.path} to start afresh"
            )
        return arrays

    def __call__(self, done: int, state) -> None:
        """After a block: save ``state()`` if ``every_s`` seconds have passed."""
        if self.clock() - self.last >= self.every_s:
            self.save(state())

    def save(self, arrays: dict) -> None:
        t0 = self.clock()
        tmp = self.folder / f".{FILE}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as f:
                np.savez(f, identity=np.array(json.dumps(self.ident)), **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            _sync_folder(self.folder)
        finally:
            if tmp.exists():
                tmp.unlink()
        self.last = self.clock()
        self.saves += 1
        self.save_s += self.last - t0

    def remove(self) -> None:
        """The run is done and its result written: the checkpoint goes."""
        if self.path.exists():
            self.path.unlink()
        with contextlib.suppress(OSError):  # not empty: other files of the user's
            self.folder.rmdir()


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable: without this, a power cut soon after the
    rename may bring back the folder's previous entry (POSIX leaves it to the folder's
    own fsync). Not every file system can sync a folder; then the rename is as durable
    as it can be made."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
