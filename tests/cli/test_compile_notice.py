"""The compile notice: said before compiling when the cache lacks the kernel, late when
loading drags, never on a warm run; elapsed seconds while it lasts; the progress bar only
after it."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

from click.testing import CliRunner

from reriskmc import engine
from reriskmc.cli import main
from reriskmc.config import load_config
from reriskmc.progress import MESSAGE, CompileNotice, kernel_cached

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "tests" / "configs" / "good_minimal.toml"


def _notice(seconds: float, **kw) -> str:
    out = io.StringIO()
    with CompileNotice(stream=out, tick_s=0.1, late_s=0.05, **kw):
        time.sleep(seconds)
    return out.getvalue()


def test_no_kernel_in_the_cache__says_so_at_once_then_the_seconds_elapsed():
    text = _notice(0.35, cached=False, tty=False)
    lines = text.splitlines()
    assert lines[0] == MESSAGE
    ticks = [line for line in lines if line.startswith("  still compiling: ")]
    assert 2 <= len(ticks) <= 4, text  # every 0.1 s for 0.35 s
    assert lines[-1].startswith("compiled the kernel in ")


def test_no_kernel_in_the_cache__on_a_terminal_rewrites_one_line():
    text = _notice(0.25, cached=False, tty=True)
    assert text.startswith(MESSAGE) and text.count("\n") == 1 and text.endswith("\n")
    assert f"\r{MESSAGE} 0 s" in text and "\rcompiled the kernel in 0 s" in text


def test_kernel_in_the_cache__says_nothing_when_loading_is_quick():
    assert _notice(0.0, cached=True, tty=False) == ""


def test_kernel_in_the_cache_but_loading_drags__says_so_late():
    """An index of another numba or CPU: the kernel compiles after all."""
    lines = _notice(0.3, cached=True, tty=False).splitlines()
    assert lines[0] == MESSAGE and lines[-1].startswith("compiled the kernel in ")


def test_engine__compiles_inside_the_notice_and_reports_progress_only_after():
    events = []

    @contextlib.contextmanager
    def compiling():
        events.append("compile starts")
        yield
        events.append("compile ends")

    control = engine.Control(progress=events.append, compiling=compiling)
    engine.simulate(load_config(MINIMAL), 1500, 1, threads=1, block_paths=1024, control=control)
    assert events == ["compile starts", "compile ends", 0, 1024, 1500]


def test_warm_run__prints_no_compile_line(tmp_path):
    assert kernel_cached()  # compiled by the tests before this one (or an earlier run)
    result = CliRunner().invoke(
        main, ["run", str(MINIMAL), "--paths", "600", "-o", str(tmp_path / "r.nc")]
    )
    assert result.exit_code == 0, result.output
    assert "compiling" not in result.stderr and "compiled" not in result.stderr
