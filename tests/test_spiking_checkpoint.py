"""Checkpoints hold the whole state: a resumed run computes exactly what a run never stopped computes."""

import os

import h5py
import numpy as np
import pytest

from spikefa.config import load_model
from spikefa.errors import ConfigError, DataError
from spikefa.runner import run_model
from spikefa.spiking import SpikingNetwork, SpikingParams, load_checkpoint, save_checkpoint
from small_models import small_spiking

PARAMS = SpikingParams(sizes=(20, 16, 12, 10), units_per_class=2, eta=0.05, gamma=1e-3, init_scale=0.3,
                       feedback_scale=0.5, streams=2, test_streams=4, sparse=0.2, seed=3)


def data(n=30):
    r = np.random.default_rng(1)
    return r.random((n, 20)).astype(np.float32), r.integers(0, 5, n)


def assert_same(a: SpikingNetwork, b: SpikingNetwork):
    assert (a.step, a.images_seen) == (b.step, b.images_seen)
    assert np.array_equal(a.weights.scale, b.weights.scale)
    for x, y in zip(a.weights.WT + a.weights.b, b.weights.WT + b.weights.b):
        assert np.array_equal(x, y)
    for group_a, group_b in zip(a.state.groups(), b.state.groups()):
        for x, y in zip(group_a, group_b):
            assert np.array_equal(x, y)


@pytest.mark.parametrize("backend, kernel", [("numpy", "auto"), ("cpu", "spike-rows"), ("cpu", "gemm")])
def test_resume_equals_uninterrupted(tmp_path, backend, kernel):
    X, y = data()
    p = PARAMS.replace(backend=backend, cpu_kernel=kernel)
    straight = SpikingNetwork(p)
    straight.train(X, y, 50)                 # crosses an epoch boundary: the data order must resume too
    stopped = SpikingNetwork(p)
    stopped.train(X, y, 26)
    path = str(tmp_path / "net.ckpt.h5")
    save_checkpoint(stopped, path, extra={"note": "half way"})
    assert not os.path.exists(path + ".tmp")
    resumed, extra = load_checkpoint(path)
    assert extra == {"note": "half way"} and resumed.params == p
    resumed.train(X, y, 24)
    assert_same(straight, resumed)
    assert straight.test(X, y) == resumed.test(X, y)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(DataError, match="checkpoint not found"):
        load_checkpoint(str(tmp_path / "missing.h5"))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5["x"] = 1
    with pytest.raises(DataError, match="not a spiking-network checkpoint"):
        load_checkpoint(str(other))


MODEL = small_spiking()


def test_experiment_resume_continues_the_same_run(tmp_path):
    full_path, _ = run_model(load_model(text=MODEL), str(tmp_path / "full.h5"), show_progress=False, echo=False)
    half = load_model(text=MODEL, overrides=["train.images=120"])
    run_model(half, str(tmp_path / "half.h5"), show_progress=False, echo=False)
    resumed_path, rows = run_model(load_model(text=MODEL), str(tmp_path / "resumed.h5"), show_progress=False,
                                   echo=False, resume=str(tmp_path / "half.ckpt.h5"))
    with h5py.File(full_path) as a, h5py.File(resumed_path) as b:
        for name in ("examples_seen", "test_error", "train_error"):
            np.testing.assert_array_equal(a[f"metrics/fa/{name}"][()], b[f"metrics/fa/{name}"][()])
        assert list(a["metrics/fa/examples_seen"][()]) == [80, 160, 240]
    full, _ = load_checkpoint(str(tmp_path / "full.ckpt.h5"))
    resumed, _ = load_checkpoint(str(tmp_path / "resumed.ckpt.h5"))
    assert_same(full, resumed)
    assert rows[0]["images"] == 240


def test_resume_refuses_a_different_network(tmp_path):
    run_model(load_model(text=MODEL, overrides=["train.images=40"]), str(tmp_path / "a.h5"), show_progress=False,
              echo=False)
    other = load_model(text=MODEL, overrides=["network.eta=0.5"])
    with pytest.raises(ConfigError, match="eta"):
        run_model(other, str(tmp_path / "b.h5"), show_progress=False, echo=False, resume=str(tmp_path / "a.ckpt.h5"))


def test_streams_evaluate_at_every_boundary_they_step_past(tmp_path):
    """With S = 3 streams images come 3 at a time, so 80, 160, 240 are passed, never hit exactly."""
    model = load_model(text=MODEL, overrides=["network.streams=3", "train.images=240"])
    path, _ = run_model(model, str(tmp_path / "s3.h5"), show_progress=False, echo=False)
    with h5py.File(path) as h5:
        assert list(h5["metrics/fa/examples_seen"][()]) == [81, 162, 240]


def test_resume_may_change_how_the_network_is_computed(tmp_path):
    """backend, threads, test_streams and cpu_kernel are not the network: a checkpoint resumes under others."""
    model = load_model(text=MODEL, overrides=["network.streams=8", "train.images=48"])
    run_model(model, str(tmp_path / "a.h5"), show_progress=False, echo=False)
    other = load_model(text=MODEL, overrides=["network.streams=8", "train.images=96", "network.cpu_kernel=gemm",
                                              "network.threads=1"])
    _, rows = run_model(other, str(tmp_path / "b.h5"), show_progress=False, echo=False,
                        resume=str(tmp_path / "a.ckpt.h5"))
    assert rows[0]["images"] == 96
    net, _ = load_checkpoint(str(tmp_path / "b.ckpt.h5"))
    assert net.params.cpu_kernel == "gemm" and net.weights.WT[0].flags.f_contiguous


@pytest.mark.parametrize("images", [240, 250])
def test_resuming_a_finished_run_writes_its_curve_once(tmp_path, images):
    """A stop that comes as a run finishes leaves a checkpoint after the final evaluation: resuming it
    gives the same curve, with the final row once, whether the final evaluation was a scheduled one
    (240, a multiple of eval_every = 80) or only the end's (250)."""
    model = load_model(text=MODEL, overrides=[f"train.images={images}"])
    full_path, full_rows = run_model(model, str(tmp_path / "full.h5"), show_progress=False, echo=False)
    again_path, again_rows = run_model(model, str(tmp_path / "again.h5"), show_progress=False, echo=False,
                                       resume=str(tmp_path / "full.ckpt.h5"))
    with h5py.File(full_path) as a, h5py.File(again_path) as b:
        for name in ("examples_seen", "test_error", "train_error"):
            np.testing.assert_array_equal(a[f"metrics/fa/{name}"][()], b[f"metrics/fa/{name}"][()])
        assert a["metrics/fa/examples_seen"][-1] == images
    assert again_rows[0]["test_error"] == full_rows[0]["test_error"]
    full, _ = load_checkpoint(str(tmp_path / "full.ckpt.h5"))
    again, _ = load_checkpoint(str(tmp_path / "again.ckpt.h5"))     # its own checkpoint, the same network
    assert_same(full, again)
