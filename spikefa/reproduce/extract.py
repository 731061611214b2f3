"""Our numbers from the run files: each extractor gives one number per run (or per seed inside a
run), read through spikefa.plot.metrics, the reader the figures use."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..sweep import SweepPlan

if TYPE_CHECKING:
    from .paper import Part


@dataclass
class Runs:
    """A part's finished run files and their tasks (settings, seed, summary rows)."""

    part: Part
    plan: SweepPlan | None
    paths: list[str] = field(default_factory=list)
    tasks: list = field(default_factory=list)


def seed_arrays(path: str, arm: str, metric: str) -> list:
    """``/metrics/<arm>/<metric>`` of every seed in one run file (one array for a single-seed arm),
    read as the figures read them (spikefa.plot.metrics), so a claim and its figure show the
    same numbers."""
    from ..plot import metrics as plot_metrics

    with plot_metrics.open_file(path) as h5:
        groups = plot_metrics.arms_with(h5, metric).get(arm, [])
        return [plot_metrics.series([g], metric).values[0] for g in groups]


@dataclass(frozen=True)
class Metric:
    """One number per seed from ``/metrics/<arm>/.../<metric>``: its last (or first) row, or the
    mean of its last ``tail`` rows; multiplied by ``scale`` (100 for errors in %)."""

    arm: str
    metric: str
    at: str = "last"                # last | first | min | max
    tail: int = 1
    scale: float = 1.0

    def values(self, runs: Runs) -> list[float]:
        out = []
        for path in runs.paths:
            for data in seed_arrays(path, self.arm, self.metric):
                if data.shape[0] == 0:
                    continue
                data = data.reshape(data.shape[0], -1).mean(axis=1)   # per-unit rows -> their mean
                if self.at == "first":
                    v = data[: self.tail].mean()
                elif self.at == "min":
                    v = data.min()
                elif self.at == "max":
                    v = data.max()
                else:
                    v = data[-self.tail:].mean()
                out.append(float(v) * self.scale)
        return out

    def describe(self) -> str:
        what = f"{self.at} {self.tail} rows of" if self.tail > 1 else self.at
        return f"{what} /metrics/{self.arm}/{self.metric}"


@dataclass(frozen=True)
class AtExamples:
    """One number per seed: ``metric`` of ``arm`` at the last evaluation at or before ``examples``
    examples seen (learning curves compared mid-way, before they reach their floor)."""

    arm: str
    metric: str
    examples: float
    scale: float = 1.0

    def values(self, runs: Runs) -> list[float]:
        import numpy as np

        from ..plot import metrics as plot_metrics

        out = []
        for path in runs.paths:
            with plot_metrics.open_file(path) as h5:
                for g in plot_metrics.arms_with(h5, self.metric).get(self.arm, []):
                    series = plot_metrics.series([g], self.metric)
                    before = np.flatnonzero(series.x <= self.examples)
                    if before.size:
                        out.append(float(np.asarray(series.values[0][before[-1]]).mean()) * self.scale)
        return out

    def describe(self) -> str:
        return f"/metrics/{self.arm}/{self.metric} at {self.examples:g} examples seen"


@dataclass(frozen=True)
class Ratio:
    """Per-seed ratio of two extractors (paired in file and seed order)."""

    top: object
    bottom: object

    def values(self, runs: Runs) -> list[float]:
        a, b = self.top.values(runs), self.bottom.values(runs)
        return [x / y if y else float("inf") for x, y in zip(a, b)]

    def describe(self) -> str:
        return f"({self.top.describe()}) / ({self.bottom.describe()})"


@dataclass(frozen=True)
class TTest:
    """Two-sample t-test (scipy.stats.ttest_ind) of ``smaller`` below ``larger``: one p-value."""

    smaller: object
    larger: object
    equal_var: bool = True

    def values(self, runs: Runs) -> list[float]:
        from scipy import stats

        a, b = self.smaller.values(runs), self.larger.values(runs)
        if len(a) < 2 or len(b) < 2:
            return []
        return [float(stats.ttest_ind(a, b, equal_var=self.equal_var, alternative="less").pvalue)]

    def n(self, runs: Runs) -> str:
        return f"{len(self.smaller.values(runs))}+{len(self.larger.values(runs))}"

    def describe(self) -> str:
        return f"one-sided t-test: {self.smaller.describe()} < {self.larger.describe()}"


@dataclass(frozen=True)
class GapShare:
    """Where ``value``'s mean sits between ``near``'s mean (0) and ``far``'s mean (1): one number.

    Figure 3d asks whether 4-layer FA ends with 4-layer backprop or with the 3-layer nets; on the
    figure's linear scale that is the share of the gap between them that FA4 leaves open.
    """

    value: object
    near: object
    far: object

    def values(self, runs: Runs) -> list[float]:
        v, a, b = (_mean(x.values(runs)) for x in (self.value, self.near, self.far))
        if not all(math.isfinite(x) for x in (v, a, b)) or a == b:
            return []
        return [(v - a) / (b - a)]

    def n(self, runs: Runs) -> str:
        return "+".join(str(len(x.values(runs))) for x in (self.value, self.near, self.far))

    def describe(self) -> str:
        return (f"(mean {self.value.describe()} - mean {self.near.describe()}) / "
                f"(mean {self.far.describe()} - mean {self.near.describe()})")


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


@dataclass(frozen=True)
class Summary:
    """One number per run from the run's summary rows: column ``column`` of the row whose label
    columns match ``where`` (e.g. {"arm": "fa"})."""

    column: str
    where: tuple = ()               # ((label, value), ...)
    scale: float = 1.0

    def values(self, runs: Runs) -> list[float]:
        out = []
        want = dict(self.where)
        for task in runs.tasks:
            for row in task.summary:
                if all(row.get(k) == v for k, v in want.items()) and isinstance(row.get(self.column), (int, float)):
                    out.append(float(row[self.column]) * self.scale)
        return out

    def describe(self) -> str:
        cond = ", ".join(f"{k}={v}" for k, v in self.where)
        return f"summary column {self.column}" + (f" where {cond}" if cond else "")
