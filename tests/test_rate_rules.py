"""The rate networks' rules: backprop against finite differences, the Numba kernel against the
numpy specification, masks, freezing, node perturbation's estimate, metrics, divergence."""

import numpy as np
import pytest

from spikefa.errors import DivergenceError
from spikefa.rate import metrics
from spikefa.rate.network import RateNet
from spikefa.rate.rules import RULES, descent_directions, loss, train_step
from spikefa.rate.train import draw_noise, train


def small_net(rule="bp", sparsity=0.0, dtype=np.float32, hidden="tanh", output="logistic", sizes=(8, 6, 5, 4)):
    return RateNet.init(list(sizes), np.random.default_rng(3), hidden=hidden, output=output, init_scale=0.5,
                        feedback_scale=0.5, direct_feedback=(rule == "dfa"), sparsity=sparsity, dtype=dtype)


def data(n, n_in=8, n_out=4, seed=4, sparse_inputs=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in)).astype(np.float32)
    if sparse_inputs:
        X[X < 0] = 0          # zero inputs take the kernel's skipping path
    return X, rng.random((n, n_out)).astype(np.float32)


@pytest.mark.parametrize("hidden,output", [("tanh", "logistic"), ("logistic", "linear"), ("linear", "linear")])
def test_backprop_matches_finite_differences(hidden, output):
    net = small_net(dtype=np.float64, hidden=hidden, output=output)
    X, Y = data(5)
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    directions = descent_directions(net, X, Y, "bp")
    eps = 1e-6
    for l in range(net.n_layers):
        dW, db = directions[l]
        for params, analytic in ((net.W[l], dW), (net.b[l], db)):
            numeric = np.zeros_like(params)
            for idx in np.ndindex(params.shape):
                old = params[idx]
                params[idx] = old + eps
                up = loss(net, X, Y)
                params[idx] = old - eps
                down = loss(net, X, Y)
                params[idx] = old
                numeric[idx] = -(up - down) / (2 * eps)
            np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("sparsity,decay", [(0.0, 0.0), (0.5, 1e-2)])
def test_numba_kernel_matches_numpy_spec(rule, sparsity, decay):
    net = small_net(rule, sparsity)
    X, Y = data(200)
    noise = draw_noise(net, X.shape[0], np.random.default_rng(5))
    fast, spec = net.copy(), net.copy()
    train(fast, X, Y, rule, 0.05, decay=decay, noise=noise, sigma=0.1)
    train(spec, X, Y, rule, 0.05, decay=decay, noise=noise, sigma=0.1, backend="numpy")
    for a, b in zip(fast.W + fast.b, spec.W + spec.b):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    moved = max(np.abs(a - b).max() for a, b in zip(fast.W, net.W))
    assert moved > 1e-3


def test_kernel_angles_match_reference():
    net = small_net("fa", sizes=(8, 6, 4))
    X, Y = data(30, n_out=4)
    replay = net.copy()
    angles = train(net, X, Y, "fa", 0.05, record_angle=True)
    expected = []
    for t in range(X.shape[0]):      # the angle of example t is taken before its own update
        expected.append(metrics.delta_angles(replay, X[t:t + 1], Y[t:t + 1], "fa")[0])
        train_step(replay, X[t:t + 1], Y[t:t + 1], "fa", 0.05)
    np.testing.assert_allclose(angles, expected, atol=1e-3)


def test_minibatch_update_is_the_mean_of_per_example_directions():
    net = small_net("fa", dtype=np.float64)
    X, Y = data(4)
    per_example = [descent_directions(net, X[i:i + 1], Y[i:i + 1], "fa") for i in range(4)]
    before = [w.copy() for w in net.W]
    train(net, X, Y, "fa", 0.1, batch_size=4)
    for l in range(net.n_layers):
        mean_dW = np.mean([d[l][0] for d in per_example], axis=0)
        np.testing.assert_allclose(net.W[l] - before[l], 0.1 * mean_dW, atol=1e-12)


def test_sparse_masks_stay_zero_and_frozen_layers_do_not_move():
    net = small_net("fa", sparsity=0.5, sizes=(40, 30, 20, 10))
    for w, m in zip(net.W, net.W_mask):
        assert 0.3 < (m == 0).mean() < 0.7 and np.all(w[m == 0] == 0)
    assert all(0.3 < (b == 0).mean() < 0.7 for b in net.B)
    net.freeze(0)
    w0 = net.W[0].copy()
    X, Y = data(300, n_in=40, n_out=10)
    train(net, X, Y, "fa", 0.05, decay=1e-3)
    assert np.array_equal(net.W[0], w0)
    for w, m in zip(net.W, net.W_mask):
        assert np.all(w[m == 0] == 0)
    assert np.any(net.W[1][net.W_mask[1] == 1] != 0)


def test_node_perturbation_estimates_the_gradient():
    net = small_net("node_perturbation", dtype=np.float64, output="linear")
    X, Y = data(1)
    X, Y = np.repeat(X, 4000, axis=0).astype(np.float64), np.repeat(Y, 4000, axis=0).astype(np.float64)
    noise = draw_noise(net, X.shape[0], np.random.default_rng(6)).astype(np.float64)
    estimate = descent_directions(net, X, Y, "node_perturbation", noise, sigma=1e-3)
    exact = descent_directions(net, X[:1], Y[:1], "bp")
    for l in range(net.n_layers):
        assert metrics.angle(estimate[l][0], exact[l][0]) < 30


def test_metrics():
    Y = np.random.default_rng(0).standard_normal((50, 3))
    assert metrics.nse(Y, Y) == 0
    assert metrics.nse(Y, np.broadcast_to(Y.mean(axis=0), Y.shape)) == pytest.approx(1.0)
    assert metrics.angle([1, 0], [0, 2]) == pytest.approx(90)
    assert metrics.angle(np.eye(2), 3 * np.eye(2)) == pytest.approx(0, abs=1e-6)
    v = np.array([1.0, 3.0, np.nan, 5.0, 7.0])
    mean, std = metrics.sliding_stats(v, 2)
    np.testing.assert_allclose(mean, [1, 2, 3, 5, 6])
    np.testing.assert_allclose(std, [0, 1, 0, 0, 1])
    net = small_net("fa", sizes=(8, 6, 4))
    net.W[1][:] = net.B[0].T
    assert metrics.angle_W_BT(net) == pytest.approx(0, abs=1e-3)
    assert np.allclose(metrics.angle_units(net), 0, atol=0.1)
    assert metrics.angle_W_pinvB(net) < 90


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_divergence_names_example_and_layer(backend):
    net = small_net("bp", output="linear")
    X, Y = data(50, sparse_inputs=False)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as info:
        train(net, X * 1e3, Y * 1e3, "bp", 1e6, backend=backend, examples_before=100)
    err = info.value
    assert err.step is not None and err.step >= 100 and err.layer in range(net.n_layers)
    assert f"example {err.step}" in str(err) and f"W{err.layer}" in str(err)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_weight_decay_below_float32_resolution_is_applied(backend):
    """The paper's MNIST decay (eta = 1e-3, alpha = 1e-6: a factor 1 - 1e-9 per example) rounds to
    1 in float32 when applied step by step; both backends must still shrink W by (1 - 1e-9)^n."""
    net = small_net("shallow")
    net.freeze(0, 1)                       # only the output layer learns; its update is set to zero
    X, Y = data(2000)
    Y = net.predict(X)                     # zero error: the change in W is the decay alone
    w0 = [w.astype(np.float64) for w in net.W]
    eta, alpha = 1e-6, 1e-3                # 1 - 1e-9 per example, 2000 examples: W shrinks by 2e-6
                                           # (30 float32 steps), the update (eta * ~0 error) far less
    train(net, X, Y, "shallow", eta, decay=alpha, backend=backend)
    expected = (1 - eta * alpha) ** X.shape[0]
    ratio = net.W[-1].astype(np.float64) / np.where(w0[-1] == 0, 1, w0[-1])
    np.testing.assert_allclose(ratio[w0[-1] != 0], expected, rtol=3e-7)
    for l in (0, 1):
        assert np.array_equal(net.W[l], w0[l].astype(np.float32))


def test_numpy_spec_keeps_a_decay_that_float32_would_round_away():
    net = small_net("fa")
    X, Y = data(500)
    with_decay, without = net.copy(), net.copy()
    train(with_decay, X, Y, "fa", 1e-3, decay=1e-6, backend="numpy")     # 1 - 1e-9 per example
    train(without, X, Y, "fa", 1e-3, decay=0.0, backend="numpy")
    shrink = np.abs(with_decay.W[0]).sum() / np.abs(without.W[0]).sum()
    assert shrink < 1 and abs(shrink - (1 - 5e-7)) < 2e-7
