"""Reading /metrics of a run file as arms, seeds and series (naming per docs/design.md): what the
figures draw and the claims of ``spikefa reproduce`` count, read the same way.

An *arm* is a group under /metrics holding metric datasets (``/metrics/fa/test_error``), or
holding one ``seed<k>`` group per seed (``/metrics/fa/seed3/test_error``). Arms may nest
(``/metrics/tau0.5/spiking``): their name is the path below /metrics. Metrics written straight
into /metrics form the arm "" (shown under the experiment's name).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import h5py
import numpy as np

from .read import open_data

_SEED = re.compile(r"^seed(\d+)$")


def arms(h5: h5py.File) -> dict[str, list[h5py.Group]]:
    """Arm name -> the groups of its seeds (one group for a single-seed arm), in file order."""
    found: dict[str, list[h5py.Group]] = {}
    if "metrics" not in h5:
        return found

    def visit(group: h5py.Group, prefix: str):
        seeds = [k for k in group if _SEED.match(k) and isinstance(group[k], h5py.Group)]
        if seeds:
            seeds.sort(key=lambda k: int(_SEED.match(k).group(1)))
            found[prefix] = [group[k] for k in seeds]
        elif any(isinstance(v, h5py.Dataset) for v in group.values()):
            found[prefix] = [group]
        for key, value in group.items():
            if isinstance(value, h5py.Group) and not _SEED.match(key):
                visit(value, f"{prefix}/{key}" if prefix else key)

    visit(h5["metrics"], "")
    return found


def arms_with(h5: h5py.File, metric: str) -> dict[str, list[h5py.Group]]:
    """The arms whose every seed has ``metric``."""
    return {name: groups for name, groups in arms(h5).items()
            if groups and all(metric in g for g in groups)}


@dataclass
class Series:
    """One metric of one arm over training: ``x`` (n,), ``values`` (seeds, n, ...)."""

    x: np.ndarray
    x_label: str
    values: np.ndarray

    @property
    def n_seeds(self) -> int:
        return self.values.shape[0]

    def mean(self) -> np.ndarray:
        return np.nanmean(self.values, axis=0)

    def std(self) -> np.ndarray:
        if self.n_seeds < 2:
            return np.zeros_like(self.values[0])
        return np.nanstd(self.values, axis=0, ddof=1)


def x_axis(group: h5py.Group, metric: str) -> tuple[np.ndarray, str]:
    """The x values of ``group/metric``: examples seen where the lengths match.

    A metric recorded at its own times names them: its ``x`` attribute names a sibling dataset,
    or a sibling ``<metric>_examples_seen`` exists. Otherwise, when ``examples_seen`` has the
    same number of rows, that is used; failing both, the row index.
    """
    ds = group[metric]
    n = ds.shape[0]
    named = ds.attrs.get("x")
    if isinstance(named, bytes):
        named = named.decode()
    candidates = ([named] if named else []) + [f"{metric}_examples_seen", "examples_seen"]
    for cand in candidates:
        if cand in group and group[cand].shape[0] == n:
            return np.asarray(group[cand][()], dtype=float), "examples seen"
    return np.arange(n, dtype=float), "evaluation"


def series(groups: list[h5py.Group], metric: str) -> Series:
    """``metric`` of every seed of an arm, cut to the length all seeds reached."""
    arrays, xs = [], []
    for g in groups:
        arrays.append(np.asarray(g[metric][()], dtype=float))
        xs.append(x_axis(g, metric))
    n = min(a.shape[0] for a in arrays)
    x, x_label = xs[0]
    values = np.stack([a[:n] for a in arrays])
    return Series(x=x[:n], x_label=x_label, values=values)


def run_params(h5: h5py.File) -> dict:
    """The resolved parameters of the run (the root's ``params`` attribute), or {}."""
    try:
        return json.loads(h5.attrs.get("params", "{}"))
    except (TypeError, ValueError):
        return {}


def test_set(h5: h5py.File) -> tuple[int | None, int | None]:
    """(examples in the test set, classes) as the run's parameters say; None where they do not."""
    p = run_params(h5)
    data, task, net = p.get("data", {}), p.get("task", {}), p.get("network", {})
    size = classes = None
    if "test_examples" in data or "test_examples" in task:       # rate experiments
        size = data.get("test_examples") or task.get("test_examples")
    elif data:                                                   # spiking and compare
        full = {"mnist": 10000}.get(data.get("dataset"), data.get("synthetic_test"))
        size = data.get("test_size") or full
    if p.get("experiment", h5.attrs.get("experiment")) == "fig3a_mnist" or data.get("dataset") == "mnist":
        classes = 10
    if isinstance(net, dict) and net.get("sizes") and net.get("units_per_class"):
        classes = int(net["sizes"][-1]) // int(net["units_per_class"])
    return (int(size) if size else None), classes



def seed_series(path: str, arm: str, metric: str) -> list[Series]:
    """``metric`` of ``arm`` in one run file as one :class:`Series` per seed (with its x values)."""
    with open_data(path) as h5:
        return [series([g], metric) for g in arms_with(h5, metric).get(arm, [])]


def seed_arrays(path: str, arm: str, metric: str) -> list:
    """``/metrics/<arm>/<metric>`` of every seed in one run file (one array for a single-seed arm)."""
    return [s.values[0] for s in seed_series(path, arm, metric)]


def confusion_groups(h5: h5py.File) -> dict[str, h5py.Group]:
    """arm -> the /results group holding its ``confusion`` (in file order)."""
    out: dict[str, h5py.Group] = {}
    if "results" not in h5:
        return out

    def visit(group: h5py.Group, prefix: str):
        if "confusion" in group and isinstance(group["confusion"], h5py.Dataset):
            out[prefix] = group
        for key, value in group.items():
            if isinstance(value, h5py.Group):
                visit(value, f"{prefix}/{key}" if prefix else key)

    visit(h5["results"], "")
    return out
