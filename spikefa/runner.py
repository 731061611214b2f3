"""Run a model file end to end: validate, open the run file, run the experiment, summarise.

The runner owns everything around an experiment: output path checks before any work, the run
file's status on every way out (finished, interrupted by Ctrl-C or SIGTERM, diverged, failed),
and the summary table. Experiments only compute and write results.

Stopping: Ctrl-C and SIGTERM only ask the run to stop (:mod:`spikefa.stop`); experiments stop at
their next stop point (between compiled blocks of the spiking network, at each progress-bar
update of the others), where a checkpoint can be written and no write is cut in half.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from . import experiments, stop
from .config import Model, load_model
from .errors import ConfigError, DivergenceError, OutputError, SpikefaError
from .stop import Interrupted, Terminated  # noqa: F401  (Terminated: the CLI's exit code 143)
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

    bars: list = field(default_factory=list)

    def progress(self, total=None, desc="", unit="it", **kw):
        """A progress bar whose update() is a stop point: experiments update it between blocks."""
        b = StopPointBar(bar(total=total, desc=desc, unit=unit, enabled=self.show_progress, **kw))
        self.bars.append(b)
        return b

    def close_bars(self) -> None:
        """Close every bar an experiment left open, so that nothing redraws one after this."""
        for b in self.bars:
            b.close()
        self.bars.clear()

    def checkpoint_path(self) -> str:
        """Where checkpoints go: beside the run file, same stem."""
        stem, _ = os.path.splitext(self.out_path)
        return stem + ".ckpt.h5"


class StopPointBar:
    """A progress bar (tqdm or Heartbeat) that is also a stop point: while it is open a first
    Ctrl-C or SIGTERM only asks to stop, and update() stops the run (stop.check) when asked."""

    def __init__(self, inner):
        self._inner = inner
        self._polling = stop.polling()
        self._polling.__enter__()
        self._open = True

    def update(self, n=1):
        self._inner.update(n)
        stop.check()

    def close(self):
        if self._open:
            self._open = False
            self._polling.__exit__(None, None, None)
        self._inner.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __getattr__(self, name):
        return getattr(self._inner, name)


def default_out_path(model: Model) -> str:
    """runs/<model>-seed<N>-<time>.h5, with -2, -3 ... when a run started in the same second has it."""
    stem = os.path.splitext(os.path.basename(str(model.source)))[0] or model.experiment
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    seed = model.params.get("seed")
    tail = f"-seed{seed}" if seed is not None else ""
    base = os.path.join("runs", f"{stem}{tail}-{stamp}")
    path, k = base + ".h5", 1
    while os.path.exists(path) or os.path.exists(path + ".lock"):
        k += 1
        path = f"{base}-{k}.h5"
    return path


def check_resume(resume: str, out_path: str) -> None:
    """Before any work: --resume names a checkpoint, and the run writes neither over it nor over
    the run file it continues."""
    if not os.path.isfile(resume):
        raise ConfigError(f"--resume {resume}: no such checkpoint; give the .ckpt.h5 file written beside an "
                          f"earlier run file")
    same = os.path.exists(out_path) and os.path.samefile(resume, out_path)
    if same or os.path.abspath(resume) == os.path.abspath(out_path):
        raise ConfigError(f"--out {out_path} is the checkpoint given to --resume; the resumed run writes a "
                          f"new run file: choose another --out")
    stem = resume[:-len(".ckpt.h5")] if resume.endswith(".ckpt.h5") else None
    if stem and os.path.abspath(stem + ".h5") == os.path.abspath(out_path):
        raise ConfigError(f"--out {out_path} is the run file that wrote the checkpoint {resume}; the resumed "
                          f"run continues it in a new file (the reader joins both): choose another --out")
    if _is_run_file(resume):
        ckpt = os.path.splitext(resume)[0] + ".ckpt.h5"
        there = f" ({ckpt} is beside it)" if os.path.isfile(ckpt) else ""
        raise ConfigError(f"--resume {resume}: is a run file, not a checkpoint; pass its checkpoint "
                          f"RUN.ckpt.h5{there}")


def _is_run_file(path: str) -> bool:
    try:
        from .runfile import open_read

        with open_read(path) as h5:
            return "experiment" in h5.attrs and "status" in h5.attrs
    except (SpikefaError, OSError):
        return False


LARGE_FOLDER_BYTES = 1 << 30


def folder_bytes(folder: str) -> int:
    """Bytes in the files directly in ``folder`` (not below: --out may sit in a large tree)."""
    total = 0
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                try:
                    if e.is_file(follow_symlinks=False):
                        total += e.stat(follow_symlinks=False).st_size
                except OSError:
                    pass
    except OSError:
        pass
    return total


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
    if resume:
        check_resume(resume, out_path)
    module = experiments.get(model.experiment)
    ctx = RunContext(model=model, quick=quick, resume=resume, out_path=out_path, show_progress=show_progress)
    t0 = time.perf_counter()
    # the whole run polls: a first signal never lands inside an HDF5 call (creating the file,
    # closing it with its status); the experiment stops at its next stop point
    with stop.handling_signals(), stop.polling():
        out = RunFile(out_path, model)
        try:
            rows = module.run(model.params, out, ctx)
        except DivergenceError as exc:
            out.set_status("diverged", str(exc))
            out.close()
            raise SpikefaError(f"{exc} (results up to then are kept in {out_path})") from None
        except KeyboardInterrupt as exc:
            how = exc.signal_name if isinstance(exc, Interrupted) else "Ctrl-C"
            out.set_status("interrupted", f"stopped by {how}")
            out.close()
            ctx.log(f"interrupted: results so far kept in {out_path}{_resume_hint(ctx)}")
            raise
        except SpikefaError as exc:
            _close_failed(out, str(exc))
            raise
        except BaseException as exc:
            _close_failed(out, repr(exc))
            raise
        finally:
            ctx.close_bars()          # a bar left open would share its line with what is printed next
        stopped = stop.requested()    # a stop asked for as the experiment returned: it has finished
        _finish(out, rows, t0)
    _say_if_folder_is_large(out_path, ctx.log)
    if stopped:
        ctx.log(f"{stopped} came as the run finished; its results are complete in {out_path}")
        raise (Terminated if stopped == "SIGTERM" else Interrupted)()
    rows = _as_rows(rows)
    wall = time.perf_counter() - t0
    if echo:
        title = model.title or model.experiment
        sys.stderr.flush()     # the last progress line is done before the table starts
        print(format_table(rows, f"{title}  ({wall:.1f} s)"))
        print(f"results: {out_path}")
        print(f"next: spikefa plot {shlex.quote(out_path)}   (its figures; --list says which it has)")
    return out_path, rows


def _as_rows(rows) -> list[dict]:
    if isinstance(rows, dict):
        rows = [rows]
    return rows or []


def _finish(out: RunFile, rows, t0: float) -> None:
    """Write the summary and status 'finished', and close the file."""
    rows = _as_rows(rows)
    wall = time.perf_counter() - t0
    for i, row in enumerate(rows):
        prefix = "" if len(rows) == 1 else f"{i}."
        out.set_summary(**{prefix + str(k): v for k, v in row.items()})
    out.set_summary(wall_time_s=wall)
    out.set_status("finished")
    out.close()


def _resume_hint(ctx: RunContext) -> str:
    # a resumed run interrupted before its first checkpoint can go on from the one it resumed from
    for ckpt in (ctx.checkpoint_path(), ctx.resume):
        if ckpt and os.path.exists(ckpt):
            return f"; continue with --resume {ckpt} --out NEW.h5"
    return ""


def _close_failed(out: RunFile, message: str) -> None:
    """Close a failed run's file; one that holds nothing computed is removed (it would only clutter)."""
    if out.holds_data or out.broken:
        out.set_status("failed", message)
        out.close()
    else:
        out.discard()


def _say_if_folder_is_large(out_path: str, log) -> None:
    folder = os.path.dirname(os.path.abspath(out_path))
    size = folder_bytes(folder)
    if size >= LARGE_FOLDER_BYTES:
        log(f"note: {folder} now holds {size / 1e9:.1f} GB of run files and checkpoints")


def run_file(path: str | None, out_path: str | None = None, *, quick=False, seed=None, overrides=None,
             resume=None, show_progress=True, echo=True):
    """Load and run a model file (the embedded default when ``path`` is None)."""
    model = load_model(path or DEFAULT_MODEL, quick=quick, seed=seed, overrides=overrides,
                       catalogue=experiments)
    return run_model(model, out_path, quick=quick, resume=resume, show_progress=show_progress, echo=echo)
