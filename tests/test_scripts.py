"""The plotting scripts in scripts/ run on real run files and fail with one line on bad ones."""

import importlib.util
import os

import h5py

from spikefa.config import load_model
from spikefa.runner import run_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL = """
experiment = "spiking"
[network]
sizes = [144, 30, 20]
units_per_class = 2
eta = 0.03
[data]
dataset = "synthetic"
synthetic_train = 100
synthetic_test = 40
[train]
images = 120
eval_every = 40
"""


def script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "scripts", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fig4_training_curves(tmp_path, capsys):
    a, _ = run_model(load_model(text=MODEL), str(tmp_path / "a.h5"), show_progress=False, echo=False)
    b, _ = run_model(load_model(text=MODEL, overrides=["network.streams=4"]), str(tmp_path / "b.h5"),
                     show_progress=False, echo=False)
    plot = script("plot_fig4_training")
    assert plot.main([f"{a}=one stream", f"{b}=four streams", "--out", str(tmp_path / "fig"), "--name", "both"]) == 0
    out = capsys.readouterr().out
    assert "one stream: 40 " in out and "four streams: 40 " in out           # first evaluations
    assert os.path.getsize(tmp_path / "fig" / "both.png") > 10_000
    with h5py.File(a) as h5:
        errors = h5["metrics/fa/test_error"][()]
    assert out.count("%") == len(errors) + 3                   # every evaluation of a, and b's three


def test_fig4_training_draws_validation_eta_drops_and_recorded_tables(tmp_path, capsys):
    a, _ = run_model(load_model(text=MODEL, overrides=[
        "data.validation_size=20", "train.eta_drop_factor=0.5", "train.eta_drop_patience=1",
        "train.eta_drop_min_delta=0.5", "train.test_steps_choices=[2,4]"]), str(tmp_path / "a.h5"),
        show_progress=False, echo=False)
    recorded = tmp_path / "earlier.csv"
    recorded.write_text("images,test_error\n40,0.5\n80,0.4\n")
    plot = script("plot_fig4_training")
    assert plot.main([f"{a}=scheduled", "--table", f"{recorded}=earlier", "--out", str(tmp_path / "fig")]) == 0
    out = capsys.readouterr().out
    assert "earlier: 40 50.00%  80 40.00%" in out
    assert "scheduled (validation): 40 " in out
    with h5py.File(a) as h5:
        eta = h5["metrics/fa/eta"][()]
    assert eta.tolist() == [0.03, 0.015, 0.0075]  # a fall of 0.5 is never met: halved from the second evaluation on
    assert "scheduled (eta lowered): after 80: 0.015; after 120: 0.0075" in out
    with h5py.File(a) as h5:
        chosen = h5["results/fa/test_steps_choice"].attrs
        m, err = int(chosen["chosen"]), float(chosen["test_error"])
    assert f"scheduled (test steps chosen on the validation images): M = {m}, test error {100 * err:.2f}%" in out
    assert os.path.getsize(tmp_path / "fig" / "fig4_training.png") > 10_000


def test_fig4_training_refuses_a_file_without_test_error(tmp_path, capsys):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("metrics")
    assert script("plot_fig4_training").main([str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plot_fig4_training: error:") and "test_error" in err and err.count("\n") == 1
