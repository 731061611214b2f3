"""numpy (the specification) and the Numba CPU backend agree step by step; spikes are the counter-based draws."""

import numpy as np
import pytest

from spikefa import rng
from spikefa.spiking import SpikingNetwork, SpikingParams

SMALL = dict(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3,
             feedback_scale=0.5, test_streams=4)


def data(n=40, n_in=20, classes=5, seed=0):
    r = np.random.default_rng(seed)
    return r.random((n, n_in)).astype(np.float32), r.integers(0, classes, n)


class Trace:
    """Observer keeping every variable of every layer at every step."""

    def __init__(self):
        self.steps, self.rows = [], []

    def on_step(self, net):
        L = net.params.n_layers
        row = {("spikes", 0): net.layer_state("spikes", 0, stream=None).copy()}
        for layer in range(1, L + 1):
            for var in ("spikes", "V", "U", "mod"):
                row[(var, layer)] = net.layer_state(var, layer, stream=None).copy()
        self.steps.append(net.step)
        self.rows.append(row)


def run_traced(backend, n_images=40, **kw):
    net = SpikingNetwork(SpikingParams(**{**SMALL, **kw, "backend": backend}))
    trace = Trace()
    net.add_observer(trace)
    X, y = data()
    net.train(X, y, n_images)
    return net, trace


def assert_same_run(ref, ref_trace, net, trace, rate: bool):
    """Identical spikes (in spiking mode), and every variable and weight within float32 rounding."""
    assert ref_trace.steps == trace.steps == list(range(1, -(-40 // ref.params.streams) * 5 + 1))
    for t, (a, b) in enumerate(zip(ref_trace.rows, trace.rows)):
        for key in a:
            if key[0] == "spikes" and not rate:
                assert np.array_equal(a[key], b[key]), f"spikes of layer {key[1]} differ at step {t + 1}"
            else:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=2e-5, err_msg=f"{key} at step {t + 1}")
    for layer in range(1, ref.params.n_layers + 1):
        np.testing.assert_allclose(ref.W[layer], net.W[layer], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ref.b[layer], net.b[layer], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kw", [
    dict(feedback="fa"),
    dict(feedback="bp", streams=5),
    dict(feedback="direct", sparse=0.4),
    dict(feedback="none", phi="linear"),
    dict(feedback="fa", mode="rate", streams=2),
], ids=["fa", "bp-5streams", "direct-sparse", "shallow-linear", "rate-2streams"])
def test_cpu_matches_numpy_step_by_step(kw):
    ref, ref_trace = run_traced("numpy", **kw)
    cpu, cpu_trace = run_traced("cpu", **kw)
    assert_same_run(ref, ref_trace, cpu, cpu_trace, kw.get("mode") == "rate")
    # learning happened, and the masked synapses stayed removed
    assert not np.allclose(cpu.W[3], SpikingNetwork(SpikingParams(**{**SMALL, **kw})).W[3])
    if kw.get("sparse"):
        for layer in range(1, 4):
            assert np.all(cpu.W[layer][~cpu.masks[layer]] == 0)
    if kw.get("feedback") == "none":
        fresh = SpikingNetwork(SpikingParams(**{**SMALL, **kw}))
        assert np.array_equal(cpu.W[1], fresh.W[1]) and np.array_equal(cpu.W[2], fresh.W[2])


def test_spikes_are_the_counter_based_draws():
    net, trace = run_traced("cpu", n_images=4)
    X, _ = data()
    order = net.epoch_order(0, len(X))
    for t, row in enumerate(trace.rows):
        x = X[order[t // 5]]
        expected = rng.bernoulli(net.params.seed, t, rng.layer_key(0, 0, 0), np.minimum(x, np.float32(0.95)))
        assert np.array_equal(row[("spikes", 0)][0], expected)
    # hidden layer spikes at the last step: Bernoulli(sigma(V)) with this layer's key
    last = trace.rows[-1]
    p = 1 / (1 + np.exp(-last[("V", 1)][0].astype(np.float64)))
    u = rng.uniform(net.params.seed, len(trace.rows) - 1, rng.layer_key(1, 0, 0), np.arange(16))
    decided = np.abs(u - p) > 1e-5
    assert np.array_equal(last[("spikes", 1)][0][decided], (u < p)[decided].astype(np.float32))


def test_lazy_decay_equals_eager_decay():
    """gamma large enough to matter: W <- (1 - gamma) W + eta D s^T in both backends."""
    ref, _ = run_traced("numpy", n_images=20, gamma=0.02, eta=0.0)
    cpu, _ = run_traced("cpu", n_images=20, gamma=0.02, eta=0.0)
    fresh = SpikingNetwork(SpikingParams(**SMALL))
    for layer in range(1, 4):
        expected = fresh.W[layer] * (1 - 0.02) ** 100
        np.testing.assert_allclose(ref.W[layer], expected, rtol=1e-4)
        np.testing.assert_allclose(cpu.W[layer], expected, rtol=1e-5)


@pytest.mark.parametrize("backend, kernel", [("numpy", "auto"), ("cpu", "spike-rows"), ("cpu", "gemm")])
def test_decay_below_float32_resolution_is_not_lost(backend, kernel):
    """The paper's gamma = 1e-8 rounds away in float32 (W - 1e-8 W == W); the float64 scale keeps it."""
    net = SpikingNetwork(SpikingParams(**{**SMALL, "gamma": 1e-8, "eta": 0.0, "streams": 8, "backend": backend,
                                          "cpu_kernel": kernel}))
    before = [w.copy() for w in net.W[1:]]
    X, y = data()
    net.train(X, y, 80)                        # 50 learning steps
    assert np.all(net.weights.scale < 1.0)     # pending, until net.W folds it in
    for w0, w1 in zip(before, net.W[1:]):      # 5e-7 relative: a lost decay would fail rtol=1e-7
        np.testing.assert_allclose(w1, w0 * (1 - 1e-8) ** 50, rtol=1e-7)


def test_streams_sum_their_plasticity():
    """Rate mode is deterministic: two streams on the same image change W twice as much as one."""
    X = np.full((1, 20), 0.5, dtype=np.float32)
    y = np.array([3])
    changes = []
    for S in (1, 2):
        net = SpikingNetwork(SpikingParams(**{**SMALL, "mode": "rate", "streams": S, "steps_per_image": 1,
                                              "gamma": 0.0}))
        before = [w.copy() for w in net.W[1:]]
        net.train(X, y, S)
        changes.append([w - b for w, b in zip(net.W[1:], before)])
    for one, two in zip(*changes):
        np.testing.assert_allclose(two, 2 * one, rtol=1e-5, atol=1e-9)


def test_streams_take_different_images_and_count_them():
    net = SpikingNetwork(SpikingParams(**{**SMALL, "streams": 4}))
    seen = []

    class Seen:
        def on_step(self, n):
            seen.append(n.image_indices.copy())

    net.add_observer(Seen())
    X, y = data()
    net.train(X, y, 10)                      # rounded up to 3 slots of 4 images
    assert net.images_seen == 12 and net.step == 15
    first_slot = seen[0]
    assert len(set(first_slot.tolist())) == 4
    assert all(np.array_equal(s, first_slot) for s in seen[:5])


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_rate_mode_with_tau_1_is_per_example_feedback_alignment(backend):
    """MODEL.md: rate mode with tau = 1 and N = 1 is the logistic network trained by FA, example by example."""
    p = SpikingParams(**{**SMALL, "mode": "rate", "tau": 1.0, "steps_per_image": 1, "phi": "linear", "gamma": 0.0,
                         "bias_scale": 0.1, "backend": backend})
    net = SpikingNetwork(p)
    W = [None] + [w.astype(np.float64) for w in net.W[1:]]
    b = [None] + [v.astype(np.float64) for v in net.b[1:]]
    B = net.B
    x = np.random.default_rng(2).random(20).astype(np.float32)
    label = 4
    h = [np.minimum(x, 0.95).astype(np.float64)]
    for layer in (1, 2, 3):
        h.append(1 / (1 + np.exp(-(W[layer] @ h[-1] + b[layer]))))
    target = np.zeros(10)
    target[label * 2:label * 2 + 2] = 1
    d = {3: target - h[3]}
    d[2] = B[2] @ d[3]
    d[1] = B[1] @ d[2]
    net.train(x[None], [label], 1)
    for layer in (1, 2, 3):
        expected = W[layer] + p.eta * np.outer(d[layer] * h[layer] * (1 - h[layer]), h[layer - 1])
        np.testing.assert_allclose(net.W[layer], expected, rtol=1e-5, atol=1e-7)
