"""Figure 2a, b: a 30-20-10 linear network learns a linear map by backprop, feedback alignment,
shallow learning and node perturbation, all on the same example stream; NSE over training and the
angle between FA's and backprop's hidden teaching signals, example by example."""

from __future__ import annotations

import numpy as np

from ..config import Field
from ..rate import metrics
from ..rate.network import RateNet
from ..rate.tasks import LinearTeacher
from . import _rate
from ._rate import FEEDBACK, NOISE, STREAM, TASK, TEST, WEIGHTS, Phase, seeded

DOC = "Figure 2: linear 30-20-10 net, bp vs fa vs shallow vs node perturbation (NSE, delta angle)"

SCHEMA = {
    "seed": Field(0, "int", "seed of the target, the data stream and the initial weights", min=0),
    "network": {
        "sizes": _rate.sizes_field([30, 20, 10]),
        "init_scale": _rate.scale_field([0.01], "forward weights ~ U[-w, w]"),
        "feedback_scale": _rate.scale_field([0.5], "feedback weights B ~ U[-beta, beta]"),
    },
    "task": {
        "teacher_scale": Field(1.0, "float", "target matrix T ~ U[-s, s]", min=0, min_exclusive=True),
        "test_examples": Field(1000, "int", "held-out examples on which NSE is measured", min=1,
                                   max=1_000_000),
    },
    "train": {
        "rules": _rate.rules_field(["bp", "fa", "shallow", "node_perturbation"]),
        "examples": Field(2000, "int", "training examples (one update each)", min=1),
        "eval_every": Field(10, "int", "examples between NSE evaluations", min=1),
        "eta": _rate.eta_table({"bp": 0.01, "node_perturbation": 5e-4}, "chosen per algorithm"),
        "noise_sigma": Field(0.1, "float", "node perturbation: s.d. of the noise on summed inputs",
                             min=0, min_exclusive=True),
        "angle_window": Field(10, "int", "sliding window (examples) of the delta-angle mean and s.d.", min=1),
    },
}


def run(params, out, ctx):
    _rate.refuse_resume(ctx, "fig2_linear")
    net_p, task_p, train_p = params["network"], params["task"], params["train"]
    seed = params["seed"]
    sizes = net_p["sizes"]
    task = LinearTeacher(sizes[0], sizes[-1], seeded(seed, TASK), task_p["teacher_scale"])
    test = task.sample(task_p["test_examples"], seeded(seed, TEST))
    rows = []
    rules = train_p["rules"]
    with ctx.progress(total=len(rules) * train_p["examples"], desc="fig2", unit="ex") as bar:
        for rule in rules:
            net = RateNet.init(sizes, seeded(seed, WEIGHTS), hidden="linear", output="linear",
                               init_scale=net_p["init_scale"], feedback_scale=net_p["feedback_scale"],
                               bias=False, direct_feedback=(rule == "dfa"), feedback_rng=seeded(seed, FEEDBACK))
            result = _rate.train_regression(
                out, rule, net, rule, train_p["eta"][rule], task, stream_seed=(seed, STREAM), test=test,
                eval_every=train_p["eval_every"], phases=[Phase(train_p["examples"])],
                sigma=train_p["noise_sigma"], noise_seed=(seed, NOISE), record_delta=True,
                angle_window=train_p["angle_window"], bar=bar)
            row = {"arm": rule, "eta": train_p["eta"][rule], "final_nse": result.final_nse,
                   "nse_at_half": result.nse[len(result.nse) // 2],
                   "examples_to_nse_0.01": result.examples_to(0.01)}
            angles = result.delta_angles()
            if angles.size:
                w = train_p["angle_window"]
                row["angle_first"] = float(np.nanmean(angles[:w]))
                row["angle_last"] = float(np.nanmean(angles[-w:]))
                row["angle_min"] = float(np.nanmin(metrics.sliding_stats(angles, w)[0]))
            rows.append(row)
    return rows
