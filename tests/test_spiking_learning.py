"""The spiking network learns (both modes, synthetic digits and an MNIST subset), and its
trial-averaged activity approaches the rate network's, the gap shrinking like 1/sqrt(trials); S = 32 and
128 streams learn as much per image as one stream early in training."""

import functools

import h5py
import numpy as np
import pytest

from spikefa.data import mnist, synthetic
from spikefa.runner import run_file
from spikefa.spiking import SpikingNetwork, SpikingParams


@pytest.mark.parametrize("mode", ["spiking", "rate"])
def test_learns_synthetic_digits(mode):
    X, y = synthetic.load("train", 2000)
    Xt, yt = synthetic.load("test", 400)
    net = SpikingNetwork(SpikingParams(sizes=(144, 100, 100, 100), units_per_class=10, eta=0.03, mode=mode))
    before = net.test(Xt, yt)
    net.train(X, y, 5000)
    after = net.test(Xt, yt)
    assert before > 0.7 and after < 0.45, (before, after)   # chance: 0.9


@pytest.mark.parametrize("mode", ["spiking", "rate"])
def test_learns_an_mnist_subset(mnist_dir, mode):
    X, y = mnist.load("train", mnist_dir)
    Xt, yt = mnist.load("test", mnist_dir)
    net = SpikingNetwork(SpikingParams(sizes=(784, 100, 60, 50), units_per_class=5, eta=0.02, feedback_scale=0.3,
                                       mode=mode))
    net.train(mnist.as_float(X[:2000]), y[:2000].astype(np.int64))
    error = net.test(mnist.as_float(Xt[:500]), yt[:500].astype(np.int64))
    assert error < 0.4, error                                 # chance: 0.9


def test_default_model_runs_and_writes_metrics(tmp_path):
    path, rows = run_file(None, str(tmp_path / "demo.h5"), quick=True, show_progress=False, echo=False)
    with h5py.File(path) as h5:
        seen = h5["metrics/fa/examples_seen"][()]
        error = h5["metrics/fa/test_error"][()]
        assert h5.attrs["status"] == "finished"
    assert list(seen) == [1000, 2000] and error[-1] < error[0]
    assert rows[0]["test_error"] == error[-1] and rows[0]["images"] == 2000


def test_trial_average_of_spiking_approaches_rate():
    """Same weights, same input, plasticity off. The first layer's PSP is linear in the input spikes,
    so its average over trials converges to the rate network's PSP with error ~ 1/sqrt(trials)."""
    x = np.random.default_rng(5).random((1, 30)).astype(np.float32)
    base = dict(sizes=(30, 40, 30, 20), units_per_class=2, eta=0.0, gamma=0.0, init_scale=0.3, steps_per_image=3)
    rate = SpikingNetwork(SpikingParams(**base, mode="rate"))
    rate.train(x, [0], 1)
    target = rate.V[1][0]
    assert np.array_equal(rate.W[1], SpikingNetwork(SpikingParams(**base, mode="spiking")).W[1])
    gaps = []
    trial_counts = (16, 64, 256, 1024)
    for trials in trial_counts:
        spiking = SpikingNetwork(SpikingParams(**base, mode="spiking", streams=trials))  # same seed: same weights
        spiking.train(np.repeat(x, trials, axis=0), np.zeros(trials, dtype=np.int64), trials)
        gaps.append(np.sqrt(np.mean((spiking.V[1].mean(axis=0) - target) ** 2)))
    gaps = np.array(gaps)
    scaled = gaps * np.sqrt(trial_counts)
    assert np.all(np.diff(gaps) < 0), gaps
    assert scaled.max() / scaled.min() < 2.0, scaled       # gap * sqrt(trials) stays constant
    # deeper layers: mean spiking probability close to the rate network's (small weights: near linear)
    assert np.abs(spiking.state.P[2].mean(axis=0) - rate.state.P[2][0]).max() < 0.05


@functools.lru_cache(maxsize=None)
def _learning_curve(streams: int):
    """Test error after every 2048 of 8192 synthetic images, and the weight change, at S streams."""
    X, y = synthetic.load("train", 2000)
    Xt, yt = synthetic.load("test", 400)
    net = SpikingNetwork(SpikingParams(sizes=(144, 100, 100, 100), units_per_class=10, eta=0.01, streams=streams,
                                       backend="cpu"))
    W0 = [np.array(w) for w in net.W[1:]]
    curve = [net.test(Xt, yt)]
    for _ in range(4):
        net.train(X, y, 2048)
        curve.append(net.test(Xt, yt))
    return np.array(curve), [np.array(w) - w0 for w, w0 in zip(net.W[1:], W0)]


@pytest.mark.parametrize("streams", [32, 128])
def test_streams_learn_as_much_per_image_as_one_stream(streams):
    """S streams sum their plasticity (a mini-batch of S images a step), so early in training, while
    eta * S steps stay small, the error after a number of images, and the weight change, match one
    stream's. (With eta = 0.03 on this network, S = 128 learns more slowly per image than S = 1.)"""
    one, dW_one = _learning_curve(1)
    many, dW_many = _learning_curve(streams)
    assert one[0] == many[0] > 0.8                             # same weights, same test
    assert one[-1] < 0.5 and many[-1] < 0.5, (one, many)      # both learned (chance: 0.9)
    assert np.abs(one - many).max() < 0.1, (one, many)
    for a, b in zip(dW_one, dW_many):
        cosine = float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))
        assert cosine > 0.95 and 0.9 < np.linalg.norm(b) / np.linalg.norm(a) < 1.1, cosine
