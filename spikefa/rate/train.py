"""Training drivers: per-example updates through the Numba kernel, mini-batches through numpy.

``train(net, X, Y, rule, eta, ...)`` is the one entry point experiments use. With batch_size 1
and backend "numba" it runs kernels.train_block; backend "numpy" (or batch_size > 1) runs the
specification in rules.py. Both give the same result for the same inputs (tests check it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DivergenceError
from . import kernels
from .network import ACTIVATION_CODE, RateNet
from .rules import RULE_CODE, check_rule, train_numpy

BACKENDS = ("numba", "numpy")


@dataclass
class Scratch:
    """Work vectors of the kernel for one network shape, reused across blocks."""

    Hs: tuple
    Hps: tuple
    Gs: tuple
    Ds: tuple
    err: np.ndarray
    dbp: np.ndarray

    @classmethod
    def for_net(cls, net: RateNet) -> "Scratch":
        dt = net.dtype
        sizes = net.sizes
        return cls(Hs=tuple(np.zeros(n, dt) for n in sizes[1:]),
                   Hps=tuple(np.zeros(n, dt) for n in sizes[1:]),
                   Gs=tuple(np.zeros(n, dt) for n in sizes[1:]),
                   Ds=tuple(np.zeros(n, dt) for n in sizes[1:-1]),
                   err=np.zeros(sizes[-1], dt), dbp=np.zeros(sizes[-2], dt))


_NO_NOISE = np.zeros((0, 0), np.float32)


def draw_noise(net: RateNet, n: int, rng: np.random.Generator) -> np.ndarray:
    """Standard normal perturbations for node perturbation: one row per example."""
    return rng.standard_normal((n, sum(net.sizes[1:])), dtype=np.float32).astype(net.dtype, copy=False)


def _raise_divergence(net: RateNet, step: int, layer: int | None, examples_before: int):
    where = f"layer {layer + 1} (weights W{layer})" if layer is not None else "an unknown layer"
    raise DivergenceError(
        f"training diverged at example {examples_before + step}: NaN or inf in the input sum of {where}; "
        f"lower the learning rate", step=examples_before + step, layer=layer)


def train(net: RateNet, X: np.ndarray, Y: np.ndarray, rule: str, eta: float, *, decay: float = 0.0,
          order: np.ndarray | None = None, batch_size: int = 1, backend: str = "numba",
          noise: np.ndarray | None = None, sigma: float = 0.0, record_angle: bool = False,
          scratch: Scratch | None = None, examples_before: int = 0) -> np.ndarray:
    """Train ``net`` in place on X[order] (default: every row in turn); return per-example angles
    between the rule's and backprop's teaching signal at the top hidden layer (degrees; empty
    unless ``record_angle``; numba backend only).

    Raises DivergenceError naming the example (counted from ``examples_before``) and the layer
    where NaN or inf appeared.
    """
    check_rule(rule, net)
    if backend not in BACKENDS:
        raise ConfigError(f"rate backend {backend!r} unknown; expected one of {', '.join(BACKENDS)}")
    if rule == "node_perturbation" and (noise is None or sigma <= 0):
        raise ConfigError("node_perturbation needs noise rows (draw_noise) and a noise scale sigma > 0")
    order = np.arange(X.shape[0], dtype=np.int64) if order is None else np.asarray(order, dtype=np.int64)
    if backend == "numpy" or batch_size > 1:
        if record_angle:
            raise ConfigError("per-example angles are recorded by the numba backend with batch_size 1")
        with np.errstate(over="ignore", invalid="ignore"):
            train_numpy(net, X, Y, rule, eta, decay, order, batch_size, noise, sigma)
        layer = net.first_nonfinite_layer()
        if layer is not None:
            _raise_divergence(net, order.size - 1, layer, examples_before)
        return np.zeros(0)
    net.normalise_layout()
    dt = net.dtype
    X = np.ascontiguousarray(X, dtype=dt)
    Y = np.ascontiguousarray(Y, dtype=dt)
    scratch = scratch or Scratch.for_net(net)
    WTs = tuple(w.T for w in net.W)
    masks = tuple(m.T for m in net.W_mask) if net.W_mask is not None else tuple(
        np.zeros((1, 1), dt) for _ in net.W)
    learns = np.array([0 if f else 1 for f in net.frozen], np.int64)
    scales = np.ones(net.n_layers, np.float64)
    angles = np.full(order.size if record_angle else 0, np.nan, np.float64)
    noise_arr = _NO_NOISE.astype(dt) if noise is None else np.ascontiguousarray(noise, dtype=dt)
    step, layer = kernels.train_block(
        WTs, tuple(net.b), tuple(net.B), masks, X, Y, order, RULE_CODE[rule],
        ACTIVATION_CODE[net.hidden], ACTIVATION_CODE[net.output], float(eta), float(decay), learns,
        net.W_mask is not None, noise_arr, dt.type(sigma), scratch.Hs, scratch.Hps, scratch.Gs,
        scratch.Ds, scratch.err, scratch.dbp, scales, angles, record_angle)
    kernels.fold_scales(WTs, scales)
    if step >= 0:
        _raise_divergence(net, step, layer, examples_before)
    bad = net.first_nonfinite_layer()
    if bad is not None:
        _raise_divergence(net, order.size - 1, bad, examples_before)
    return angles
