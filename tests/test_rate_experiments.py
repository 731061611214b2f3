"""The paper's claims for the rate networks, on the model files' --quick budgets (fixed seeds)."""

import os

import h5py
import numpy as np
import pytest

from spikefa.cli import main as cli_main
from spikefa.config import load_model
from spikefa.errors import SpikefaError
from spikefa.runner import run_model

MODELS = os.path.join(os.path.dirname(__file__), "..", "models")


def quick_run(name, tmp_path, overrides=()):
    model = load_model(os.path.join(MODELS, name + ".toml"), quick=True, overrides=list(overrides))
    path, rows = run_model(model, str(tmp_path / f"{name}.h5"), quick=True, show_progress=False, echo=False)
    return path, {row["arm"]: row for row in rows}


def test_fig2_linear_claims(tmp_path):
    path, arms = quick_run("fig2_linear", tmp_path)
    bp, fa = arms["bp"]["final_nse"], arms["fa"]["final_nse"]
    shallow, node = arms["shallow"]["final_nse"], arms["node_perturbation"]["final_nse"]
    assert fa <= 1.5 * bp
    assert max(bp, fa) * 10 <= shallow
    assert max(bp, fa) < node < shallow
    assert arms["fa"]["angle_first"] > 70          # B e and W^T e start unrelated
    assert arms["fa"]["angle_last"] < 50           # ... and align, though never fully
    with h5py.File(path) as h5:
        assert h5.attrs["status"] == "finished"
        g = h5["metrics/fa"]
        assert g["angle_delta"].shape == g["angle_delta_mean"].shape == g["angle_delta_examples_seen"].shape
        assert g["nse"].shape == g["examples_seen"].shape


def test_fig3d_depth_helps_both_rules_unless_w0_is_frozen(tmp_path):
    path, arms = quick_run("fig3d_deep", tmp_path)
    mean = {a: r["final_nse_mean"] for a, r in arms.items()}
    assert mean["bp4"] < mean["bp3"] and arms["bp4"]["p_value"] < 0.05
    assert mean["fa4"] < mean["fa3"] and arms["fa4"]["p_value"] < 0.05
    assert mean["fa4_frozen_w0"] > mean["fa3"]     # the gain comes from learning in W0
    with h5py.File(path) as h5:
        assert h5["results/final_nse"].shape == (5, 4)
        assert "seed3" in h5["metrics/fa4"]


def test_fig5_alignment_and_three_phases(tmp_path):
    _, arms = quick_run("fig5_quadratic", tmp_path)
    assert arms["fa"]["angle_W_BT"] < 75
    assert arms["fa"]["unit_angle_median"] < 80
    phases = arms["phases"]
    assert 0.97 < phases["phase1_end_ratio"] < 1.03    # W0 learns through an unaligned B: no gain
    assert phases["phase3_end_ratio"] < 0.95           # after phase 2 aligned W with B^T, it helps


def test_fig3a_mnist_claims(tmp_path, mnist_dir):
    path, arms = quick_run("fig3a_mnist", tmp_path, [f'data.path="{mnist_dir}"'])
    err = {a: r["test_error_%_mean"] for a, r in arms.items()}
    assert err["bp"] < 40 and err["fa"] < 40 and err["fa_sparse"] < 40     # chance is 90%
    assert err["shallow"] > max(err["bp"], err["fa"]) + 5
    assert arms["fa"]["angle_delta_final"] < 87
    with h5py.File(path) as h5:
        assert np.all(h5["results/fa_sparse_seed0_mask_violations"][()] == 0)
        angles = h5["metrics/fa/seed0/angle_delta_mean"][()]
        assert angles[-1] < angles[0] < 95


@pytest.mark.parametrize("setting,expected", [
    ("train.etaa=0.1", "unknown key 'train.etaa'"),
    ("train.eta.bp=-1", "train.eta.bp"),
    ("network.sizes=[30,0,10]", "network.sizes"),
    ('train.rules=["bp","sgd"]', "train.rules"),
])
def test_bad_model_file_exits_2_with_one_line(tmp_path, capsys, setting, expected):
    key, value = setting.split("=", 1)
    section, rest = key.split(".", 1)
    path = tmp_path / "bad.toml"
    path.write_text(f'experiment = "fig2_linear"\n[{section}]\n{rest} = {value}\n')
    assert cli_main(["run", str(path), "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and str(path) in err
    assert not (tmp_path / "x.h5").exists()


def test_missing_model_file_exits_2(tmp_path, capsys):
    assert cli_main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_diverging_run_names_step_and_layer_and_keeps_results(tmp_path):
    model = load_model(os.path.join(MODELS, "fig2_linear.toml"), quick=True,
                       overrides=['train.rules=["fa"]', "train.eta.fa=50.0"])
    out = tmp_path / "diverged.h5"
    with np.errstate(all="ignore"), pytest.raises(SpikefaError) as info:
        run_model(model, str(out), show_progress=False, echo=False)
    message = str(info.value)
    assert "diverged at example" in message and "layer" in message and str(out) in message
    with h5py.File(out) as h5:
        assert h5.attrs["status"] == "diverged"
        assert h5["metrics/fa/nse"].shape[0] >= 1


def test_fig3a_resumes_from_its_checkpoint_as_if_never_stopped(tmp_path, mnist_dir, monkeypatch):
    from spikefa.experiments import fig3a_mnist

    overrides = [f'data.path="{mnist_dir}"', 'arms=["fa", "bp"]', "data.train_examples=1000",
                 "data.test_examples=500", "train.angle_block=250"]
    model = load_model(os.path.join(MODELS, "fig3a_mnist.toml"), quick=True, overrides=overrides)
    _, whole = run_model(model, str(tmp_path / "whole.h5"), show_progress=False, echo=False)

    save = fig3a_mnist.Checkpoint.save

    def save_then_stop(self, out, net, arm, k, epochs_done):
        save(self, out, net, arm, k, epochs_done)
        if arm == "bp" and epochs_done == 1:
            raise KeyboardInterrupt
    monkeypatch.setattr(fig3a_mnist.Checkpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_model(model, str(tmp_path / "part.h5"), show_progress=False, echo=False)
    monkeypatch.setattr(fig3a_mnist.Checkpoint, "save", save)

    _, resumed = run_model(model, str(tmp_path / "rest.h5"), resume=str(tmp_path / "part.ckpt.h5"),
                           show_progress=False, echo=False)
    assert resumed == whole
    with h5py.File(tmp_path / "whole.h5") as a, h5py.File(tmp_path / "rest.h5") as b:
        for name in ("fa/seed0/test_error", "bp/seed0/test_error", "fa/seed0/angle_delta_mean"):
            np.testing.assert_array_equal(a["metrics/" + name][()], b["metrics/" + name][()])
