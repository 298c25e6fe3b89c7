"""A cold compile shared by two processes.

The block kernel's large steps are compiled as functions of their own and cached on
their own (``_jit.stage``). On a cold cache, while a run compiles the kernel, which
meets its stages in the order it calls them, a helper process compiles the same stages
with the same argument types in the reverse order; a stage the helper has cached by
the time the kernel meets it is loaded instead of compiled. The helper is a second
core's work: with one core it would only slow the run, and it is not started.

    python -m reriskmc.compile_ahead CONFIG

compiles the stages (last first) for the kernel's argument types, which do not depend
on the config (one compiled kernel serves every config); the config only gives arrays
to take the types from.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

#: seconds a stopped helper is given to exit before it is killed (it stops between two
#: steps of Python; a pass of LLVM may take a few seconds)
STOP_S = 3.0


class _Stopped(Exception):
    """Raised in the helper on SIGTERM: an Exception, so that numba removes a cache file
    it was writing."""


def stage_signatures(packed) -> list[tuple[object, tuple]]:
    """The kernel's stages in the order ``kernels.block.simulate_lane`` meets them, each
    with the argument types it calls them with (from ``block.stage_arguments``)."""
    from numba import typeof, types

    from .kernels import paths, reduce, tilt
    from .kernels.block import stage_arguments
    from .kernels.scratch import CHUNK, allocate

    work, pads, traj, partials = allocate(packed, 1, CHUNK)
    args = tuple(typeof(a) for a in (packed.params(), work, pads, traj, partials))
    args += (types.int64,)  # the thread
    stage_arguments.compile(args)
    w, tr, acc, f_rec, f_drec = stage_arguments.overloads[args].signature.return_type
    pk = args[0]

    def field(tuple_type, name):
        return tuple_type.types[tuple_type.fields.index(name)]

    i, u = types.int64, types.uint64
    month = (pk, w, i, i, i)
    return [
        (paths.start_group, (pk, w, u, u, i, i)),
        (tilt.tilt_direction, (field(pk, "tilt_cum"), i, field(pk, "tilt_dir"),
                               field(w, "u_path"))),
        (paths.china_month, month),
        (paths._demand, month),
        (paths._direct_supply, month),
        (paths._makers, month),
        (paths._allocate, month),
        (paths._build_and_record, (pk, w, i, i, field(tr, "rec"))),
        (reduce.fold_month, (pk, w, tr, acc, f_rec, f_drec, i, i, i)),
        (reduce.fold_group, (pk, w, tr, acc, i)),
    ]  # fmt: skip


def compile_stages(packed) -> None:
    """Compile (or load from the cache) every stage, the last the kernel meets first."""
    for dispatcher, sig in reversed(stage_signatures(packed)):
        dispatcher.compile(sig)


@contextlib.contextmanager
def alongside(config_path, cached: bool):
    """Around the run's compile of the kernel: unless the kernel is ``cached`` or the
    machine has one core, a helper process compiles the stages meanwhile, and is stopped
    once the kernel is compiled (what it has not done by then is no longer needed). Its
    failure changes nothing: the run compiles whatever is not cached."""
    helper = None
    if not cached and _cores() >= 2:
        argv = [sys.executable, "-m", "reriskmc.compile_ahead", os.fspath(config_path)]
        with contextlib.suppress(OSError):
            helper = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
    try:
        yield helper
    finally:
        if helper is not None and helper.poll() is None:
            helper.terminate()
            try:
                helper.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()


def _cores() -> int:
    """The cores this process may run on (its affinity, where the system tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    import signal

    from .config import load_config
    from .pack import pack

    def stop(*_):
        raise _Stopped

    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGTERM, stop)
    compile_stages(pack(load_config(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
