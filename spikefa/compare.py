"""How far the rate model describes the spiking network: measurements on SpikingNetwork pairs.

The rate limit of a spiking network is the same network class in mode "rate" (every Bernoulli
sample replaced by its probability). For weights W and an input stream, three measurements:

- activity distance: the spiking network shown each probe image K times (K parallel streams,
  independent spikes, plasticity off, from V = U = 0) gives the trial-averaged spike rate m_l(t)
  of every unit at every step; the rate network with the same weights gives r_l(t). Per layer,
  the distance is the root mean square of m - r over units, steps and images, with the sampling
  noise of a K-trial mean removed (E[(m - r)^2] = bias^2 + var/K, var estimated from the
  trials), so it estimates how far the *expected* spiking activity is from the rate model's and
  does not shrink just because K grows. Units: spike probability per step (0..1).
- update angle: the weight change the spiking network makes on the probe images (averaged over
  the K trials: K streams share the weights and their updates add up, at eta / K) against the
  change the rate network makes on the same images from the same weights; per layer, degrees.
- drift angle: for two networks trained side by side from the same initial weights W_0, the angle
  between their accumulated updates W_spiking(t) - W_0 and W_rate(t) - W_0; per layer, degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rate.metrics import angle
from .spiking import SpikingNetwork, SpikingParams


def _host(a) -> np.ndarray:
    """A layer_state array as host numpy (device arrays under the cuda backend are copied)."""
    copy = getattr(a, "copy_to_host", None)
    return np.asarray(copy() if copy is not None else a)


def clone(net: SpikingNetwork, **changes) -> SpikingNetwork:
    """A fresh network (V = U = 0, counters at 0) with ``net``'s weights and ``changes`` to its parameters."""
    twin = SpikingNetwork(net.params.replace(**changes))
    copy_weights(net, twin)
    return twin


def copy_weights(src: SpikingNetwork, dst: SpikingNetwork) -> None:
    """dst's W, b and B become src's true ones (writing folds dst's pending decay; reading src changes nothing)."""
    for mine, theirs in ((dst.W, src.W), (dst.b, src.b), (dst.B, src.B)):
        for a, b in zip(mine, theirs):
            if a is not None and b is not None:
                a[...] = b


class _LayerActivity:
    """Observer: per step and layer, the mean and unbiased variance of the spikes over streams."""

    reads_weights = False

    def __init__(self, n_layers: int):
        self.layers = range(1, n_layers + 1)
        self.mean = {l: [] for l in self.layers}
        self.var = {l: [] for l in self.layers}

    def on_step(self, net):
        for l in self.layers:
            s = _host(net.layer_state("spikes", l, stream=None)).astype(np.float64)
            self.mean[l].append(s.mean(axis=0))
            self.var[l].append(s.var(axis=0, ddof=1) if s.shape[0] > 1 else np.zeros(s.shape[1]))

    def arrays(self, l):
        return np.stack(self.mean[l]), np.stack(self.var[l])


def _present(net: SpikingNetwork, images: np.ndarray, labels: np.ndarray, observer=None) -> None:
    """Show each image to every stream of ``net`` (a network built with shuffle off) for N steps."""
    S = net.params.streams
    repeated = np.repeat(images, S, axis=0)
    if observer is not None:
        net.add_observer(observer)
    try:
        net.train(repeated, np.repeat(labels, S), n_images=repeated.shape[0])
    finally:
        if observer is not None:
            net.remove_observer(observer)


@dataclass
class ActivityDistance:
    """Per layer l = 1..L: the distance, and the smallest distance the trials could resolve."""

    distance: np.ndarray      # (L,) RMS of E[spiking] - rate, spike probability per step
    resolution: np.ndarray    # (L,) distance of two standard errors of the squared-bias estimate


def activity_distance(net: SpikingNetwork, images: np.ndarray, labels: np.ndarray, trials: int) -> ActivityDistance:
    """Distance between trial-averaged spiking and rate activity (see the module doc).

    The squared bias is estimated as the mean over units, steps and images of
    (m - r)^2 - var / K. With no bias each term is trial noise of standard deviation about
    sqrt(2) var / K, so ``resolution`` = sqrt(2 standard errors of that mean) is the distance a
    network whose expected activity equals the rate model's would still show now and then: below
    it a result cannot be told from 0 with this many trials and probe images (units and steps
    treated as independent, so it is a lower bound).
    """
    if trials < 2:
        raise ValueError("activity_distance needs at least 2 trials to estimate the spike noise")
    L = net.params.n_layers
    spiking = clone(net, mode="spiking", streams=trials, eta=0.0, gamma=0.0, shuffle=False)
    rate = clone(net, mode="rate", streams=1, eta=0.0, gamma=0.0, shuffle=False)
    seen_spiking, seen_rate = _LayerActivity(L), _LayerActivity(L)
    _present(spiking, images, labels, seen_spiking)
    _present(rate, images, labels, seen_rate)
    distance, resolution = np.empty(L), np.empty(L)
    for l in range(1, L + 1):
        m, var = seen_spiking.arrays(l)
        r, _ = seen_rate.arrays(l)
        squared_bias = np.mean((m - r) ** 2 - var / trials)
        noise_se = np.sqrt(2.0) * np.mean(var) / trials / np.sqrt(var.size)
        distance[l - 1] = np.sqrt(max(squared_bias, 0.0))
        resolution[l - 1] = np.sqrt(2 * noise_se)
    return ActivityDistance(distance, resolution)


def update_angle(net: SpikingNetwork, images: np.ndarray, labels: np.ndarray, trials: int) -> np.ndarray:
    """Per layer: angle (degrees) between the trial-averaged spiking update and the rate update."""
    p = net.params
    spiking = clone(net, mode="spiking", streams=trials, eta=p.eta / trials, gamma=0.0, shuffle=False)
    rate = clone(net, mode="rate", streams=1, gamma=0.0, shuffle=False)
    before = [None] + [w.copy() for w in net.W[1:]]
    _present(spiking, images, labels)
    _present(rate, images, labels)
    return np.array([angle(spiking.W[l] - before[l], rate.W[l] - before[l]) for l in range(1, p.n_layers + 1)])


def drift_angle(spiking: SpikingNetwork, rate: SpikingNetwork, initial: list) -> np.ndarray:
    """Per layer: angle between W_spiking - W_0 and W_rate - W_0 (``initial`` = [None, W_1, ...])."""
    return np.array([angle(spiking.W[l] - initial[l], rate.W[l] - initial[l])
                     for l in range(1, spiking.params.n_layers + 1)])


@dataclass
class Evaluation:
    """One evaluation of a spiking network and its rate limit trained side by side."""

    images: int
    spiking_error: float
    rate_error: float
    activity_distance: np.ndarray     # (L,)
    activity_resolution: np.ndarray   # (L,)
    update_angle: np.ndarray          # (L,)
    drift_angle: np.ndarray           # (L,)


class Pair:
    """A spiking network and its rate limit from the same initial weights, on the same image stream.

    Both are built from ``params`` (mode set to "spiking" and "rate"); the same seed gives the same
    weights, feedback matrices and data order, and the rate network's weights are copied from the
    spiking one's so they are the same whatever the construction does.
    """

    def __init__(self, params: SpikingParams):
        self.spiking = SpikingNetwork(params.replace(mode="spiking"))
        self.rate = SpikingNetwork(params.replace(mode="rate"))
        copy_weights(self.spiking, self.rate)
        self.initial = [None] + [w.copy() for w in self.spiking.W[1:]]

    def train(self, images, labels, n_images: int, callback=None) -> None:
        self.spiking.train(images, labels, n_images, callback=callback)
        self.rate.train(images, labels, n_images)

    def evaluate(self, test_images, test_labels, probe_images, probe_labels, trials: int) -> Evaluation:
        activity = activity_distance(self.spiking, probe_images, probe_labels, trials)
        return Evaluation(
            images=self.spiking.images_seen,
            spiking_error=self.spiking.test(test_images, test_labels),
            rate_error=self.rate.test(test_images, test_labels),
            activity_distance=activity.distance,
            activity_resolution=activity.resolution,
            update_angle=update_angle(self.spiking, probe_images, probe_labels, trials),
            drift_angle=drift_angle(self.spiking, self.rate, self.initial))
