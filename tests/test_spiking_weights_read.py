"""Reading net.W changes nothing; writing into it still sets the weights."""

import numpy as np
import pytest

from spikefa.spiking import SpikingNetwork, SpikingParams

SMALL = dict(sizes=(20, 16, 10), units_per_class=2, test_streams=4, gamma=1e-8, eta=0.05, seed=3)


def data(n=40):
    r = np.random.default_rng(0)
    return r.random((n, 20)).astype(np.float32), r.integers(0, 5, n)


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_reading_W_during_training_changes_nothing(backend):
    """The lazy decay of 1e-8 per step must not be rounded away (1 - 1e-8 is 1.0 in float32) by a read."""
    X, y = data()
    untouched = SpikingNetwork(SpikingParams(backend=backend, **SMALL))
    untouched.train(X, y, 40)
    read = SpikingNetwork(SpikingParams(backend=backend, **SMALL))
    for _ in range(40):          # 200 steps, reading every weight after each image
        read.train(X, y, 1)
        _ = [w.sum() for w in read.W[1:]]
    assert np.any(untouched.weights.scale != 1.0), "the test needs pending decay"
    for a, b in zip(untouched.W[1:], read.W[1:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(untouched.weights.scale, read.weights.scale)


def test_W_is_the_stored_weights_times_their_pending_decay():
    net = SpikingNetwork(SpikingParams(backend="numpy", **SMALL))
    net.weights.scale[0] = 0.5
    np.testing.assert_allclose(net.W[1], 0.5 * net.weights.WT[0].T)
    assert net.weights.scale[0] == 0.5          # still pending after the read


def test_writing_into_W_sets_the_weights_with_or_without_pending_decay():
    net = SpikingNetwork(SpikingParams(backend="numpy", **SMALL))
    net.W[1][...] = 0.25                         # no pending decay: a view
    assert np.all(net.W[1] == 0.25)
    net.weights.scale[:] = 0.5
    original_2 = net.W[2].copy()
    net.W[1][2, 3] = 7.0                         # pending decay: folded, then written
    assert net.W[1][2, 3] == 7.0 and net.W[1][0, 0] == pytest.approx(0.125)
    np.testing.assert_array_equal(net.W[2], original_2)
    net.W[2][...] = 0
    assert not net.W[2].any()
