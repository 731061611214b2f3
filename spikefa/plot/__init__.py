"""Figures from run files: each kind reads what the run recorded and writes PNG and PDF.

``plot_all(run_path, out_dir)`` draws every figure the file has data for (``run_path`` may also
be several files of one resumed run, or a sweep folder: see :mod:`spikefa.plot.sources`); ``plot(run_path,
out_dir, kinds)`` draws the named ones and raises :class:`spikefa.errors.DataError` naming the
missing data, and the setting that records it, for any kind the file lacks.

Kinds (see ``KINDS``): learning, delta_angle, weight_angle, phases, raster, traces, compare, confusion.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import h5py

from ..errors import ConfigError
from . import sources


@dataclass(frozen=True)
class Kind:
    module: str         # spikefa.plot.<module>
    draw: str           # draw(run_path, out_dir) -> [paths]
    has_data: str       # has_data(h5py.File) -> bool
    doc: str

    def load(self, attr):
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), attr)


KINDS: dict[str, Kind] = {
    "learning": Kind("learning", "draw", "has_data", "test error or NSE vs examples seen, one line per rule"),
    "delta_angle": Kind("alignment", "draw_delta", "has_delta", "angle(delta_FA, delta_BP) over training (Fig. 2b, 3b)"),
    "weight_angle": Kind("alignment", "draw_weights", "has_weights", "angle(W, B^T) and single units (Fig. 5a)"),
    "phases": Kind("alignment", "draw_phases", "has_phases", "error through three learning phases (Fig. 5c)"),
    "raster": Kind("raster", "draw", "has_data", "spike rasters early/middle/late (Fig. 4)"),
    "traces": Kind("traces", "draw", "has_data", "a forward unit's PSP beside its modulatory signal (Fig. 4)"),
    "compare": Kind("compare", "draw", "has_data", "spiking network vs its rate limit, over training and tau"),
    "confusion": Kind("confusion", "draw", "has_data",
                      "the last evaluation's confusion matrix, each class's error, each layer's firing rate"),
}
# what each kind reads, and what writes it: `spikefa plot --list` without a file
NEEDS = {
    "learning": "/metrics/<arm>/test_error or nse: every experiment, at each evaluation (train.eval_every)",
    "delta_angle": "/metrics/<arm>/angle_delta: fig2_linear, fig3a_mnist (fa arms)",
    "weight_angle": "/metrics/<arm>/angle_W_BT: fig5_quadratic",
    "phases": "/metrics/<arm>/phase and nse: fig5_quadratic with phases.enabled",
    "raster": "/recordings with spikes: [[record.recorders]] as in models/fig4_spiking.toml",
    "traces": "/recordings with V and mod: a recorder of variables = [\"V\", \"mod\"]",
    "compare": "/metrics/compare: spikefa compare, or experiment = \"compare\"",
    "confusion": "/results/<arm>/confusion (and firing_rate): the spiking experiment, at each evaluation",
}
ALIASES = {"alignment": ("delta_angle", "weight_angle", "phases"), "all": tuple(KINDS)}


def expand(names) -> list[str]:
    """Kind names with aliases expanded, in KINDS order; unknown names raise ConfigError."""
    wanted = set()
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name in ALIASES:
            wanted.update(ALIASES[name])
        elif name in KINDS:
            wanted.add(name)
        else:
            choices = ", ".join(list(KINDS) + list(ALIASES))
            raise ConfigError(f"unknown figure {name!r}; choose from {choices}")
    return [k for k in KINDS if k in wanted]


def _open(run_path: str) -> h5py.File:
    from .metrics import open_file

    return open_file(run_path)


def available(run_path: str) -> list[str]:
    """The kinds of figure ``run_path`` has data for (a run file, several files of one run, or a
    sweep folder: ``sources.resolve``)."""
    from ..runfile import reading

    run_path = sources.resolve(run_path)
    with _open(run_path) as h5, reading(run_path):    # a damaged file: one line, not an HDF5 traceback
        return [name for name, kind in KINDS.items() if kind.load(kind.has_data)(h5)]


def plot(run_path: str, out_dir: str, kinds) -> dict[str, list[str]]:
    """Draw the named kinds; kind -> paths written. A kind without data raises DataError."""
    from ..runfile import reading

    run_path = sources.resolve(run_path)
    _open(run_path).close()
    with reading(run_path):
        return {name: KINDS[name].load(KINDS[name].draw)(run_path, out_dir) for name in expand(kinds)}


def plot_all(run_path: str, out_dir: str | None = None) -> dict[str, list[str]]:
    """Draw every figure the file has data for (into RUN_figures/ beside it by default)."""
    run_path = sources.resolve(run_path)
    if out_dir is None:
        out_dir = default_out_dir(run_path)
    return plot(run_path, out_dir, available(run_path))


def default_out_dir(run_path: str) -> str:
    """RUN_figures/ beside a run file (its first file for a joined run), SWEEP/figures/ for a sweep."""
    run_path = sources.resolve(run_path)
    if isinstance(run_path, sources.Source):
        return run_path.out_dir()
    stem, _ = os.path.splitext(run_path)
    return stem + "_figures"
