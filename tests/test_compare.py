"""The spiking network against its rate limit: the measurements, the experiment, its figure and command."""

from __future__ import annotations

import itertools
import os

import h5py
import numpy as np
import pytest

from plot_helpers import assert_figure
from spikefa import compare
from spikefa.cli import main as cli_main
from spikefa.config import dumps
from spikefa.plot import compare as compare_plot
from spikefa.runner import run_file
from spikefa.spiking import SpikingNetwork, SpikingParams

SMALL = dict(sizes=(4, 6, 4), units_per_class=2, backend="numpy", steps_per_image=3, test_steps=3, seed=3)
PIXELS = np.array([[0.2, 0.5, 0.8, 1.0]], dtype=np.float32)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_layer_one_distance_matches_the_exact_expectation():
    """With tau = 1, V_1 = W_1 s_0 + b_1 at every step, so the expected spike probability of layer 1 is a
    sum over the 16 input spike patterns; the rate network gives sigma(W_1 min(x, 0.95) + b_1)."""
    net = SpikingNetwork(SpikingParams(tau=1.0, **SMALL))
    gen = np.random.default_rng(0)
    W1 = gen.uniform(-5, 5, size=(6, 4)).astype(np.float32)
    b1 = gen.uniform(-1, 1, size=6).astype(np.float32)
    net.W[1][...] = W1
    net.b[1][...] = b1
    p = np.minimum(PIXELS[0], 0.95)
    expected = np.zeros(6)
    for pattern in itertools.product([0, 1], repeat=4):
        s = np.array(pattern, dtype=float)
        expected += np.prod(np.where(s == 1, p, 1 - p)) * _sigmoid(W1 @ s + b1)
    rate = _sigmoid(W1 @ p + b1)
    exact = np.sqrt(np.mean((expected - rate) ** 2))
    assert exact > 0.05          # the weights are large enough for E[sigma(V)] to differ from sigma(E[V])

    measured = compare.activity_distance(net, PIXELS, np.array([0]), trials=3000)
    assert measured.distance[0] == pytest.approx(exact, rel=0.08)
    assert measured.resolution[0] < exact / 2


def test_distance_removes_the_noise_of_a_finite_trial_mean():
    """Zero weights and biases: every unit fires with probability 1/2 in both modes, so the expected
    activity equals the rate activity; the raw RMS of a 40-trial mean would be about sqrt(0.25 / 40)."""
    net = SpikingNetwork(SpikingParams(tau=1.0, **SMALL))
    for l in (1, 2):
        net.W[l][...] = 0
        net.b[l][...] = 0
    measured = compare.activity_distance(net, PIXELS, np.array([0]), trials=40)
    assert np.all(measured.distance < 0.035), measured       # raw noise level: 0.079
    assert np.all(measured.distance <= measured.resolution), measured


def test_measurements_leave_the_network_alone():
    net = SpikingNetwork(SpikingParams(tau=0.9, eta=0.05, **SMALL))
    before = [w.copy() for w in net.W[1:]]
    compare.activity_distance(net, PIXELS, np.array([1]), trials=4)
    compare.update_angle(net, PIXELS, np.array([1]), trials=4)
    assert net.step == 0 and net.images_seen == 0
    for w, old in zip(net.W[1:], before):
        np.testing.assert_array_equal(w, old)


def test_update_angle_shrinks_as_trials_average_the_spike_noise():
    net = SpikingNetwork(SpikingParams(tau=0.9, eta=0.05, **SMALL))
    images = np.tile(PIXELS, (3, 1)) * np.array([[1.0], [0.6], [0.3]], dtype=np.float32)
    labels = np.array([0, 1, 0])
    few = compare.update_angle(net, images, labels, trials=2)
    many = compare.update_angle(net, images, labels, trials=400)
    assert np.all(many < few) and np.all(many < 15), (few, many)


class _Seen:
    def __init__(self):
        self.images = []

    def on_step(self, net):
        self.images.append(net.image_index)


def test_pair_starts_equal_and_sees_the_same_stream():
    gen = np.random.default_rng(1)
    X = gen.random((20, 4), dtype=np.float32)
    y = gen.integers(0, 2, 20)
    pair = compare.Pair(SpikingParams(tau=0.9, eta=0.05, **SMALL))
    assert pair.spiking.params.mode == "spiking" and pair.rate.params.mode == "rate"
    for a, b in zip(pair.spiking.W[1:], pair.rate.W[1:]):
        np.testing.assert_array_equal(a, b)
    seen_spiking, seen_rate = _Seen(), _Seen()
    pair.spiking.add_observer(seen_spiking)
    pair.rate.add_observer(seen_rate)
    pair.train(X, y, 30)
    assert seen_spiking.images == seen_rate.images and len(set(seen_spiking.images)) == 20
    assert not np.array_equal(pair.spiking.W[1], pair.rate.W[1])
    np.testing.assert_allclose(compare.drift_angle(pair.rate, pair.rate, pair.initial), [0, 0], atol=1e-4)


MODEL = dumps({
    "experiment": "compare", "title": "test comparison", "seed": 1,
    "network": {"sizes": [36, 24, 20], "units_per_class": 2, "eta": 0.1, "backend": "numpy"},
    "data": {"dataset": "synthetic", "synthetic_grid": 6, "synthetic_train": 200, "synthetic_test": 40},
    "train": {"images": 120, "eval_every": 60, "steps_per_image": 3, "test_steps": 3},
    "compare": {"trials": 4, "probe_images": 2, "taus": [0.5, 1.0], "sweep_images": 60},
})


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    model = folder / "compare.toml"
    model.write_text(MODEL)
    path, rows = run_file(str(model), str(folder / "run.h5"), show_progress=False, echo=False)
    return path, rows


def test_experiment_numbers(compared):
    path, rows = compared
    assert [(r["tau"], r["run"]) for r in rows] == [(0.9, "main"), (0.5, "sweep"), (1.0, "sweep")]
    with h5py.File(path, "r") as h5:
        assert h5.attrs["status"] == "finished"
        for arm in ("spiking", "rate"):
            np.testing.assert_array_equal(h5[f"metrics/{arm}/examples_seen"][()], [0, 60, 120])
            err = h5[f"metrics/{arm}/test_error"][()]
            assert np.all((0 <= err) & (err <= 1))
        assert rows[0]["spiking_error"] == h5["metrics/spiking/test_error"][-1]
        assert rows[0]["rate_error"] == h5["metrics/rate/test_error"][-1]
        g = h5["metrics/compare"]
        assert g["activity_distance"].shape == (3, 2) and g["update_angle"].shape == (3, 2)
        assert np.all(np.isnan(g["drift_angle"][0])) and np.all(np.isfinite(g["drift_angle"][1:]))
        assert np.all((g["update_angle"][()] >= 0) & (g["update_angle"][()] <= 180))
        assert np.all(g["activity_distance"][()] >= 0) and np.all(g["activity_resolution"][()] > 0)
        s = h5["results/tau_sweep"]
        np.testing.assert_array_equal(s["tau"][()], [0.5, 1.0])
        assert s["activity_distance"].shape == (2, 2)
        assert rows[2]["spiking_error"] == s["spiking_error"][1]
        assert h5["summary"].attrs["1.tau"] == 0.5


def test_experiment_figure_draws_the_file(tmp_path, compared):
    path, _ = compared
    fig = compare_plot.build(path)
    lines = {line.get_gid(): line for ax in fig.axes for line in ax.lines if line.get_gid()}
    with h5py.File(path, "r") as h5:
        np.testing.assert_array_equal(lines["distance|layer2"].get_ydata(), h5["metrics/compare/activity_distance"][:, 1])
        np.testing.assert_array_equal(lines["update|layer1"].get_ydata(), h5["metrics/compare/update_angle"][:, 0])
        np.testing.assert_allclose(lines["sweep|spiking"].get_ydata(), 100 * h5["results/tau_sweep/spiking_error"][()])
        np.testing.assert_array_equal(lines["sweep|rate"].get_xdata(), [0.5, 1.0])
    assert_figure(compare_plot.draw(path, str(tmp_path)), *compare_plot.size(sweep=True))


def test_cli_compare_a_spiking_model_without_sweep(tmp_path, capsys):
    spiking_model = tmp_path / "spiking.toml"
    spiking_model.write_text(MODEL.replace('experiment = "compare"', 'experiment = "spiking"')
                             .split("[compare]")[0] + '[record]\nflush_interval_s = 2.0\n')
    out = str(tmp_path / "cli.h5")
    argv = ["compare", str(spiking_model), "--out", out, "--taus", "", "--set", "train.images=60", "--no-progress"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert "spiking_error" in printed and "rate_describes" in printed
    figure = os.path.join(str(tmp_path), "cli_figures", "compare.png")
    assert f"figure: {figure}" in printed
    assert_figure([figure, figure[:-3] + "pdf"], *compare_plot.size(sweep=False))
    with h5py.File(out, "r") as h5:
        assert "tau_sweep" not in h5["results"]
    assert cli_main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_cli_compare_refuses_what_it_cannot_compare(tmp_path, capsys):
    model = tmp_path / "m.toml"
    model.write_text(MODEL)
    assert cli_main(["compare", str(model), "--taus", "0.5,fast", "--out", str(tmp_path / "x.h5")]) == 2
    assert "--taus" in capsys.readouterr().err
    other = tmp_path / "rate.toml"
    other.write_text('experiment = "fig2_linear"\n')
    assert cli_main(["compare", str(other)]) == 2
    assert "cannot be compared" in capsys.readouterr().err
