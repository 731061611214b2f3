"""What a figure is drawn from: one run file, a run and its resumed continuations, or a sweep.

``resolve(args)`` takes what ``spikefa plot`` was given:
- one run file: that file, joined with the files that continue it or that it continues, found
  the way the rest of the package names them: a sweep's resumed attempts beside it
  (``x.h5``, ``x.r1.h5``, ``x.r2.h5``: ``spikefa.sweep.attempt_paths``) and the ``continues``
  attribute a resumed run's recordings carry (``open_run(..., follow=True)``);
- several run files: one run, joined in the order given (``spikefa plot RUN.h5 NEW.h5``);
- a sweep folder (one holding ``sweep.json``): every task's run (its attempts joined), grouped by
  the swept values, each task a seed.
A single file without continuations stays a plain path. Anything joined is a :class:`Source`: a
``str`` (the name figures' messages use) that opens as an in-memory HDF5 file laid out like a run
file (``/metrics``, ``/results``, ``/summary``, attributes), so every figure kind reads it as it
reads one run file.

Joining a run (no gap, no repeat) and merging seeds: :mod:`spikefa.runfile.merge`.

A sweep: ``/metrics/<values>/seed<k>/...`` per task, where ``<values>`` names the swept values
(``tau=0.5``; the arm is appended, ``tau=0.5/fa``, when the runs have several arms or not the
same one); the curves then show, per swept value, the mean over its seeds and their spread.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from ..errors import DataError
from ..runfile import open_read
from ..runfile.merge import add_seeds, copy_attrs, memory_file, open_chain
from ..runfile.series import arms, confusion_groups

SWEEP_INDEX = "sweep.json"


class Source(str):
    """A joined source of figures: its ``str`` is its name; ``chain`` the run files of a run joined
    in order, or ``sweep`` the sweep folder."""

    chain: list
    sweep: str | None

    def __new__(cls, name: str, chain=(), sweep: str | None = None):
        self = super().__new__(cls, name)
        self.chain = [os.fspath(p) for p in chain]
        self.sweep = sweep
        return self

    def open(self) -> h5py.File:
        return open_sweep(self.sweep) if self.sweep else open_chain(self.chain)

    def out_dir(self) -> str:
        """Where its figures go by default: SWEEP/figures/, or RUN_figures/ for the run's first file."""
        if self.sweep:
            return os.path.join(self.sweep, "figures")
        return os.path.splitext(self.chain[0])[0] + "_figures"


def is_sweep(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, SWEEP_INDEX))


def resolve(args) -> str:
    """A plain path, or a :class:`Source` for anything joined (module doc)."""
    if isinstance(args, Source):
        return args
    if isinstance(args, (str, os.PathLike)):
        args = [os.fspath(args)]
    args = [os.fspath(a) for a in args]
    if not args:
        raise DataError("give a run file (RUN.h5), a run and its continuations, or a sweep folder")
    if len(args) == 1:
        path = args[0]
        if os.path.isdir(path):
            if not is_sweep(path):
                raise DataError(f"{path}: a folder without {SWEEP_INDEX}; give a run file (.h5) or the --out "
                                f"folder of a sweep")
            return Source(path, sweep=path)
        chain = continuation_chain(path)
        return path if len(chain) == 1 else Source(" + ".join(chain), chain=chain)
    for a in args:
        if os.path.isdir(a):
            raise DataError(f"{a}: a folder; several arguments are the files of one run, oldest first")
    return Source(" + ".join(args), chain=args)


def continuation_chain(path: str) -> list[str]:
    """``path`` with the files it continues before it and those continuing it after it."""
    from ..sweep import attempt_paths

    if not os.path.isfile(path):
        return [path]
    chain = [os.path.normpath(p) for p in attempt_paths(path) if os.path.isfile(p)]
    if not any(os.path.samefile(p, path) for p in chain):
        chain = [path]
    first = chain[0]
    while True:                                  # what the first file continues (resumed recordings)
        prev = _continues(first)
        if not prev or any(os.path.samefile(prev, p) for p in chain):
            break
        chain.insert(0, prev)
        first = prev
    return chain


def _continues(path: str) -> str:
    try:
        with open_read(path) as h5:
            prev = h5["recordings"].attrs.get("continues", "") if "recordings" in h5 else ""
    except Exception:            # an unreadable file is reported when it is read, not here
        return ""
    prev = prev.decode() if isinstance(prev, bytes) else str(prev)
    if prev and not os.path.isabs(prev):
        prev = os.path.join(os.path.dirname(path), prev)
    return prev if prev and os.path.isfile(prev) else ""


def open_sweep(folder: str) -> h5py.File:
    """A sweep folder's runs as one in-memory run file: ``/metrics/<values>[/<arm>]/seed<k>``."""
    from ..sweep import attempt_paths, load_index

    index = load_index(os.path.join(folder, SWEEP_INDEX))
    grid = index.get("grid") or {}
    varied = [k for k, v in grid.items() if len(v) > 1]
    short = _short_names(varied)
    runs = []                                   # (label, chain) of every task with a run file
    for task in index["tasks"]:
        out = task.get("out")
        if not out:
            continue
        chain = [os.path.normpath(p) for p in attempt_paths(os.path.join(folder, out)) if os.path.isfile(p)]
        if chain:
            label = ", ".join(f"{short[k]}={task['settings'].get(k, '')}" for k in varied)
            runs.append((label.replace("/", "\u2215"), chain))
    if not runs:
        raise DataError(f"{folder}: no task of the sweep has written a run file yet")
    dst = memory_file()
    seeds: dict[str, int] = {}
    arm_sets = []
    joined = []
    try:
        for label, chain in runs:
            f = open_chain(chain)
            joined.append((label, f))
            arm_sets.append(tuple(arms(f)))
        same_single_arm = all(len(a) == 1 for a in arm_sets) and len(set(arm_sets)) == 1
        copy_attrs(joined[0][1], dst)
        if "params" in joined[0][1]:
            joined[0][1].copy(joined[0][1]["params"], dst, "params")
        title = index.get("title") or dst.attrs.get("title", "")
        swept = ", ".join(f"{short[k]} = {', '.join(grid[k])}" for k in varied)
        dst.attrs["title"] = f"{title} (sweep{': ' + swept if swept else ''}, {len(index.get('seeds', []))} seeds)"
        dst.attrs["sweep"] = os.fspath(folder)
        last_evals: dict[str, list] = {}
        for label, f in joined:
            for arm, g in confusion_groups(f).items():
                last_evals.setdefault(_arm_name(label, arm, same_single_arm), []).append(g)
            for arm, groups in arms(f).items():
                add_seeds(dst, _arm_name(label, arm, same_single_arm), f, groups, seeds)
        for name, groups in last_evals.items():       # the seeds' last evaluations: counts summed
            target = dst.require_group(f"results/{name}" if name else "results")
            ds = target.create_dataset("confusion", data=sum(g["confusion"][()] for g in groups))
            ds.attrs["seeds"] = len(groups)
            seen = [g["confusion"].attrs.get("examples_seen") for g in groups]
            if all(v is not None for v in seen) and len(set(int(v) for v in seen)) == 1:
                ds.attrs["examples_seen"] = int(seen[0])
            rates = [g["firing_rate"][()] for g in groups if "firing_rate" in g]
            if rates and len({r.shape for r in rates}) == 1:
                target.create_dataset("firing_rate", data=np.mean(rates, axis=0)).attrs["seeds"] = len(rates)
        return dst
    finally:
        for _, f in joined:
            f.close()


def _arm_name(label: str, arm: str, same_single_arm: bool) -> str:
    """A sweep's arm: the swept values, and the run's arm where the runs have several or not the same."""
    return label if (same_single_arm and label) else "/".join(p for p in (label, arm) if p)



def _short_names(keys: list[str]) -> dict[str, str]:
    """``network.tau`` -> ``tau`` where the last part names one key only."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last)}
