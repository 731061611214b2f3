"""Figure 5a, c: a 20-1000-20 tanh network (linear output) learns a quadratic target. The angle
between W and B^T, per hidden unit, and against pinv(B) over training (5a); the three-phase
protocol that freezes W, then W0, then W again (5c)."""

from __future__ import annotations

import numpy as np

from ..config import Field
from ..errors import ConfigError
from ..rate import metrics
from ..rate.network import RateNet
from ..rate.tasks import QuadraticTarget
from . import _rate
from ._rate import FEEDBACK, STREAM, TASK, TEST, WEIGHTS, Phase, seeded

DOC = "Figure 5: 20-1000-20 tanh net on a quadratic target, angle(W, B^T) and the three phases"

# weight layers frozen in each phase of Figure 5c: W (layer 1), then W0 (layer 0), then W
PHASE_FROZEN = {1: (1,), 2: (0,), 3: (1,)}

SCHEMA = {
    "seed": Field(0, "int", "seed of the target, the stream, the weights and B", min=0),
    "network": {
        "sizes": _rate.sizes_field([20, 1000, 20]),
        "init_scale": _rate.scale_field([0.5, 0.01], "forward weights and biases ~ U[-w, w]"),
        "feedback_scale": _rate.scale_field([0.5], "feedback weights B ~ U[-beta, beta]"),
    },
    "task": {
        "q_scale": Field(0.5, "float", "elements of every Q_k ~ U[-s, s]", min=0, min_exclusive=True),
        "x_range": Field(2.0, "float", "inputs ~ U[-r, r]", min=0, min_exclusive=True),
        "test_examples": Field(1000, "int", "held-out examples on which NSE is measured", min=1,
                                   max=1_000_000),
    },
    "train": {
        "rules": _rate.rules_field(["fa", "bp"], "rules trained without phases (5a), one arm each"),
        "examples": Field(100000, "int", "training examples per arm", min=1),
        "eval_every": Field(1000, "int", "examples between evaluations (NSE and angles)", min=1),
        "eta": Field(3e-4, "float", "learning rate, shared by every rule", min=0, min_exclusive=True),
    },
    "phases": {
        "enabled": Field(True, "bool", "run the three-phase protocol of Fig. 5c (arm 'phases')"),
        "rule": Field("fa", "str", "rule used in the phases", choices=("fa", "fa_fprime", "bp")),
        "examples": Field([20000, 20000, 20000], "list[int]", "examples in phases 1, 2, 3", min=1,
                          min_len=3),
    },
}


def _net(params, rule):
    net_p, seed = params["network"], params["seed"]
    return RateNet.init(net_p["sizes"], seeded(seed, WEIGHTS), hidden="tanh", output="linear",
                        init_scale=net_p["init_scale"], feedback_scale=net_p["feedback_scale"], bias=True,
                        direct_feedback=(rule == "dfa"), feedback_rng=seeded(seed, FEEDBACK))


def run(params, out, ctx):
    _rate.refuse_resume(ctx, "fig5_quadratic")
    task_p, train_p, phase_p = params["task"], params["train"], params["phases"]
    seed = params["seed"]
    sizes = params["network"]["sizes"]
    if len(phase_p["examples"]) != 3:
        raise ConfigError(f"key 'phases.examples' = {phase_p['examples']}: expected 3 numbers (phases 1, 2, 3)")
    task = QuadraticTarget(sizes[0], sizes[-1], seeded(seed, TASK), task_p["q_scale"], task_p["x_range"])
    test = task.sample(task_p["test_examples"], seeded(seed, TEST))
    total = len(train_p["rules"]) * train_p["examples"] + (sum(phase_p["examples"]) if phase_p["enabled"] else 0)
    rows = []
    with ctx.progress(total=total, desc="fig5", unit="ex") as bar:
        for rule in train_p["rules"]:
            net = _net(params, rule)
            result = _rate.train_regression(
                out, rule, net, rule, train_p["eta"], task, stream_seed=(seed, STREAM), test=test,
                eval_every=train_p["eval_every"], phases=[Phase(train_p["examples"])],
                weight_angles=True, bar=bar)
            units = metrics.angle_units(net)
            rows.append({"arm": rule, "final_nse": result.final_nse,
                         "angle_W_BT": metrics.angle_W_BT(net), "angle_W_pinvB": metrics.angle_W_pinvB(net),
                         "unit_angle_median": float(np.nanmedian(units)),
                         "units_below_45deg": float(np.mean(units < 45))})
        if phase_p["enabled"]:
            rule = phase_p["rule"]
            net = _net(params, rule)
            phases = [Phase(n, PHASE_FROZEN[i + 1], i + 1) for i, n in enumerate(phase_p["examples"])]
            result = _rate.train_regression(
                out, "phases", net, rule, train_p["eta"], task, stream_seed=(seed, STREAM), test=test,
                eval_every=train_p["eval_every"], phases=phases, weight_angles=True, bar=bar)
            row = {"arm": "phases", "final_nse": result.final_nse, "angle_W_BT": metrics.angle_W_BT(net),
                   "angle_W_pinvB": metrics.angle_W_pinvB(net)}
            row.update(phase_changes(result))
            rows.append(row)
    return rows


def phase_changes(result) -> dict:
    """Per phase, NSE at its end and its lowest NSE, each divided by NSE at its start
    (1 = flat, < 1 = learning). Phase 3 typically drops fast, then creeps up while W stays frozen."""
    nse = np.asarray(result.nse)
    phase = np.asarray(result.phases)
    out = {}
    for p in (1, 2, 3):
        idx = np.flatnonzero(phase == p)
        if idx.size:
            # the evaluation just before a phase's first block is where it starts
            start = max(idx[0] - 1, 0) if p > 1 else idx[0]
            out[f"phase{p}_end_ratio"] = float(nse[idx[-1]] / nse[start])
            out[f"phase{p}_min_ratio"] = float(nse[idx].min() / nse[start])
    return out
