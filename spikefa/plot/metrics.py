"""Reading /metrics for figures: :func:`open_file` opens a run file or a joined source (a run with its
continuations, a sweep folder: :mod:`spikefa.plot.sources`); arms, seeds and series are read by
:mod:`spikefa.runfile.series` (naming per docs/design.md), re-exported here."""

from __future__ import annotations

import contextlib
import os

import h5py

from ..errors import DataError
from ..runfile.read import open_data
from ..runfile.series import Series, arms, arms_with, run_params, seed_arrays, seed_series, series, test_set, x_axis

__all__ = ["open_file", "open_found", "Series", "arms", "arms_with", "run_params", "seed_arrays", "seed_series",
           "series", "test_set", "x_axis"]


def open_file(run_path: str) -> h5py.File:
    """Open a run file for reading: finished, killed, or live when its run writes in SWMR mode.
    A joined source (a run with its continuations, a sweep folder: ``sources``) opens as one
    in-memory file laid out the same way."""
    from . import sources

    if isinstance(run_path, sources.Source) or os.path.isdir(run_path):
        return sources.resolve(run_path).open()
    return open_data(run_path)


@contextlib.contextmanager
def open_found(run_path: str, find, missing: str):
    """``(h5, find(h5))`` of an open run file; DataError ``RUN: <missing>`` when ``find`` finds nothing
    (``missing`` names the data a figure needs and the setting that records it)."""
    with open_file(run_path) as h5:
        found = find(h5)
        if not found:
            raise DataError(f"{run_path}: {missing}")
        yield h5, found
