"""Reproduce the paper in one command: run every figure's model file as a sweep, draw, report.

``reproduce(out_dir)`` runs the parts in :data:`PARTS` (one model file each, several
seeds) together on one Dask cluster through :mod:`spikefa.sweep`, draws each part's figures with
:mod:`spikefa.plot`, checks every claim in :data:`CLAIMS` against the run files, and writes
``report.md`` with the figures beside it.

A claim is data: the figure, the paper's statement and value, an extractor that reads our number
per run (or per seed inside a run) from the run files, and the check that decides "reached". A
new claim is one more entry in CLAIMS. The paper's numbers are those of MODEL.md's experiment
table and the issues' lists of what must hold.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import time
from dataclasses import dataclass, field

from .errors import ConfigError, OutputError, SpikefaError
from .sweep import (SweepOutcome, SweepPlan, mark_finished_tasks, plan_sweep, run_sweeps, summarize,
                    summary_table)

REPORT_NAME = "report.md"


# -- parts: what runs --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """One figure's experiment, run as a sweep over seeds (quick and full sizes)."""

    name: str                       # --only name, folder name
    figure: str                     # "Figure 2a, b"
    model: str                      # model file, relative to the models folder
    seeds_quick: int
    seeds_full: int
    sets_quick: tuple = ()          # --set KEY=VALUES for the quick size (on top of the file's [quick])
    sets_full: tuple = ()
    about: str = ""
    priority: int = 0               # longer parts first, so the cluster's last minutes are not one task
    protocol: str = ""              # how the full size was chosen, in a sentence or two (the report says it)
    appendix: tuple = ()            # Markdown files in the part's folder (a study behind its protocol),
                                    # shown under the part when present, each with a PNG of the same stem


# -- extractors: our numbers from the run files ------------------------------------------------------

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
    from .plot import metrics as plot_metrics

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

        from .plot import metrics as plot_metrics

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


# -- checks --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """Whether our mean reaches the claim: ``op`` in <, <=, >, >=, between."""

    op: str
    value: float
    upper: float | None = None

    def __call__(self, x: float) -> bool:
        if not math.isfinite(x):
            return False
        return {"<": x < self.value, "<=": x <= self.value, ">": x > self.value, ">=": x >= self.value,
                "between": self.upper is not None and self.value <= x <= self.upper}[self.op]

    def describe(self, unit: str = "") -> str:
        if self.op == "between":
            return f"{_num(self.value)}–{_num(self.upper)}{unit}"
        sign = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[self.op]
        return f"{sign} {_num(self.value)}{unit}"


@dataclass(frozen=True)
class Claim:
    part: str                       # Part.name
    figure: str
    text: str                       # the paper's claim, in words
    paper: str                      # the paper's value as it states it
    ours: object                    # extractor: .values(runs) -> list[float]
    check: Check                    # applied to the mean of ours
    unit: str = ""
    full_size_only: bool = False    # an absolute number that the quick size is not expected to reach


def _num(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.2g}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


# -- the paper's figures ------------------------------------------------------------------------

def _arms(*names: str) -> str:
    """``--set arms=...`` with one task per arm, so the arms of a part run in parallel."""
    return "arms=" + ",".join(f'["{n}"]' for n in names)


PARTS: list[Part] = [
    Part("fig2", "Figure 2a, b", "fig2_linear.toml", seeds_quick=5, seeds_full=20,
         about="30-20-10 linear network learning a random linear map: backprop, feedback alignment, "
               "shallow learning and node perturbation on the same example stream."),
    Part("fig3a", "Figure 3a, b", "fig3a_mnist.toml", seeds_quick=2, seeds_full=20,
         sets_quick=(_arms("bp", "fa", "shallow", "fa_sparse"),),
         sets_full=("runs=1", _arms("bp", "fa", "shallow", "fa_sparse")),
         about="784-1000-10 logistic network on MNIST; each seed is one run (new W, new B, new example "
               "order), every arm of a seed starts from the same W.", priority=2,
         protocol="As the paper: learning parameters tuned for backprop alone and used for every arm, all arms "
                  "stopped after the same number of examples, where backprop's error stops falling; here "
                  "chosen on a validation split of the training set (the last 10,000 images), never on the "
                  "test set (`scripts/fig3a_protocol.py`, below).",
         appendix=("protocol.md",)),
    Part("fig3d", "Figure 3d", "fig3d_deep.toml", seeds_quick=1, seeds_full=1,
         sets_quick=(_arms("bp3", "fa3", "bp4", "fa4", "fa4_frozen_w0"),),
         sets_full=(_arms("shallow3", "bp3", "fa3", "bp4", "fa4", "fa4_frozen_w0"),),
         about="3 vs 4 layer tanh networks fitting a fixed random 4-layer tanh network; the runs of an "
               "arm share the target and B (paper) and differ in initial weights and example stream.",
         priority=1,
         protocol="As the paper: one learning rate, tuned for backprop and shared with FA; every arm trains on "
                  "the same number of examples. Why 4-layer FA does not end exactly on 4-layer backprop: the "
                  "ablation below (`scripts/fig3d_ablation.py`).",
         appendix=("ablation.md",)),
    Part("fig4", "Figure 4", "fig4_spiking.toml", seeds_quick=1, seeds_full=1, sets_quick=("train.images=1000",),
         about="784-1500-1500-1500-1000 continuous-time network of stochastic spiking units learning "
               "MNIST by feedback alignment.", priority=3),
    Part("fig5", "Figure 5a, c", "fig5_quadratic.toml", seeds_quick=2, seeds_full=5,
         about="20-1000-20 tanh network learning a quadratic map: alignment of W with B^T, and the "
               "three-phase protocol."),
    Part("compare", "Rate vs spiking", "compare_rate_spiking.toml", seeds_quick=1, seeds_full=1,
         about="The spiking network beside its rate limit, from the same weights on the same images.",
         priority=3),
]


def _nse(arm: str) -> Metric:
    return Metric(arm, "nse")


def _err(arm: str) -> Metric:
    return Metric(arm, "test_error", scale=100.0)


def _speed(arm: str) -> Summary:
    return Summary("examples_to_nse_0.01", (("arm", arm),))


CLAIMS: list[Claim] = [
    # Figure 2: linear network
    Claim("fig2", "Fig. 2a", "FA learns as fast as backprop (examples to reach NSE 0.01, FA ÷ BP)",
          "as fast", Ratio(_speed("fa"), _speed("bp")), Check("<=", 1.5)),
    Claim("fig2", "Fig. 2a", "FA's NSE within 1.5x of backprop's (after 250 examples, mid-learning: at the "
          "end of the full run both sit at float rounding)", "as low",
          Ratio(AtExamples("fa", "nse", 250), AtExamples("bp", "nse", 250)), Check("<=", 1.5)),
    Claim("fig2", "Fig. 2a", "Shallow learning barely lowers the loss (final NSE, shallow ÷ FA)",
          "hardly decreases", Ratio(_nse("shallow"), _nse("fa")), Check(">=", 10)),
    Claim("fig2", "Fig. 2a", "Shallow far behind backprop too (final NSE, shallow ÷ BP)",
          "hardly decreases", Ratio(_nse("shallow"), _nse("bp")), Check(">=", 10)),
    Claim("fig2", "Fig. 2a", "Node perturbation learns, but slower than FA (final NSE, NP ÷ FA)",
          "slow", Ratio(_nse("node_perturbation"), _nse("fa")), Check(">", 1)),
    Claim("fig2", "Fig. 2a", "Node perturbation beats shallow learning (final NSE, NP ÷ shallow)",
          "learns", Ratio(_nse("node_perturbation"), _nse("shallow")), Check("<", 1)),
    Claim("fig2", "Fig. 2b", "angle(δFA, δBP) starts near 90° (first 10 examples)", "90°",
          Metric("fa", "angle_delta", at="first", tail=10), Check(">=", 75), unit="°"),
    Claim("fig2", "Fig. 2b", "angle(δFA, δBP) shrinks well below 90° (last 10 examples)", "falls",
          Metric("fa", "angle_delta", tail=10), Check("<=", 60), unit="°"),
    Claim("fig2", "Fig. 2b", "angle(δFA, δBP) never reaches 0 (lowest sliding mean)", "> 0°",
          Metric("fa", "angle_delta_mean", at="min"), Check(">=", 5), unit="°"),
    # Figure 3a, b: MNIST
    Claim("fig3a", "Fig. 3a", "Backprop's test error (mean of n runs)", "2.4%", _err("bp"), Check("<=", 2.4),
          unit="%", full_size_only=True),
    Claim("fig3a", "Fig. 3a", "FA's test error (mean of n runs)", "2.1%", _err("fa"), Check("<=", 2.1),
          unit="%", full_size_only=True),
    Claim("fig3a", "Fig. 3a", "FA with 50% of W and B removed: test error", "2.4%", _err("fa_sparse"),
          Check("<=", 2.4), unit="%", full_size_only=True),
    Claim("fig3a", "Fig. 3a", "FA matches backprop (test error, FA ÷ BP)", "0.88 (2.1/2.4)",
          Ratio(_err("fa"), _err("bp")), Check("<=", 1.1)),
    Claim("fig3a", "Fig. 3a", "Shallow learning is far worse (test error, shallow ÷ FA)", "far worse",
          Ratio(_err("shallow"), _err("fa")), Check(">=", 1.5)),
    Claim("fig3a", "Fig. 3b", "angle(δFA, δBP) falls below 90° and stays (last block mean)", "< 90°",
          Metric("fa", "angle_delta_mean"), Check("<", 90), unit="°"),
    # Figure 3d: depth
    Claim("fig3d", "Fig. 3d", "FA better with 4 layers than 3 (t-test on final NSE, p)", "P = 9e-13 (n=20)",
          TTest(_nse("fa4"), _nse("fa3")), Check("<", 0.01), full_size_only=True),
    Claim("fig3d", "Fig. 3d", "Backprop better with 4 layers than 3 (t-test on final NSE, p)", "P = 3e-12 (n=20)",
          TTest(_nse("bp4"), _nse("bp3")), Check("<", 0.01), full_size_only=True),
    Claim("fig3d", "Fig. 3d", "FA performs as well as backprop, 4 layers, read strictly (final NSE, FA ÷ BP; "
          "backprop's 4-layer net fits the 4-layer target to float rounding, see the ablation)", "as well",
          Ratio(_nse("fa4"), _nse("bp4")), Check("<=", 1.5)),
    Claim("fig3d", "Fig. 3d", "FA performs as well as backprop, 4 layers, read on the figure's linear scale: "
          "4-layer FA ends with 4-layer backprop, not with the 3-layer nets (share of the gap BP3 − BP4 that "
          "FA4 leaves open; 0 = on BP4, 1 = on BP3)", "as well",
          GapShare(_nse("fa4"), _nse("bp4"), _nse("bp3")), Check("<", 0.5)),
    Claim("fig3d", "Supp. Fig. 6", "Freezing W0 removes FA's gain from depth (t-test, 4 layers W0 frozen "
          "better than 3 layers, p)", "no gain", TTest(_nse("fa4_frozen_w0"), _nse("fa3")), Check(">", 0.05)),
    Claim("fig3d", "Supp. Fig. 6", "Learning in W0 matters: 4-layer FA beats 4-layer FA with W0 frozen "
          "(t-test, p)", "gain", TTest(_nse("fa4"), _nse("fa4_frozen_w0")), Check("<", 0.01), full_size_only=True),
    # Figure 4: spiking network
    Claim("fig4", "Fig. 4", "Spiking network's final test error on MNIST", "1.8%", _err("fa"), Check("<=", 1.8),
          unit="%", full_size_only=True),
    Claim("fig4", "Fig. 4", "Spiking network learns (test error clearly below chance, 90%)", "learns", _err("fa"),
          Check("<", 80), unit="%"),
    # Rate vs spiking (the paper trains its spiking net only; these are spikefa's own checks)
    Claim("compare", "Fig. 3a vs 4", "The spiking net learns about as well as its rate limit (test error, "
          "spiking − rate, in points; paper: 1.8% spiking vs 2.1% rate)", "−0.3 points",
          Summary("error_gap", (("run", "main"),), scale=100.0), Check("<=", 2.0), unit=" pts",
          full_size_only=True),
    Claim("compare", "—", "Spiking and rate weight updates point the same way (angle between them)",
          "— (not in the paper)", Summary("update_angle_deg", (("run", "main"),)), Check("<", 45), unit="°"),
    # Figure 5: alignment
    Claim("fig5", "Fig. 5a", "angle(W, Bᵀ) falls well below 90° (end of training; read as ≤ 60°, the reading of "
          "Fig. 2b's \"well below 90°\": the paper gives a direction, not a value)", "falls well below 90°",
          Metric("fa", "angle_W_BT"), Check("<=", 60), unit="°", full_size_only=True),
    Claim("fig5", "Fig. 5a", "Single hidden units align too (median angle, column of W vs row of B)",
          "below 90°", Summary("unit_angle_median", (("arm", "fa"),)), Check("<=", 60), unit="°",
          full_size_only=True),
    Claim("fig5", "Fig. 5c", "Phase 1 (W frozen, W0 learns) leaves the error flat (NSE end ÷ start)",
          "no reduction", Summary("phase1_end_ratio", (("arm", "phases"),)), Check(">=", 0.95)),
    Claim("fig5", "Fig. 5c", "Phase 3 (W frozen again) lowers the error (NSE end ÷ start)", "reduces",
          Summary("phase3_end_ratio", (("arm", "phases"),)), Check("<", 0.95)),
]


def part_names() -> list[str]:
    return [p.name for p in PARTS]


# -- evaluation ------------------------------------------------------------------------------------

@dataclass
class ClaimResult:
    claim: Claim
    values: list[float]
    mean: float
    std: float
    n: str
    status: str                     # reached | missed | no data
    note: str = ""


def evaluate(claim: Claim, runs: Runs | None, quick: bool) -> ClaimResult:
    if runs is None or not runs.paths:
        return ClaimResult(claim, [], float("nan"), float("nan"), "0", "no data", "part not run or no run finished")
    try:
        values = claim.ours.values(runs)
    except (OSError, KeyError, ValueError, SpikefaError) as exc:
        return ClaimResult(claim, [], float("nan"), float("nan"), "0", "no data", f"could not read: {exc}")
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ClaimResult(claim, values, float("nan"), float("nan"), "0", "no data",
                           f"no values for {claim.ours.describe()}")
    mean = sum(finite) / len(finite)
    std = math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1)) if len(finite) > 1 else 0.0
    n = claim.ours.n(runs) if hasattr(claim.ours, "n") else str(len(finite))
    status = "reached" if claim.check(mean) else "missed"
    note = "quick size: not expected to reach the paper's value" if (quick and claim.full_size_only
                                                                    and status == "missed") else ""
    return ClaimResult(claim, values, mean, std, n, status, note)


def format_ours(r: ClaimResult) -> str:
    if r.status == "no data":
        return "—"
    unit = r.claim.unit
    if r.n.isdigit() and int(r.n) > 1:
        return f"{_num(r.mean)} ± {_num(r.std)}{unit} (n={r.n})"
    return f"{_num(r.mean)}{unit} (n={r.n})"


# -- running ---------------------------------------------------------------------------------------

def models_dir() -> str:
    """The repository's models/ folder (beside the package in a checkout), else ./models."""
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
    if os.path.isdir(here):
        return here
    return os.path.abspath("models")


def select_parts(only: str | None) -> list[Part]:
    if not only:
        return list(PARTS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    known = {p.name: p for p in PARTS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown part {', '.join(unknown)}; the parts are {', '.join(known)}")
    return [known[n] for n in names]


def parse_part_sets(items) -> dict[str, list[str]]:
    """``["fig4:network.backend=cuda"]`` -> {"fig4": ["network.backend=cuda"]} (parts checked)."""
    out: dict[str, list[str]] = {}
    for item in items or ():
        name, sep, setting = item.partition(":")
        if not sep or "=" not in setting:
            raise ConfigError(f"--set {item!r}: expected PART:KEY=VALUE, e.g. --set fig4:network.backend=cuda")
        select_parts(name)
        out.setdefault(name, []).append(setting)
    return out


def _merge_sets(base, extra) -> list[str]:
    """The part's own --set values with the user's on top (a key given by both: the user's)."""
    merged = {item.split("=", 1)[0].strip(): item for item in base}
    merged.update({item.split("=", 1)[0].strip(): item for item in extra})
    return list(merged.values())


def plan_parts(parts: list[Part], out_dir: str, sizes: dict, models: str | None = None,
               seeds: int | None = None, part_sets: dict | None = None
               ) -> tuple[list[tuple[Part, SweepPlan]], list[tuple[Part, str]]]:
    """Sweep plans for the parts whose model files exist; the others with the reason.

    ``sizes`` maps a part's name to "quick" or "full"; ``part_sets`` adds --set values per part.
    """
    models = models or models_dir()
    part_sets = part_sets or {}
    planned, skipped = [], []
    for part in parts:
        path = os.path.join(models, part.model)
        if not os.path.isfile(path):
            skipped.append((part, f"model file {path} not found"))
            continue
        quick = sizes[part.name] == "quick"
        n = seeds or (part.seeds_quick if quick else part.seeds_full)
        sets = _merge_sets(part.sets_quick if quick else part.sets_full, part_sets.get(part.name, ()))
        plan = plan_sweep(path, seeds=n, sets=sets,
                          out_dir=os.path.join(out_dir, part.name), quick=quick, name=part.name,
                          priority=part.priority)
        planned.append((part, plan))
    return planned, skipped


def merge_runs(paths: list[str], out_path: str) -> str:
    """One run file holding every arm and seed of ``paths``, for figures across a whole sweep.

    Each arm's seeds become ``/metrics/<arm>/seed<j>`` (numbered across files); /results and any
    recordings come from the first file; the header attributes from the first file too.
    """
    import h5py

    from .plot import metrics as plot_metrics

    with h5py.File(out_path, "w") as dst:
        next_seed: dict[str, int] = {}
        for i, path in enumerate(paths):
            with h5py.File(path, "r") as src:
                if i == 0:
                    for k, v in src.attrs.items():
                        dst.attrs[k] = v
                    for name in src:
                        if name != "metrics":
                            src.copy(src[name], dst, name)
                for arm, groups in plot_metrics.arms(src).items():
                    for g in groups:
                        j = next_seed.get(arm, 0)
                        next_seed[arm] = j + 1
                        target = dst.require_group(f"metrics/{arm}" if arm else "metrics")
                        seed_group = target.create_group(f"seed{j}")
                        for key, value in g.items():
                            if isinstance(value, h5py.Dataset):
                                src.copy(value, seed_group, key)
    return out_path


def compact_run(path: str) -> bool:
    """Rewrite a finished run file with every dataset stored whole and compressed (atomically).

    Metrics stream into 32 KB chunks while a run goes; a finished Figure 3a run holds a few
    thousand numbers in a dozen such chunks. Compacted, the finished runs of a full report are
    small enough to commit, so a later session on a fresh machine resumes the sweep from them.
    Returns False (and leaves the file) when it is not a finished run or is already compact.
    """
    import h5py
    import numpy as np

    with h5py.File(path, "r") as src:
        status = src.attrs.get("status", "")
        status = status.decode() if isinstance(status, bytes) else str(status)
        if status != "finished" or src.attrs.get("compacted", False):
            return False
        tmp = path + ".compact"
        with h5py.File(tmp, "w", track_order=True) as dst:
            for k, v in src.attrs.items():
                dst.attrs[k] = v
            dst.attrs["compacted"] = True

            def copy(name, obj):
                if isinstance(obj, h5py.Group):
                    g = dst.create_group(name, track_order=True)
                    for k, v in obj.attrs.items():
                        g.attrs[k] = v
                    return
                data = obj[()]
                big = isinstance(data, np.ndarray) and data.size > 16
                ds = dst.create_dataset(name, data=data, compression="gzip" if big else None,
                                        shuffle=big)
                for k, v in obj.attrs.items():
                    ds.attrs[k] = v
            src.visititems(copy)
    os.replace(tmp, path)
    return True


def reuse_finished_runs(plan: SweepPlan, source_dir: str) -> int:
    """Copy the finished run files of ``source_dir`` (an earlier report's part folder) that this
    plan's tasks would write and do not have yet; returns how many. The sweep then skips those
    whose parameters still match (a changed model file reruns them)."""
    import shutil

    from .sweep import _run_file_state

    copied = 0
    for task in plan.tasks:
        src = os.path.join(source_dir, task.out)
        dst = plan.run_path(task)
        if os.path.exists(dst) or not os.path.isfile(src):
            continue
        status, params, _ = _run_file_state(src)
        if status != "finished":
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst + ".part")
        os.replace(dst + ".part", dst)
        copied += 1
    return copied


def projected_seconds(plan: SweepPlan) -> float | None:
    """Task time the plan's unfinished tasks will take here, when their experiment can say."""
    from . import experiments

    estimate = getattr(experiments.get(plan.experiment), "estimate_seconds", None)
    if estimate is None:
        return None
    todo = [t for t in plan.tasks if t.status != "finished"]
    if not todo:
        return 0.0
    return sum(estimate(t.params) for t in todo[:1]) * len(todo)


def draw_figures(part: Part, plan: SweepPlan, out_dir: str) -> tuple[list[str], str]:
    """Draw every figure the part's runs have data for into ``out_dir/<part>/figures``.

    Several finished runs are merged first (spikefa.plot then draws mean and spread over seeds).
    Returns the PNG paths relative to ``out_dir`` and a note on what was drawn from.
    """
    try:
        from . import plot
    except ImportError:
        return [], "figures not drawn: spikefa.plot is not installed"
    finished = [t for t in plan.tasks if t.status == "finished"]
    if not finished:
        return [], "figures not drawn: no run finished"
    paths = [plan.run_path(t) for t in finished]
    part_dir = os.path.join(out_dir, part.name)
    fig_dir = os.path.join(part_dir, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    try:
        source = paths[0] if len(paths) == 1 else merge_runs(paths, os.path.join(part_dir, "merged.h5"))
        written = plot.plot_all(source, fig_dir)
    except (SpikefaError, OSError, KeyError, ValueError) as exc:
        return [], f"figures not drawn: {exc}"
    pngs = [p for paths_ in written.values() for p in paths_ if p.endswith(".png")]
    note = f"from {len(paths)} runs" if len(paths) > 1 else f"from run {finished[0].id}"
    return [os.path.relpath(p, out_dir) for p in pngs], note


@dataclass
class PartReport:
    part: Part
    plan: SweepPlan | None
    outcome: SweepOutcome | None = None
    figures: list = field(default_factory=list)
    figures_note: str = ""
    plot_s: float = 0.0
    skipped_reason: str = ""


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        import psutil
        mem = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except ImportError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
            "python": platform.python_version()}


def versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("spikefa", "numpy", "numba", "scipy", "h5py", "matplotlib", "dask", "distributed"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def part_sizes(parts: list[Part], quick: bool, full_parts: str | None) -> dict:
    """Part name -> "quick" or "full": all full unless ``quick``; ``full_parts`` names parts run at
    full size while the others stay quick."""
    full = set()
    if full_parts:
        full = {p.name for p in select_parts(full_parts)}
    return {p.name: "full" if (not quick or p.name in full) else "quick" for p in parts}


def reproduce(out_dir: str, *, quick: bool = True, full_parts: str | None = None, only: str | None = None,
              scheduler: str | None = None, workers: int | None = None, seeds: int | None = None,
              models: str | None = None, sets=(), show_progress: bool = True, echo: bool = True,
              reuse_from: str | None = None, report_only: bool = False) -> "Report":
    """Run the selected parts, draw, check the claims, write ``out_dir/report.md``.

    Every part runs its quick size when ``quick`` (its full size otherwise); ``full_parts``
    ("fig2,fig5") runs those parts at full size and the others quick. ``sets`` holds
    "PART:KEY=VALUE" overrides (e.g. "fig4:network.backend=cuda"). ``reuse_from`` is a report
    folder (the committed ``reports/full``) whose finished run files are copied in first, so
    a fresh machine resumes a study from what earlier sessions committed. ``report_only`` runs
    nothing: the report of what is finished, saying what is not.
    """
    t0 = time.perf_counter()
    started = _dt.datetime.now()
    parts = select_parts(only)
    sizes = part_sizes(parts, quick, full_parts)
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    planned, missing = plan_parts(parts, out_dir, sizes, models, seeds, parse_part_sets(sets))
    if reuse_from and os.path.abspath(reuse_from) != out_dir:
        for part, plan in planned:
            n = reuse_finished_runs(plan, os.path.join(reuse_from, part.name))
            if n and echo:
                print(f"{part.name}: {n} finished runs taken from {os.path.join(reuse_from, part.name)}")
    if not planned:
        reasons = "; ".join(f"{p.name}: {why}" for p, why in missing)
        raise ConfigError(f"nothing to reproduce ({reasons}); run from a checkout of spikefa or give --models DIR")
    if echo and not report_only:
        n_workers = workers or os.cpu_count() or 1
        for part, plan in planned:
            done = mark_finished_tasks(plan)
            seconds = projected_seconds(plan)
            if seconds:
                print(f"{part.name}: {len(plan.tasks) - done} of {len(plan.tasks)} runs to go, projected "
                      f"{_duration(seconds)} of task time (about {_duration(seconds / n_workers)} on "
                      f"{n_workers} workers)", flush=True)
    outcomes = run_sweeps([plan for _, plan in planned], scheduler=scheduler, workers=workers,
                          show_progress=show_progress, echo=echo, execute=not report_only)
    for _, plan in planned:
        for t in plan.tasks:
            if t.status == "finished" and os.path.isfile(plan.run_path(t)):
                compact_run(plan.run_path(t))
    reports = {p.name: PartReport(p, None, skipped_reason=why) for p, why in missing}
    for (part, plan), outcome in zip(planned, outcomes):
        rep = PartReport(part, plan, outcome)
        t = time.perf_counter()
        rep.figures, rep.figures_note = draw_figures(part, plan, out_dir)
        rep.plot_s = time.perf_counter() - t
        reports[part.name] = rep
    results = []
    for claim in CLAIMS:
        if claim.part not in {p.name for p in parts}:
            continue
        rep = reports.get(claim.part)
        runs = None
        if rep is not None and rep.plan is not None:
            done = [t for t in rep.plan.tasks if t.status == "finished"]
            runs = Runs(rep.part, rep.plan, [rep.plan.run_path(t) for t in done], done)
        results.append(evaluate(claim, runs, sizes[claim.part] == "quick"))
    wall = time.perf_counter() - t0
    text = render_report([reports[p.name] for p in parts], results, sizes=sizes, wall_s=wall, started=started,
                         command=_command_line(sizes, only, scheduler, workers, seeds, sets, report_only),
                         appendix_dirs=(reuse_from,))
    path = os.path.join(out_dir, REPORT_NAME)
    try:
        with open(path + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the report ({exc.strerror}); choose another --out") from None
    report = Report(path, results, sum(rep.plan.counts()["failed"] for rep in reports.values() if rep.plan))
    if echo:
        reached = sum(r.status == "reached" for r in results)
        failed = f"; {report.failed_tasks} runs failed (see the report)" if report.failed_tasks else ""
        print(f"{reached} of {len(results)} claims reached{failed}; report: {path}  ({wall / 60:.1f} min)")
    return report


@dataclass
class Report:
    path: str
    claims: list[ClaimResult]
    failed_tasks: int


def _command_line(sizes, only, scheduler, workers, seeds, sets=(), report_only=False) -> str:
    full = [name for name, size in sizes.items() if size == "full"]
    if not full:
        size = "--quick"
    elif len(full) == len(sizes):
        size = "--full"
    else:
        size = "--full " + ",".join(full)
    parts = ["spikefa reproduce", size]
    if only:
        parts.append(f"--only {only}")
    if seeds:
        parts.append(f"--seeds {seeds}")
    if workers:
        parts.append(f"--workers {workers}")
    if scheduler:
        parts.append(f"--scheduler {scheduler}")
    parts += [f"--set {item}" for item in sets]
    if report_only:
        parts.append("--report-only")
    return " ".join(parts)


# -- the report -------------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def appendix_lines(part: Part, out_dir: str, search: tuple = ()) -> list[str]:
    """The part's appendix files (from its folder, else from a committed report's), copied into
    its folder so the report's links work, as report lines."""
    import shutil

    lines = []
    for name in part.appendix:
        stem = os.path.splitext(name)[0]
        for folder in (out_dir, *(os.path.join(d, part.name) for d in search if d)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                continue
            for extra in (name, stem + ".png", stem + ".json"):
                src, dst = os.path.join(folder, extra), os.path.join(out_dir, extra)
                if os.path.isfile(src) and os.path.abspath(src) != os.path.abspath(dst):
                    shutil.copyfile(src, dst)
            with open(os.path.join(out_dir, name)) as fh:
                lines += [fh.read().rstrip(), ""]
            if os.path.isfile(os.path.join(out_dir, stem + ".png")):
                rel = os.path.join(os.path.basename(out_dir), stem + ".png")
                lines += [f"![{stem}.png]({rel})", ""]
            break
    return lines


def render_report(parts: list[PartReport], results: list[ClaimResult], *, sizes: dict, wall_s: float,
                  started, command: str, appendix_dirs: tuple = ()) -> str:
    full = [rep.part.name for rep in parts if sizes[rep.part.name] == "full"]
    quick = [rep.part.name for rep in parts if sizes[rep.part.name] == "quick"]
    reached = sum(r.status == "reached" for r in results)
    reused = sum(rep.outcome.skipped for rep in parts if rep.outcome)
    total = sum(len(rep.plan.tasks) for rep in parts if rep.plan)
    task_time = sum(rep.outcome.task_seconds for rep in parts if rep.outcome)
    made = f"Made by `{command}` on {started:%Y-%m-%d %H:%M}, in {_duration(wall_s)} of wall time"
    unfinished = [(rep.part.name, rep.plan.counts()["finished"], len(rep.plan.tasks)) for rep in parts
                  if rep.plan and rep.plan.counts()["finished"] < len(rep.plan.tasks)]
    if reused:
        made += (f" ({reused} of {total} runs were already finished in this folder from an earlier "
                 f"invocation and were reused)")
    lines = [
        "# spikefa: what it reproduces of Lillicrap et al. (2016)",
        "",
        f"{made}; the runs took {_duration(task_time)} of task time in all. "
        f"{reached} of {len(results)} claims reached.",
        "",
    ]
    if unfinished:
        lines += ["**Partial:** " + "; ".join(f"{name}: {done} of {total} runs finished" for name, done, total
                                              in unfinished)
                  + ". Its claims read the finished runs only; the same command resumes the rest.", ""]
    quick_text = ("ran its scaled-down `--quick` version (fewer examples, smaller networks, fewer seeds), so "
                  "absolute numbers such as test errors are not expected to reach the paper's; the "
                  "qualitative claims should hold")
    full_text = "ran the paper's protocol as its model file states it (the model files' comments say where they differ)"
    if not full:
        lines += [f"**Size: quick.** Every part {quick_text}. Run `spikefa reproduce --full` for the paper's "
                  "protocol.", ""]
    elif not quick:
        lines += [f"**Size: full.** Every part {full_text}.", ""]
    else:
        lines += [f"**Size: mixed.** Full size: {', '.join(full)}: each {full_text}. Quick size: "
                  f"{', '.join(quick)}: each {quick_text}.", ""]
    lines += ["## Claims", "",
              "| Figure | Claim | Paper | Reached when ours is | Ours (mean ± std, n) | Result |",
              "|---|---|---|---|---|---|"]
    for r in results:
        c = r.claim
        result = {"reached": "reached", "missed": "**missed**", "no data": "no data"}[r.status]
        if r.note:
            result += f" ({r.note})"
        lines.append("| " + " | ".join(_md_cell(x) for x in (
            c.figure, c.text, c.paper, c.check.describe(c.unit), format_ours(r), result)) + " |")
    lines += ["", "n counts runs (seeds); a p-value's n is the two samples' sizes.", "",
              "## Parts", "",
              "Parts ran together on one Dask cluster, so their spans (first task start to last task "
              "end) overlap; task time is the sum of the wall times of the part's tasks.", "",
              "| Part | Figure | Model file | Size | Seeds | Tasks finished / failed | Span | Task time | Figures |",
              "|---|---|---|---|---|---|---|---|---|"]
    for rep in parts:
        p = rep.part
        if rep.plan is None:
            lines.append(f"| {p.name} | {p.figure} | models/{p.model} | not run | — | — | — | — | "
                         f"{_md_cell(rep.skipped_reason)} |")
            continue
        c = rep.plan.counts()
        o = rep.outcome
        sets = " ".join(f"`--set {k}={','.join(v)}`" for k, v in rep.plan.grid.items())
        lines.append("| " + " | ".join(_md_cell(x) for x in (
            p.name, p.figure, f"models/{p.model}", sizes[p.name] + (f" {sets}" if sets else ""), len(rep.plan.seeds),
            f"{c['finished']} / {c['failed']}" + (f" of {len(rep.plan.tasks)}" if c['finished'] + c['failed'] <
                                                   len(rep.plan.tasks) else ""), _duration(o.elapsed_s if o else None),
            _duration(o.task_seconds if o else None), _duration(rep.plot_s))) + " |")
    for rep in parts:
        if rep.plan is None:
            continue
        lines += ["", f"### {rep.plan.title or rep.part.figure}", ""]
        if rep.part.about:
            lines += [rep.part.about, ""]
        if rep.part.protocol and sizes[rep.part.name] == "full":
            lines += [f"**Protocol.** {rep.part.protocol}", ""]
        failed = [t for t in rep.plan.tasks if t.status == "failed"]
        for t in failed:
            lines.append(f"- task `{t.id}` failed: {_md_cell(t.error)}")
        if failed:
            lines.append("")
        if rep.outcome:
            # paths inside the report's folder shown relative to it, so the report can move
            table = summary_table(rep.plan, summarize(rep.plan), relative_to=os.path.dirname(rep.plan.out_dir))
            lines += ["```", table, "```", ""]
        for fig in rep.figures:
            lines.append(f"![{os.path.basename(fig)}]({fig})")
        if rep.figures:
            lines.append("")
        if rep.figures_note:
            lines += [f"Figures drawn {rep.figures_note}." if rep.figures_note.startswith("from")
                      else rep.figures_note[:1].upper() + rep.figures_note[1:] + ".", ""]
        if sizes[rep.part.name] == "full":
            lines += appendix_lines(rep.part, rep.plan.out_dir, appendix_dirs)
        lines += [f"Runs, index and summary: `{os.path.relpath(rep.plan.out_dir, os.path.dirname(rep.plan.out_dir))}/` "
                  f"(`sweep.json`, `summary.txt`, `runs/*.h5`: the finished run files, compacted; a "
                  f"rerun into this folder skips them).", ""]
    m = machine_info()
    lines += ["## Machine", "",
              f"- CPU: {m['cpu']}, {m['cores']} cores", f"- memory: {m['memory'] or 'unknown'}",
              f"- OS: {m['os']}, Python {m['python']}", "", "## Versions", ""]
    lines += [f"- {k} {v}" for k, v in versions().items()]
    lines += ["", "## How each claim is read from the run files", ""]
    for r in results:
        lines.append(f"- {r.claim.figure}, {r.claim.text}: {r.claim.ours.describe()}")
    lines.append("")
    return "\n".join(lines)
