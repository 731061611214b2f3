"""Run a model file end to end: validate, open the run file, run the experiment, summarise.

The runner owns everything around an experiment: output path checks before any work, the run
file's status on every way out (finished, interrupted by Ctrl-C or SIGTERM, diverged, failed),
and the summary table. Experiments only compute and write results.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from . import experiments
from .config import Model, load_model
from .errors import DivergenceError, OutputError, SpikefaError
from tqdm import tqdm

from .progress import bar, format_table
from .runfile import RunFile, check_writable

DEFAULT_MODEL = os.path.join(os.path.dirname(__file__), "models", "default.toml")


@dataclass
class RunContext:
    """What an experiment may use besides its parameters."""

    model: Model
    quick: bool = False
    resume: str | None = None          # checkpoint to resume from
    out_path: str = ""
    show_progress: bool = True
    log: Callable[[str], None] = field(default=lambda msg: tqdm.write(msg, file=sys.stderr))

    def progress(self, total=None, desc="", unit="it", **kw):
        return bar(total=total, desc=desc, unit=unit, enabled=self.show_progress, **kw)

    def checkpoint_path(self) -> str:
        """Where checkpoints go: beside the run file, same stem."""
        stem, _ = os.path.splitext(self.out_path)
        return stem + ".ckpt.h5"


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a batch scheduler's stop): handled as Ctrl-C is, so the run file is
    closed with its status and a checkpoint to resume from is named."""


@contextlib.contextmanager
def _sigterm_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        yield              # sweep workers: signals reach only the main thread
        return

    def stop(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def default_out_path(model: Model) -> str:
    stem = os.path.splitext(os.path.basename(str(model.source)))[0] or model.experiment
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    seed = model.params.get("seed")
    tail = f"-seed{seed}" if seed is not None else ""
    return os.path.join("runs", f"{stem}{tail}-{stamp}.h5")


def make_out_folder(folder: str) -> None:
    """Create an output folder, or say in one line why it cannot be (a read-only working directory)."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        where = os.path.abspath(folder)
        raise OutputError(f"cannot create the output folder {where} ({exc.strerror or exc}); run from a "
                          f"writable folder or choose another --out") from None
    if not os.access(folder, os.W_OK):
        raise OutputError(f"the output folder {os.path.abspath(folder)} is not writable; run from a writable "
                          f"folder or choose another --out")


def check_out_file(path: str) -> None:
    """Before any work: ``path`` can become a run file (not a folder, not a device such as /dev/null)."""
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file name ending in .h5 for --out")
    if os.path.exists(path) and not os.path.isfile(path):
        raise OutputError(f"{path}: not a regular file (a device or pipe cannot hold a run file); give a file "
                          f"name ending in .h5 for --out")
    check_writable(path)


def run_model(model: Model, out_path: str | None = None, *, quick: bool = False, resume: str | None = None,
              show_progress: bool = True, echo: bool = True) -> tuple[str, list[dict]]:
    """Run ``model``; return the run file's path and the summary rows.

    Raises SpikefaError subclasses for problems a user can fix; the run file is closed with its
    status set whatever happens, so everything computed so far is kept.
    """
    if out_path is None:
        out_path = default_out_path(model)
        make_out_folder(os.path.dirname(out_path))
    check_out_file(out_path)
    module = experiments.get(model.experiment)
    ctx = RunContext(model=model, quick=quick, resume=resume, out_path=out_path, show_progress=show_progress)
    t0 = time.perf_counter()
    out = RunFile(out_path, model)
    with _sigterm_as_interrupt():
        try:
            rows = module.run(model.params, out, ctx)
        except DivergenceError as exc:
            out.set_status("diverged", str(exc))
            out.close()
            raise SpikefaError(f"{exc} (results up to then are kept in {out_path})") from None
        except KeyboardInterrupt as exc:
            how = "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"
            out.set_status("interrupted", f"stopped by {how}")
            out.close()
            resume = ""
            if os.path.exists(ctx.checkpoint_path()):
                resume = f"; continue with --resume {ctx.checkpoint_path()} --out NEW.h5"
            ctx.log(f"interrupted: results so far kept in {out_path}{resume}")
            raise
        except SpikefaError as exc:
            out.set_status("failed", str(exc))
            out.close()
            raise
        except BaseException as exc:
            out.set_status("failed", repr(exc))
            out.close()
            raise
    if isinstance(rows, dict):
        rows = [rows]
    rows = rows or []
    wall = time.perf_counter() - t0
    for i, row in enumerate(rows):
        prefix = "" if len(rows) == 1 else f"{i}."
        out.set_summary(**{prefix + str(k): v for k, v in row.items()})
    out.set_summary(wall_time_s=wall)
    out.set_status("finished")
    out.close()
    if echo:
        title = model.title or model.experiment
        sys.stderr.flush()     # the last progress line is done before the table starts
        print(format_table(rows, f"{title}  ({wall:.1f} s)"))
        print(f"results: {out_path}")
        print(f"next: spikefa plot {shlex.quote(out_path)}   (its figures; --list says which it has)")
    return out_path, rows


def run_file(path: str | None, out_path: str | None = None, *, quick=False, seed=None, overrides=None,
             resume=None, show_progress=True, echo=True):
    """Load and run a model file (the embedded default when ``path`` is None)."""
    model = load_model(path or DEFAULT_MODEL, quick=quick, seed=seed, overrides=overrides)
    return run_model(model, out_path, quick=quick, resume=resume, show_progress=show_progress, echo=echo)
