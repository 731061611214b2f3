"""The scripts behind the report's protocol studies (Figure 3a's choice on a validation split,
Figure 3d's ablation): their rules, on small made-up curves."""

import importlib.util
import json
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "scripts", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stop_is_where_the_smoothed_validation_error_turns_up():
    protocol = script("fig3a_protocol")
    epochs = np.arange(1, 61)
    curve = 0.02 + 0.05 * np.exp(-epochs / 8) + 1e-4 * np.maximum(epochs - 40, 0) ** 1.5 / 10
    stop = protocol.stop_epoch(curve)
    assert 42 <= stop <= 45                              # the minimum is at epochs 43-44
    falling = 0.02 + 0.05 * np.exp(-epochs / 8)
    assert protocol.stop_epoch(falling) >= 58            # never turns up: the horizon


def test_backprop_alone_chooses_eta_and_the_stop_and_fa_chooses_beta():
    protocol = script("fig3a_protocol")
    epochs = np.arange(1, 41)
    good = list(0.015 + 0.05 * np.exp(-epochs / 5) + 2e-5 * np.maximum(epochs - 25, 0) ** 2)
    slow = list(0.015 + 0.05 * np.exp(-epochs / 30))
    configs = {
        "a": {"rule": "bp", "eta": 0.1, "init_scale": 0.2, "feedback_scale": 0.5, "epochs": 40,
              "validation_error": good, "train_error": good},
        "b": {"rule": "bp", "eta": 0.01, "init_scale": 0.2, "feedback_scale": 0.5, "epochs": 40,
              "validation_error": slow, "train_error": slow},
        # FA's own errors never choose eta: this better FA curve at another eta is ignored
        "c": {"rule": "fa", "eta": 0.01, "init_scale": 0.2, "feedback_scale": 1.0, "epochs": 40,
              "validation_error": [0.001] * 40, "train_error": [0.0] * 40},
        "d": {"rule": "fa", "eta": 0.1, "init_scale": 0.2, "feedback_scale": 0.5, "epochs": 40,
              "validation_error": [0.02] * 40, "train_error": [0.0] * 40},
        "e": {"rule": "fa", "eta": 0.1, "init_scale": 0.2, "feedback_scale": 0.1, "epochs": 40,
              "validation_error": [0.03] * 40, "train_error": [0.0] * 40},
    }
    chosen = protocol.choice(configs)
    assert chosen["eta"] == 0.1 and chosen["feedback_scale"] == 0.5
    assert chosen["epochs"] == protocol.stop_epoch(good)
    text = protocol.report(configs)
    assert "Chosen: eta = 0.1" in text and f"stop after {chosen['epochs']} epochs" in text


def test_ablation_readings_of_fa_as_well_as_backprop(tmp_path):
    ablation = script("fig3d_ablation")
    points = [2000, 4000]
    curves = {"bp3": [[0.2, 0.10]] * 3, "fa3": [[0.2, 0.12]] * 3, "bp4": [[0.2, 0.0]] * 3,
              "fa4": [[0.2, 0.02], [0.2, 0.0], [0.2, 0.04]]}
    s = ablation.summarise(curves, points)
    assert s["gap_share"] == pytest.approx(0.2)          # FA4 0.02 between BP4 0 and BP3 0.1
    assert s["fa4_runs_below_1e-3"] == 1 and s["fa4_median"] == pytest.approx(0.02)
    assert ablation.checkpoints(100000)[-1] == 100000 and ablation.checkpoints(100000)[:2] == [2000, 4000]
    results = {"baseline": {"config": {"eta": 0.02, "examples": 4000, "fa_rule": "fa", "feedback_scale": 0.5,
                                       "init_scale": 0.1}, "runs": 3, "points": points, "curves": curves,
                            "summary": s}}
    table = ablation.markdown(results)
    assert "| baseline | 0.02 | 4000 |" in table and "0.200" in table
    json.dumps(results)                                   # what the script stores must be JSON
