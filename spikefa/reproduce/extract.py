"""Our numbers from the run files: each extractor gives one number per run (or per seed inside a
run), read through :mod:`spikefa.runfile.series`, the reader the figures use, so a claim and its
figure show the same numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..runfile import seed_arrays, seed_series
from ..sweep import SweepPlan

if TYPE_CHECKING:
    from .part import Part


@dataclass
class Runs:
    """A part's finished run files and their tasks (settings, seed, summary rows)."""

    part: Part
    plan: SweepPlan | None
    paths: list[str] = field(default_factory=list)
    tasks: list = field(default_factory=list)


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

        out = []
        for path in runs.paths:
            for series in seed_series(path, self.arm, self.metric):
                before = np.flatnonzero(series.x <= self.examples)
                if before.size:
                    out.append(float(np.asarray(series.values[0][before[-1]]).mean()) * self.scale)
        return out

    def describe(self) -> str:
        return f"/metrics/{self.arm}/{self.metric} at {self.examples:g} examples seen"


class Paired:
    """Two extractors whose values are taken together: ``Ratio(a, b)``, ``TTest(a, b)``."""

    def both(self, runs: Runs) -> tuple[list[float], list[float]]:
        return self.first.values(runs), self.second.values(runs)


@dataclass(frozen=True)
class Ratio(Paired):
    """Per-seed ratio of two extractors (paired in file and seed order): ``first / second``."""

    first: object
    second: object

    def values(self, runs: Runs) -> list[float]:
        return [x / y if y else float("inf") for x, y in zip(*self.both(runs))]

    def describe(self) -> str:
        return f"({self.first.describe()}) / ({self.second.describe()})"


@dataclass(frozen=True)
class TTest(Paired):
    """Two-sample t-test (scipy.stats.ttest_ind) of ``first`` (the smaller) below ``second``: one p-value."""

    first: object
    second: object
    equal_var: bool = True

    def values(self, runs: Runs) -> list[float]:
        from scipy import stats

        a, b = self.both(runs)
        if len(a) < 2 or len(b) < 2:
            return []
        return [float(stats.ttest_ind(a, b, equal_var=self.equal_var, alternative="less").pvalue)]

    def n(self, runs: Runs) -> str:
        return "+".join(str(len(v)) for v in self.both(runs))

    def describe(self) -> str:
        return f"one-sided t-test: {self.first.describe()} < {self.second.describe()}"


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
