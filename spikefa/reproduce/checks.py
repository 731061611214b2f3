"""What decides "reached": a check of our mean against the paper's value, and a claim's result."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import SpikefaError
from .extract import Runs


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
    missed_because: str = ""        # at full size, what the report's evidence shows about a miss


def _num(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.2g}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


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
    note = ""
    if status == "missed" and quick and claim.full_size_only:
        note = "quick size: not expected to reach the paper's value"
    elif status == "missed" and not quick and claim.missed_because:
        note = claim.missed_because
    return ClaimResult(claim, values, mean, std, n, status, note)


def _mean_text(r: ClaimResult) -> str:
    """The mean at three digits, or at as many more as it takes not to print a miss (or a reach) as
    the very value it was checked against (1.8025 beside a target of 1.8 is 1.8025, not 1.8)."""
    text, bound = _num(r.mean), r.claim.check.value
    digits = 4
    while text == _num(bound) and r.mean != bound and digits <= 8:
        text = f"{r.mean:.{digits}g}"
        digits += 1
    return text


def format_ours(r: ClaimResult) -> str:
    if r.status == "no data":
        return "—"
    unit = r.claim.unit
    if r.n.isdigit() and int(r.n) > 1:
        return f"{_mean_text(r)} ± {_num(r.std)}{unit} (n={r.n})"
    return f"{_mean_text(r)}{unit} (n={r.n})"
