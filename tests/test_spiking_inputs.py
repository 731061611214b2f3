"""Bad input and divergence give errors that name the problem; parameters are checked when a network is built."""

import numpy as np
import pytest

from spikefa.errors import ConfigError, DataError, DivergenceError
from spikefa.spiking import SpikingNetwork, SpikingParams

SMALL = dict(sizes=(20, 16, 12, 10), units_per_class=2, test_streams=4)


def net(**kw):
    return SpikingNetwork(SpikingParams(**{**SMALL, **kw}))


def good(n=8):
    r = np.random.default_rng(0)
    return r.random((n, 20)).astype(np.float32), r.integers(0, 5, n)


@pytest.mark.parametrize("images, labels, match", [
    (np.zeros((8, 19)), np.zeros(8, int), r"shape \(8, 19\); expected \(n, 20\)"),
    (np.zeros((8, 4, 5)), np.zeros(8, int), "flatten"),
    (np.full((8, 20), 1.5), np.zeros(8, int), r"values in \[1.5, 1.5\]"),
    (np.full((8, 20), -0.1), np.zeros(8, int), "pixels must be in"),
    (np.full((8, 20), np.nan), np.zeros(8, int), "pixels must be in"),
    (np.zeros((8, 20)), np.full(8, 5), "5 classes"),
    (np.zeros((8, 20)), np.full(8, -1), "labels run from -1"),
    (np.zeros((8, 20)), np.zeros(7, int), "one per image"),
    (np.zeros((8, 20)), np.zeros(8), "integer class indices"),
    (np.zeros((0, 20)), np.zeros(0, int), "empty"),
])
def test_bad_input_is_refused(images, labels, match):
    for call in (lambda n: n.train(images, labels), lambda n: n.test(images, labels)):
        with pytest.raises(DataError, match=match):
            call(net(backend="numpy"))


def test_uint8_images_are_scaled():
    X, y = good()
    a, b = net(), net()
    u8 = (X * 255).astype(np.uint8)
    a.train(u8, y)
    b.train(u8.astype(np.float32) / np.float32(255), y)
    np.testing.assert_array_equal(a.W[1], b.W[1])


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_nan_in_weights_names_the_layer(backend):
    n = net(backend=backend)
    n.W[2][3, 4] = np.nan
    X, y = good()
    with pytest.raises(DivergenceError, match="layer 2") as info:
        n.train(X, y)
    assert info.value.layer == 2 and info.value.step == 0


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_divergence_during_training_names_step_and_layer(backend):
    n = net(backend=backend, feedback_scale=1e30, phi="linear")  # feedback overflows float32
    X, y = good()
    with np.errstate(all="ignore"), pytest.raises(DivergenceError, match=r"NaN or inf in \w+ of layer \d by step \d+") as info:
        n.train(X, y, 8)
    assert info.value.step > 0 and 1 <= info.value.layer <= 3


@pytest.mark.parametrize("kw, match", [
    (dict(sizes=(20, 16, 11)), "divisor of the output layer size 11"),
    (dict(sizes=(20, 16, 2)), "2 classes or more"),
    (dict(tau=0.0), "tau"),
    (dict(tau=1.5), "tau"),
    (dict(gamma=1.0), "gamma"),
    (dict(sparse=1.0), "sparse"),
    (dict(feedback="dfa"), "fa, bp, direct, none"),
    (dict(mode="rates"), "spiking, rate"),
    (dict(backend="gpu"), "numpy, cpu, cuda"),
    (dict(streams=0), "streams"),
])
def test_bad_parameters_are_refused(kw, match):
    with pytest.raises(ConfigError, match=match):
        SpikingParams(**{**SMALL, **kw})


def test_layer_state_protocol():
    n = net(streams=2)
    assert n.layer_state("spikes", 0).shape == (20,)
    assert n.layer_state("V", 3, stream=None).shape == (2, 10)
    assert n.layer_state("error").shape == (10,)
    assert n.layer_state("mod", 1, stream=1).shape == (16,)
    with pytest.raises(ValueError, match="layers 1..3"):
        n.layer_state("U", 0)
    with pytest.raises(ValueError, match="unknown state variable"):
        n.layer_state("weights", 1)
    with pytest.raises(TypeError):
        n.add_observer(object())
