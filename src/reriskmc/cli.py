"""The command line (click): parses arguments, calls the API, prints. No model logic.

Heavy modules (numba kernels, xarray) are imported inside the commands, so
``reriskmc --help`` and ``reriskmc validate`` answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__


class _Fail(click.ClickException):
    """A user error: one line on stderr, exit status 2, no traceback."""

    exit_code = 2

    def show(self, file=None):
        click.echo(f"reriskmc: error: {self.format_message()}", err=True)


def _load(config_path: str):
    from .config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as e:
        raise _Fail(str(e)) from None


class _Group(click.Group):
    """Usage errors (a bad option value, a folder given as CONFIG, ...) as one line on
    stderr with exit status 2, like every other user error."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code if isinstance(e, _Fail) else 2)
        except click.exceptions.Abort:
            click.echo("reriskmc: aborted", err=True)
            sys.exit(1)


def _usage_show(self, file=None):
    hint = f" (see: {self.ctx.command_path} --help)" if self.ctx is not None else ""
    click.echo(f"reriskmc: error: {self.format_message()}{hint}", err=True)


click.UsageError.show = _usage_show  # one line instead of click's usage block


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reriskmc")
def main():
    """Monte Carlo shortfall risk of US military programmes under Chinese rare-earth
    export licensing: which programmes run short, when, by how much, how sure."""


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(),
    default=None,
    help="Result file: .nc (NetCDF, default) or .zarr. Default: results/<config name>.nc",
)
@click.option(
    "--paths",
    "n_paths",
    type=int,
    default=None,
    help="Number of Monte Carlo paths (default: the config's run.paths).",
)
@click.option(
    "--seed", type=int, default=None, help="Random seed (default: the config's run.seed)."
)
@click.option(
    "--threads", type=int, default=None, help="Worker threads (default: all CPUs available)."
)
@click.option(
    "--block",
    "block_paths",
    type=int,
    default=None,
    help="Paths per block (memory/progress granularity; results do not depend on it).",
)
@click.option(
    "--checkpoint", type=click.Path(), default=None,
    help="Folder to save the merged statistics in now and then; run again with it to go "
    "on after a crash (same result as a run never interrupted).",
)  # fmt: skip
@click.option(
    "--checkpoint-every", type=float, default=None,
    help="Seconds between checkpoints (default 30).",
)  # fmt: skip
@click.option(
    "--target-se", type=float, default=None,
    help="Stop once every headline probability's standard error is at most this; "
    "--paths is then the most.",
)  # fmt: skip
@click.option(
    "--target-rel", type=float, default=None,
    help="Stop once every headline probability above zero has a standard error at most "
    "this fraction of it; --paths is then the most.",
)  # fmt: skip
@click.option(
    "--workers", type=int, default=None,
    help="Run the blocks on a new dask cluster of this many worker processes.",
)  # fmt: skip
@click.option(
    "--scheduler", default=None,
    help="Run the blocks on the dask cluster of this scheduler (tcp://host:port).",
)  # fmt: skip
def run(config, output, n_paths, seed, threads, block_paths, **scale):
    """Simulate CONFIG and write the result dataset.

    \b
    Long runs:
      reriskmc run configs/base.toml --paths 10000000 --checkpoint ckpt/base
      reriskmc run configs/base.toml --paths 10000000 --target-se 0.001
      reriskmc run configs/base.toml --paths 10000000 --workers 4
    """
    cfg = _load(config)
    n_paths = cfg.paths if n_paths is None else n_paths
    seed = cfg.seed if seed is None else seed
    if n_paths < 2:
        raise _Fail(
            f"--paths: must be at least 2 (a standard error needs two paths), got {n_paths}"
        )
    if seed < 0 or seed >= 2**63:
        raise _Fail(f"--seed: must be between 0 and 2**63 - 1, got {seed}")
    if threads is not None and threads < 1:
        raise _Fail(f"--threads: must be at least 1, got {threads}")
    if block_paths is not None and block_paths < 1:
        raise _Fail(f"--block: must be at least 1, got {block_paths}")
    _check_scale(threads, **scale)
    from .io import OutputError, check_output_path

    try:
        out = None if output is None else check_output_path(output)
    except OutputError as e:
        raise _Fail(f"-o/--output: {e}") from None
    from . import engine

    packed = engine.prepare(cfg)
    distributed = scale["workers"] is not None or scale["scheduler"] is not None
    _check_memory(cfg, packed, 1 if distributed else threads)
    if out is None:  # the default: results/<config name>.nc, the folder made on demand
        out = Path("results") / (Path(config).stem + ".nc")
        try:
            out.parent.mkdir(exist_ok=True)
            check_output_path(out)
        except (OSError, OutputError) as e:
            raise _Fail(f"-o/--output: default {out}: {e}") from None
    job = _Job(cfg, packed, out, n_paths, seed, threads, block_paths, scale)
    _stop_on_sigterm()
    try:
        job.run()
    except KeyboardInterrupt:
        click.echo(f"reriskmc: interrupted: no result written ({out} is as it was)", err=True)
        sys.exit(130)


def _check_scale(threads, checkpoint, checkpoint_every, target_se, target_rel, workers, scheduler):
    """The options of long and distributed runs, checked before any work."""
    if checkpoint is not None and Path(checkpoint).exists() and not Path(checkpoint).is_dir():
        raise _Fail(f"--checkpoint: {checkpoint}: not a folder")
    if checkpoint_every is not None:
        if checkpoint is None:
            raise _Fail("--checkpoint-every: needs --checkpoint")
        if not checkpoint_every >= 0:
            raise _Fail(f"--checkpoint-every: must be at least 0 seconds, got {checkpoint_every}")
    if target_se is not None and target_rel is not None:
        raise _Fail("--target-se, --target-rel: give one or the other")
    for name, value in (("--target-se", target_se), ("--target-rel", target_rel)):
        if value is not None and not value > 0:
            raise _Fail(f"{name}: must be above zero, got {value}")
    if workers is not None and workers < 1:
        raise _Fail(f"--workers: must be at least 1, got {workers}")
    if workers is not None and scheduler is not None:
        raise _Fail("--workers, --scheduler: give one or the other")
    if threads is not None and (workers is not None or scheduler is not None):
        raise _Fail("--threads: not with --workers or --scheduler (a worker runs one thread)")


def _check_memory(cfg, packed, threads):
    """Refuse, before any work, a run whose working memory would not fit."""
    from . import engine

    need = engine.estimate_memory_bytes(packed, threads or engine.default_threads())
    have = engine.available_memory_bytes()
    if have is not None and need > have:
        raise _Fail(
            f"{cfg.path}: the run needs about {need / 2**30:.1f} GiB of memory "
            f"(its statistics grow with scenarios x programmes x months), "
            f"{have / 2**30:.1f} GiB is available; shorten run.months, drop "
            f"scenarios, or use fewer --threads"
        )


def _stop_on_sigterm():
    """SIGTERM stops a run like Ctrl-C: between blocks, leaving no partial output."""
    import contextlib
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not the main thread (embedded): keep the default
        signal.signal(signal.SIGTERM, handler)


class _Job:
    """One ``run``: its checkpoint, precision target and cluster set up from the options,
    the simulation, the result written, the summary printed."""

    def __init__(self, cfg, packed, out, n_paths, seed, threads, block_paths, scale):
        self.cfg, self.packed, self.out = cfg, packed, out
        self.n_paths, self.seed, self.threads = n_paths, seed, threads
        self.block_kw = {} if block_paths is None else {"block_paths": block_paths}
        self.scale = scale
        self.target = self._target()
        self.checkpoint, self.resume = self._checkpoint(block_paths)

    def _target(self):
        from .precision import Target, headline_threshold

        se, rel = self.scale["target_se"], self.scale["target_rel"]
        if se is None and rel is None:
            return None
        k = headline_threshold(len(self.cfg.slip_thresholds))
        return Target("se" if se is not None else "rel", se if se is not None else rel, k)

    def _checkpoint(self, block_paths):
        from . import engine
        from .checkpoint import Checkpoint, CheckpointError, identity

        folder = self.scale["checkpoint"]
        if folder is None:
            return None, None
        block = engine._block_size(block_paths or engine.DEFAULT_BLOCK)
        ident = identity(self.cfg, self.seed, self.n_paths, self.target, block)
        every = self.scale["checkpoint_every"]
        ckpt = Checkpoint(folder, ident, **({} if every is None else {"every_s": every}))
        try:
            ckpt.check_folder()
            return ckpt, ckpt.load()
        except CheckpointError as e:
            raise _Fail(f"--checkpoint: {e}") from None

    def _where(self) -> str:
        from . import engine

        if self.scale["scheduler"] is not None:
            return f"dask scheduler {self.scale['scheduler']}"
        if self.scale["workers"] is not None:
            return f"{self.scale['workers']} dask workers"
        return f"{self.threads or engine.default_threads()} threads"

    def run(self):
        from .compile_cache import mark_used_and_prune
        from .io import write_result
        from .results import build_dataset
        from .summary import headline_table

        most = "at most " if self.target is not None else ""
        click.echo(
            f"reriskmc {__version__}: {self.cfg.path}, {len(self.cfg.scenarios)} scenarios, "
            f"{most}{self.n_paths:,} paths, seed {self.seed}, {self._where()}",
            err=True,
        )
        if self.resume is not None:
            click.echo(
                f"going on from the checkpoint in {self.checkpoint.folder}: "
                f"{int(self.resume['done']):,} paths done",
                err=True,
            )
        stats = self._simulate()
        ds = build_dataset(self.cfg, stats, self.seed)
        if self.target is not None:
            ds.attrs.update(self.target.attrs(stats.precision))
        write_result(ds, self.out)
        if self.checkpoint is not None:
            self.checkpoint.remove()
        mark_used_and_prune()  # other versions' compiled kernels unused for 30 days go
        click.echo(headline_table(ds))
        click.echo(self._report(stats))

    def _simulate(self):
        from . import engine
        from .progress import Bar, CompileNotice, kernel_cached

        bar = Bar(self.n_paths)
        control = engine.Control(
            progress=bar, checkpoint=self.checkpoint, resume=self.resume, until=self.target,
            compiling=lambda: CompileNotice(cached=kernel_cached()),
        )  # fmt: skip
        try:
            if self.scale["workers"] is None and self.scale["scheduler"] is None:
                return engine.simulate(
                    self.cfg, self.n_paths, self.seed, threads=self.threads,
                    packed=self.packed, control=control, **self.block_kw,
                )  # fmt: skip
            return self._simulate_on_dask(control)
        finally:
            bar.close()

    def _simulate_on_dask(self, control):
        try:
            import distributed as _  # noqa: F401  (dask's)
        except ImportError:
            raise _Fail("--workers/--scheduler: needs dask: pip install 'reriskmc[dask]'") from None
        from . import distributed

        if self.scale["workers"] is not None:
            client = distributed.local_client(self.scale["workers"])
        else:
            client = distributed.connect(self.scale["scheduler"])
        try:
            return distributed.simulate(
                self.cfg, self.n_paths, self.seed, client, packed=self.packed,
                control=control, **self.block_kw,
            )  # fmt: skip
        finally:
            distributed.close(client, own_cluster=self.scale["workers"] is not None)

    def _report(self, stats) -> str:
        n = stats.n_paths
        rate = (n - self._resumed()) / stats.elapsed_s if stats.elapsed_s > 0 else float("inf")
        compiled = (
            f", after {stats.compile_s:.0f} s compiling the kernel (once: later runs load it)"
            if stats.compile_s >= 5
            else ""
        )
        lines = []
        if self.target is not None:
            kind = "standard error" if self.target.kind == "se" else "relative standard error"
            met = "reached" if self.target.met(stats.precision) else "NOT reached"
            lines.append(
                f"\ntarget {kind} {self.target.value:g} {met}: worst {stats.precision:.4g} "
                f"after {n:,} paths"
            )
        ckpt = self.checkpoint
        saved = "" if ckpt is None else f", {ckpt.saves} checkpoints ({ckpt.save_s:.1f} s)"
        lines.append(
            f"\n{n:,} paths in {stats.elapsed_s:.1f} s ({rate:,.0f} paths/s){compiled}{saved}; "
            f"wrote {self.out}"
        )
        return "".join(lines)

    def _resumed(self) -> int:
        return 0 if self.resume is None else int(self.resume["done"])


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
def validate(config):
    """Check CONFIG and say what it holds."""
    cfg = _load(config)
    b = cfg.base
    n_prog, n_src, n_ev = (len(cfg.entries(x)) for x in ("programmes", "sources", "events"))
    click.echo(
        f"{cfg.path}: ok: {len(cfg.scenarios)} scenarios ({', '.join(cfg.scenario_names)}), "
        f"{n_prog} programmes, {len(b.materials)} materials, {len(b.regimes)} regimes, "
        f"{n_src} sources, {n_ev} events, {b.n_months} months from {b.start}"
    )


@main.command()
@click.argument("result", type=click.Path(exists=True))
def summarize(result):
    """Print the headline table of a saved RESULT file."""
    from .io import OutputError, open_result
    from .summary import headline_table

    try:
        ds = open_result(result)
    except (OutputError, OSError, ValueError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "backends" in why:  # xarray: no engine recognises the file
            why = "not a NetCDF or Zarr file"
        raise _Fail(f"{result}: cannot open as a result dataset ({why})") from None
    missing = [v for v in ("p_shortfall", "units_short_cvar") if v not in ds]
    if missing:
        raise _Fail(f"{result}: not a reriskmc result (no {', '.join(missing)})")
    click.echo(headline_table(ds))


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("history", type=click.Path(dir_okay=False))
@click.option(
    "--paths", "n_paths", type=int, default=None,
    help="Monte Carlo paths of each run (default: the config's run.paths).",
)  # fmt: skip
@click.option("--seed", type=int, default=None, help="Random seed (default: the config's).")
@click.option("--threads", type=int, default=None, help="Worker threads (default: all CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def backtest(config, history, n_paths, seed, threads, as_json):
    """Score CONFIG's forecast against HISTORY, the record of what happened.

    Reports how probable the config made the realised policy path (and its percentile
    among the config's own paths), the Brier and log scores of every outcome the record
    settles against a naive "no change" baseline, and the slip outcomes again with the
    realised policy path pinned. Writes nothing.

    \b
    Example:
      reriskmc backtest configs/base.toml configs/history/2025-06_to_2026-11.toml --json
    """
    import json

    from .backtest import HistoryError, load_history, report_text
    from .backtest import backtest as run_backtest

    cfg = _load(config)
    n_paths = cfg.paths if n_paths is None else n_paths
    seed = cfg.seed if seed is None else seed
    if n_paths < 2:
        raise _Fail(f"--paths: must be at least 2, got {n_paths}")
    if seed < 0 or seed >= 2**63:
        raise _Fail(f"--seed: must be between 0 and 2**63 - 1, got {seed}")
    if threads is not None and threads < 1:
        raise _Fail(f"--threads: must be at least 1, got {threads}")
    try:
        res = run_backtest(cfg, load_history(history), n_paths, seed, threads)
    except HistoryError as e:
        raise _Fail(str(e)) from None
    click.echo(json.dumps(res.as_json(), indent=1) if as_json else report_text(res))


if __name__ == "__main__":  # pragma: no cover
    main()
