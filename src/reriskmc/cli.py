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
        except click.exceptions.Abort as e:
            if isinstance(e.__cause__, KeyboardInterrupt):  # Ctrl-C: the shell's convention
                click.echo("reriskmc: interrupted", err=True)
                sys.exit(130)
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


def _compiling(config_path, here: bool = True):
    """Around compiling (or loading) the kernel: a line saying so, and when it compiles
    ``here`` (on this machine: not on a cluster's workers) on a cold cache, a helper
    process compiling its stages meanwhile (``compile_ahead``)."""
    import contextlib

    from .compile_ahead import alongside
    from .progress import CompileNotice, kernel_cached

    cached = kernel_cached()
    stack = contextlib.ExitStack()
    stack.enter_context(CompileNotice(cached=cached))
    stack.enter_context(alongside(config_path, cached or not here))
    return stack


def _compile_first(cfg) -> None:
    """Compile the kernel before a command whose work compiles it on the way (when it is
    not cached), so that the user is told and a helper shares the work."""
    from .progress import kernel_cached

    if kernel_cached():
        return
    from .pack import pack
    from .tail import compile_kernel

    with _compiling(cfg.path):
        compile_kernel(pack(cfg))


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
        from .precision import Target
        from .summary import headline_threshold

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
        from .progress import Bar

        bar = Bar(self.n_paths)
        control = engine.Control(
            progress=bar, checkpoint=self.checkpoint, resume=self.resume, until=self.target,
            compiling=lambda: _compiling(self.cfg.path, here=self.scale["scheduler"] is None),
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
    from .summary import headline_table

    click.echo(headline_table(_open_result(result)))


#: what the headline table reads (summarize, report)
HEADLINE_NEEDS = (
    "p_slip", "p_slip_se", "delta_p_slip", "delta_p_slip_se", "slip_months_cvar",
    "p_stock_exhausted", "shortfall_t_mean", "delta_shortfall_t_mean",
)  # fmt: skip
#: what the figures read (plot, report)
PLOT_NEEDS = (
    "slip_months_quantile", "slip_months_mean", "slip_months_peak_quantile", "p_slip",
    "p_stock_exhausted", "p_regime",
)  # fmt: skip


def _open_result(result: str, needs=HEADLINE_NEEDS):
    """The result Dataset in RESULT, or a one-line error if it is not one (or lacks a
    variable the command reads: a file of an older version)."""
    from .io import OutputError, open_result

    try:
        ds = open_result(result)
    except (OutputError, OSError, ValueError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "backends" in why:  # xarray: no engine recognises the file
            why = "not a NetCDF or Zarr file"
        raise _Fail(f"{result}: cannot open as a result dataset ({why})") from None
    missing = [v for v in needs if v not in ds]
    if missing or "scenario" not in ds.dims or "month" not in ds.dims:
        what = ", ".join(missing) or "scenario or month dimension"
        raise _Fail(f"{result}: not a reriskmc result, or one of an older version (no {what})")
    return ds


@main.command()
@click.argument("result", type=click.Path(exists=True))
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Scenario A (repeatable; default: every scenario but B).",
)
@click.option("--against", default=None, help="Scenario B (default: the base).")
@click.option(
    "--metric",
    default="p_slip",
    show_default=True,
    help="p_slip, slip_months_mean, share_missed_mean, p_shortfall, "
    "units_short_mean, shortfall_t_mean, p_stock_exhausted (per material), p_regime.",
)
@click.option(
    "--threshold", type=float, default=None, help="Slip threshold of p_slip, months (default 3)."
)
@click.option("--month", default=None, help="YYYY-MM (default: the last month).")
@click.option("--programme", "programmes", multiple=True, help="Only this programme (repeatable).")
@click.option("--material", "materials", multiple=True, help="Only this material (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def compare(result, scenarios, against, metric, threshold, month, programmes, materials, as_json):
    """Paired difference A - B of a metric per programme (material) in RESULT.

    Prints, for each scenario A against B, A, B, their difference, a 95% interval, its
    paired standard error (the same paths in every scenario: common random numbers), the
    standard error two independent runs would give, sqrt(se_A^2 + se_B^2), and the ratio
    of the two. Probabilities read in percentage points, slip in months.

    The result holds each scenario's paired difference from the base with its exact
    standard error. For A against B, neither of them the base, A - B is exact but its
    standard error is not in the file: the command reports the upper bound
    se(A - B) <= min(se(A - base) + se(B - base), se(A) + se(B)) (Minkowski
    inequality), marked "<=" (in JSON "se_bound": true); its interval is conservative.

    \b
    Example:
      reriskmc compare results/base.nc --scenario talks_breakdown --metric slip_months_mean
    """
    import json

    from .compare import METRICS, CompareError, compare_text
    from .compare import compare as run_compare

    read = (metric, f"{metric}_se", f"delta_{metric}", f"delta_{metric}_se")
    ds = _open_result(result, needs=read if metric in METRICS else ("p_slip",))
    try:
        res = run_compare(ds, list(scenarios), against, metric, threshold, month,
                          list(programmes), list(materials))  # fmt: skip
    except CompareError as e:
        raise _Fail(str(e)) from None
    click.echo(json.dumps(res.as_json(), indent=1) if as_json else compare_text(res))


def _default_beside(result: str, suffix: str) -> Path:
    """results/<result stem><suffix>, the folder made on demand."""
    out = Path("results") / (Path(result).stem + suffix)
    try:
        out.parent.mkdir(exist_ok=True)
    except OSError as e:
        raise _Fail(f"-o/--output: default {out}: {e.strerror or e}") from None
    return out


@main.command()
@click.argument("result", type=click.Path(exists=True))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the figures (default: results/<result name>_plots/).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "svg"]),
    default="png",
    show_default=True,
    help="Image format.",
)
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    help="Draw the fan chart and regimes of this scenario (repeatable; default: "
    "the base) and show only it and the base in the by-scenario figures.",
)
def plot(result, out_dir, fmt, scenarios):
    """Figures of RESULT: fan charts of slip per programme, risk curves of a slip of more
    than 3 months by scenario, exceedance curves of the peak slip, stock exhaustion per
    material, and policy-regime occupancy. Prints the files written."""
    from .plot import PlotError, write_plots

    ds = _open_result(result, needs=PLOT_NEEDS)
    out = Path(out_dir) if out_dir else _default_beside(result, "_plots")
    try:
        written = write_plots(ds, out, fmt, list(scenarios))
    except PlotError as e:
        raise _Fail(str(e)) from None
    except OSError as e:
        raise _Fail(f"-o/--output: {out}: {e.strerror or e}") from None
    for path in written:
        click.echo(str(path))


@main.command()
@click.argument("result", type=click.Path(exists=True))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Path(dir_okay=False),
    default=None,
    help="The HTML file (default: results/<result name>_report.html).",
)
def report(result, output):
    """One self-contained HTML page of RESULT: the headline table, every scenario
    against the base with paired 95% intervals, the figures (embedded), the model's
    assumptions and the run's provenance. No script, no network needed to read it."""
    from .report import write_report

    ds = _open_result(result, needs=HEADLINE_NEEDS + PLOT_NEEDS)
    out = Path(output) if output else _default_beside(result, "_report.html")
    try:
        write_report(ds, out)
    except OSError as e:
        raise _Fail(f"-o/--output: {out}: {e.strerror or e}") from None
    click.echo(f"wrote {out}")


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
        history = load_history(history)
    except HistoryError as e:
        raise _Fail(str(e)) from None
    _compile_first(cfg)
    try:
        res = run_backtest(cfg, history, n_paths, seed, threads)
    except HistoryError as e:
        raise _Fail(str(e)) from None
    click.echo(json.dumps(res.as_json(), indent=1) if as_json else report_text(res))


def _check_run_options(n_paths, seed, threads) -> None:
    if n_paths < 2:
        raise _Fail(f"--paths: must be at least 2, got {n_paths}")
    if seed < 0 or seed >= 2**63:
        raise _Fail(f"--seed: must be between 0 and 2**63 - 1, got {seed}")
    if threads is not None and threads < 1:
        raise _Fail(f"--threads: must be at least 1, got {threads}")


def _check_programmes(cfg, names) -> None:
    known = [p.name for p in cfg.base.programmes]
    for name in names:
        if name not in known:
            from difflib import get_close_matches

            near = get_close_matches(name, known, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise _Fail(
                f"--programme: unknown programme '{name}'{hint}; defined: {', '.join(known)}"
            )


def _variant_progress(label: str):
    """A progress bar over generated scenarios on a terminal, else nothing."""
    if not sys.stderr.isatty():
        return None, None
    bar = click.progressbar(length=1, label=label, file=sys.stderr, show_pos=True)
    bar.__enter__()
    done = [0]

    def progress(n, total):
        bar.length = total
        bar.update(n - done[0])
        done[0] = n

    return progress, bar


_METRIC_OPTION = click.option(
    "--metric",
    type=click.Choice(["p_slip", "p_shortfall", "slip_mean"]),
    default="p_slip",
    show_default=True,
    help="p_slip: P(slip > --threshold months by the horizon); p_shortfall: P(behind "
    "schedule at least once by the horizon); slip_mean: mean slip at the horizon, months.",
)
_THRESHOLD_OPTION = click.option(
    "--threshold", type=float, default=3.0, show_default=True,
    help="Slip threshold of p_slip, months (need not be one of run.slip_thresholds).",
)  # fmt: skip


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@_METRIC_OPTION
@click.option(
    "--programme",
    default=None,
    help="Programme whose metric is analysed (default: the most at risk in the base).",
)
@_THRESHOLD_OPTION
@click.option(
    "--paths",
    "n_paths",
    type=int,
    default=1000,
    show_default=True,
    help="Monte Carlo paths of each design scenario.",
)
@click.option(
    "--samples",
    "n_samples",
    type=int,
    default=128,
    show_default=True,
    help="Rows N of the pick-freeze design: N x (groups + 2) design scenarios.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the config's).")
@click.option(
    "--group-by",
    type=click.Choice(["auto", "parameter", "entry"]),
    default="auto",
    show_default=True,
    help="One index per parameter, or per config entry (a source, a programme, a "
    "material ...); auto: per entry above 12 parameters.",
)
@click.option("--threads", type=int, default=None, help="Worker threads (default: all CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write a tornado chart to this file (.png, .svg or .pdf).")  # fmt: skip
def sensitivity(config, metric, programme, threshold, n_paths, n_samples, seed, group_by,
                threads, as_json, plot):  # fmt: skip
    """Rank CONFIG's uncertain parameters by their effect on a programme's tail metric.

    First-order and total Sobol indices, with 95% bootstrap intervals, of the metric to
    each distribution-valued parameter of the base (or group of them, per config entry),
    from a pick-freeze design whose points are scenarios run with common random numbers
    (docs/sensitivity.md). The default run of configs/base.toml takes about 3 minutes
    on 2 cores; --samples sets the precision of the indices, --paths the Monte Carlo
    noise of each design point.

    \b
    Example:
      reriskmc sensitivity configs/base.toml --programme f35 --plot f35.png
    """
    import json

    from .config import ConfigError
    from .variants import Metric

    cfg = _load(config)
    seed = cfg.seed if seed is None else seed
    _check_run_options(n_paths, seed, threads)
    if n_samples < 2:
        raise _Fail(f"--samples: must be at least 2, got {n_samples}")
    if not threshold > 0:
        raise _Fail(f"--threshold: must be > 0 months, got {threshold:g}")
    _check_programmes(cfg, [] if programme is None else [programme])
    if plot is not None:
        _check_plot_path(plot)
    from .sensitivity import report_text
    from .sensitivity import sensitivity as run_sensitivity

    _compile_first(cfg)
    progress, bar = _variant_progress("design scenarios")
    try:
        res = run_sensitivity(
            cfg, metric=Metric(metric, threshold), programme=programme, n_samples=n_samples,
            n_paths=n_paths, seed=seed, group_by=group_by, threads=threads, progress=progress,
        )  # fmt: skip
    except (ConfigError, ValueError) as e:
        raise _Fail(f"{cfg.path}: {e}" if isinstance(e, ValueError) else str(e)) from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    from .sensitivity import as_json as result_json

    click.echo(json.dumps(result_json(res), indent=1) if as_json else report_text(res))
    if plot is not None:  # after the result is shown: a failed chart does not lose it
        from .tornado import write_tornado

        try:
            write_tornado(res, plot)
        except OSError as e:
            raise _Fail(f"--plot: {plot}: {e.strerror or e}") from None


@main.command("size-stockpile")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--material", required=True, help="The magnet whose stockpile is sized.")
@click.option(
    "--target",
    type=float,
    required=True,
    help="The most the metric may be, a probability in (0, 1), e.g. 0.05.",
)
@click.option(
    "--metric",
    type=click.Choice(["p_slip", "p_shortfall"]),
    default="p_slip",
    show_default=True,
    help="p_slip: P(slip > --threshold months by the horizon); p_shortfall: "
    "P(behind schedule at least once by the horizon).",
)
@click.option(
    "--programmes",
    default="dx",
    show_default=True,
    help="dx (the DX-rated programmes), all, or names separated by commas; the "
    "metric is the worst (maximum) over them, not P(any of them), which needs "
    "joint per-path outcomes the run does not keep.",
)
@_THRESHOLD_OPTION
@click.option(
    "--paths",
    "n_paths",
    type=int,
    default=20_000,
    show_default=True,
    help="Monte Carlo paths of each stock level.",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: the config's).")
@click.option("--threads", type=int, default=None, help="Worker threads (default: all CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def size_stockpile(config, material, target, metric, programmes, threshold, n_paths, seed,
                   threads, as_json):  # fmt: skip
    """The smallest National Defense Stockpile of a magnet keeping a tail metric at or
    below a target.

    Stock levels (materials.M.stockpile.stockpile_t, released by the config's release
    rule) are scenarios of one config run with common random numbers; a coarse grid
    from zero to all the rule can release over the horizon, then finer grids around
    the target. Prints the answer in tonnes and months, the metric's SE there and the
    range of levels where the target is within 2 SE. If even the most that can be
    released misses the target, says so on one line and exits with status 1.

    \b
    Example:
      reriskmc size-stockpile configs/base.toml --material smco --target 0.5
    """
    import json

    from .config import ConfigError
    from .stockpile_sizing import (
        SizingError,
        check_material,
        choose_programmes,
        report_text,
        unattainable_message,
    )
    from .stockpile_sizing import as_json as result_json
    from .stockpile_sizing import size_stockpile as run_sizing
    from .variants import Metric

    cfg = _load(config)
    seed = cfg.seed if seed is None else seed
    _check_run_options(n_paths, seed, threads)
    if not 0.0 < target < 1.0:
        raise _Fail(f"--target: must be a probability strictly between 0 and 1, got {target:g}")
    if not threshold > 0:
        raise _Fail(f"--threshold: must be > 0 months, got {threshold:g}")
    for option, check, value in (("--material", check_material, material),
                                 ("--programmes", choose_programmes, programmes)):  # fmt: skip
        try:
            check(cfg, value)
        except SizingError as e:
            raise _Fail(f"{option}: {e}") from None
    _compile_first(cfg)
    try:
        res = run_sizing(
            cfg, material, target, metric=Metric(metric, threshold), programmes=programmes,
            n_paths=n_paths, seed=seed, threads=threads,
        )  # fmt: skip
    except (SizingError, ConfigError) as e:
        raise _Fail(str(e)) from None
    click.echo(json.dumps(result_json(res), indent=1) if as_json else report_text(res))
    if not res.attainable:
        click.echo(f"reriskmc: {cfg.path}: {unattainable_message(res)}", err=True)
        sys.exit(1)


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--programme", required=True, help="The programme whose tail is estimated.")
@click.option(
    "--threshold", type=float, default=None,
    help="Slip threshold, months: one of run.slip_thresholds (default: the middle one).",
)  # fmt: skip
@click.option("--month", default=None, help="By this month, YYYY-MM (default: the horizon's last).")
@click.option(
    "--paths", "n_paths", type=int, default=None,
    help="Monte Carlo paths after the pilot (default: the config's run.paths).",
)  # fmt: skip
@click.option(
    "--pilot", "n_pilot", type=int, default=None,
    help="Plain paths the proposal is fitted to (default: 8,192).",
)  # fmt: skip
@click.option("--plain", is_flag=True, help="No importance sampling: every weight 1.")
@click.option("--seed", type=int, default=None, help="Random seed (default: the config's).")
@click.option("--threads", type=int, default=None, help="Worker threads (default: all CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def tail(config, programme, threshold, month, n_paths, n_pilot, plain, seed, threads, as_json):
    """The chance of a rare slip, by importance sampling.

    Estimates, in every scenario, the chance that the --programme slips more than
    --threshold months at least once by --month, with its paired difference from the
    base, and the weighted quantiles and CVaR of its peak slip. A pilot of plain paths
    fits a proposal for the draws that make the slip likely (uncertain parameters,
    qualification, waivers, and the regime chain) by the cross-entropy method; every
    path then carries its likelihood ratio, so the estimates stay unbiased. The
    variance ratio column says how many times the paths plain sampling would need to
    match it. Writes nothing (docs/tail.md).

    \b
    Example:
      reriskmc tail configs/base.toml --programme jdam --paths 100000
    """
    import json

    from . import tail as tails
    from .engine import default_threads
    from .summary import headline_threshold

    cfg = _load(config)
    n_paths = cfg.paths if n_paths is None else n_paths
    seed = cfg.seed if seed is None else seed
    _check_run_options(n_paths, seed, threads)
    n_pilot = tails.DEFAULT_PILOT if n_pilot is None else n_pilot
    if n_pilot < 2 and not plain:
        raise _Fail(f"--pilot: must be at least 2, got {n_pilot}")
    _check_programmes(cfg, [programme])
    if threshold is None:
        threshold = cfg.slip_thresholds[headline_threshold(len(cfg.slip_thresholds))]
    try:
        question = tails.question(cfg, programme, threshold, month)
    except ValueError as e:
        option = "--threshold" if "threshold" in str(e) else "--month"
        raise _Fail(f"{option}: {e}") from None
    from .pack import pack
    from .progress import Bar

    packed, threads = pack(cfg), threads or default_threads()
    with _compiling(cfg.path):
        tails.compile_kernel(packed, threads)
    bar = Bar(n_paths)
    try:
        res = tails.estimate(
            cfg, question, n_paths, seed, n_pilot=n_pilot, plain=plain, threads=threads,
            packed=packed, progress=bar,
        )  # fmt: skip
    finally:
        bar.close()
    click.echo(json.dumps(tails.as_json(res), indent=1) if as_json else tails.report_text(res))


def _check_plot_path(plot: str) -> None:
    p = Path(plot)
    if p.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise _Fail(f"--plot: {plot}: unknown suffix '{p.suffix}'; use .png, .svg or .pdf")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise _Fail(f"--plot: {plot}: the folder {parent} does not exist")


if __name__ == "__main__":  # pragma: no cover
    main()
