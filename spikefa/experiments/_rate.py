"""What the rate-network experiments share: schema pieces, building nets, and the training loop
of one arm on a regression task with evaluations, angles and metrics written as it goes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import Field
from ..errors import ConfigError
from ..rate import metrics
from ..rate.network import ACTIVATIONS, RateNet
from ..rate.rules import RULES
from ..rate.train import Scratch, draw_noise, train

# rules whose hidden teaching signal can be compared with backprop's (angle_delta)
ALIGNING_RULES = ("fa", "fa_fprime", "dfa")


def sizes_field(default, doc="layer sizes, input first") -> Field:
    return Field(default, "list[int]", doc, min=1, max=100_000, min_len=3, max_len=64)


def scale_field(default, doc) -> Field:
    return Field(default, "list[float]", doc + " (one value, or one per layer)", min=0, min_exclusive=True,
                 min_len=1)


def rules_field(default, doc="learning rules, one arm each") -> Field:
    return Field(default, "list[str]", doc, choices=RULES, min_len=1)


def eta_table(defaults: dict, doc: str) -> dict:
    return {rule: Field(defaults.get(rule, defaults["bp"]), "float", f"learning rate of {rule}; {doc}",
                        min=0, min_exclusive=True) for rule in RULES}


def activation_field(default, doc) -> Field:
    return Field(default, "str", doc, choices=ACTIVATIONS)


def seeded(*words: int) -> np.random.Generator:
    """An independent numpy generator for a tuple of integers (seed, purpose, run, ...)."""
    return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))


# purposes of the generators, so every draw has its own stream
TASK, TEST, STREAM, WEIGHTS, FEEDBACK, NOISE = range(6)


def refuse_resume(ctx, experiment: str) -> None:
    """The short regression experiments keep no checkpoints: say so rather than ignore --resume."""
    if getattr(ctx, "resume", None):
        raise ConfigError(f"--resume: {experiment} keeps no checkpoints (it runs in minutes); run it again "
                          f"without --resume")


def append_block(out, name: str, values, attrs: dict | None = None) -> None:
    """Append many scalar samples to /metrics/NAME at once."""
    out.extend(name, np.asarray(values, np.float64).ravel(), attrs)


@dataclass
class ArmResult:
    nse: list[float] = field(default_factory=list)
    examples: list[int] = field(default_factory=list)
    angles: list[np.ndarray] = field(default_factory=list)
    phases: list[int] = field(default_factory=list)

    @property
    def final_nse(self) -> float:
        return self.nse[-1] if self.nse else float("nan")

    def delta_angles(self) -> np.ndarray:
        return np.concatenate(self.angles) if self.angles else np.zeros(0)

    def examples_to(self, level: float) -> float:
        """Examples seen at the first evaluation whose NSE fell below ``level`` (NaN if none)."""
        for n, v in zip(self.examples, self.nse):
            if v < level:
                return float(n)
        return float("nan")


@dataclass
class Phase:
    """A stretch of training with some weight layers frozen (Figure 5c)."""

    examples: int
    frozen: tuple[int, ...] = ()
    number: int = 0


def train_regression(out, prefix: str, net: RateNet, rule: str, eta: float, task, *, stream_seed,
                     test, eval_every: int, phases: list[Phase], sigma: float = 0.0, noise_seed=None,
                     record_delta: bool = False, angle_window: int = 10, weight_angles: bool = False,
                     bar=None) -> ArmResult:
    """Train ``net`` per example on the task's stream, evaluating NSE on ``test`` every
    ``eval_every`` examples; write /metrics/<prefix>/... as it goes.

    ``phases`` (at least one) say how many examples to train with which layers frozen; all
    arms given the same ``stream_seed`` see the same examples in the same order.
    """
    X_test, Y_test = test
    stream = seeded(*stream_seed)
    noise_rng = seeded(*noise_seed) if noise_seed is not None else None
    scratch = Scratch.for_net(net)
    result = ArmResult()
    record_delta = record_delta and rule in ALIGNING_RULES
    x_attr = {"x": "angle_delta_examples_seen"}
    seen = 0

    def evaluate(phase_number: int):
        value = metrics.nse(Y_test, net.predict(X_test))
        result.nse.append(value)
        result.examples.append(seen)
        out.append(f"{prefix}/examples_seen", seen)
        out.append(f"{prefix}/nse", value)
        if phase_number:
            result.phases.append(phase_number)
            out.append(f"{prefix}/phase", phase_number)
        if weight_angles:
            out.append(f"{prefix}/angle_W_BT", metrics.angle_W_BT(net))
            out.append(f"{prefix}/angle_W_pinvB", metrics.angle_W_pinvB(net))
            out.append(f"{prefix}/angle_units", metrics.angle_units(net))

    evaluate(phases[0].number)
    window_tail = np.zeros(0)
    for phase in phases:
        net.freeze(*phase.frozen)
        left = phase.examples
        while left > 0:
            n = min(eval_every, left)
            X, Y = task.sample(n, stream)
            noise = draw_noise(net, n, noise_rng) if rule == "node_perturbation" else None
            try:
                angles = train(net, X, Y, rule, eta, noise=noise, sigma=sigma, record_angle=record_delta,
                               scratch=scratch, examples_before=seen)
            finally:
                out.flush()
            if record_delta:
                result.angles.append(angles)
                # sliding stats need the previous window's tail to continue across blocks
                joined = np.concatenate([window_tail, angles])
                mean, std = metrics.sliding_stats(joined, angle_window)
                k = window_tail.size
                append_block(out, f"{prefix}/angle_delta_examples_seen", seen + 1 + np.arange(n))
                append_block(out, f"{prefix}/angle_delta", angles)
                append_block(out, f"{prefix}/angle_delta_mean", mean[k:], x_attr)
                append_block(out, f"{prefix}/angle_delta_std", std[k:], x_attr)
                window_tail = joined[-(angle_window - 1):] if angle_window > 1 else np.zeros(0)
            seen += n
            left -= n
            evaluate(phase.number)
            if bar is not None:
                bar.update(n)
    net.freeze()
    return result
