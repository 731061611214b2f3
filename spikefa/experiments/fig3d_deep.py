"""Figure 3d: 30-20-10 and 30-20-10-10 tanh networks (linear output) fit a fixed random
30-20-10-10 tanh network, by backprop and feedback alignment, n runs each; two-sample t-tests of
3 against 4 layers per rule, and the control with the first weight layer W0 frozen."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..config import Field
from ..rate.network import RateNet
from ..rate.tasks import DeepTeacher
from . import _rate
from ._rate import FEEDBACK, STREAM, TASK, TEST, WEIGHTS, Phase, seeded

DOC = "Figure 3d: 3 vs 4 layer tanh nets, bp and fa, n seeds, t-tests, frozen-W0 control"

# arm -> (depth, rule, frozen weight layers); depth 3 = sizes3, depth 4 = sizes4
ARMS = {
    "shallow3": (3, "shallow", ()),
    "bp3": (3, "bp", ()),
    "fa3": (3, "fa", ()),
    "bp4": (4, "bp", ()),
    "fa4": (4, "fa", ()),
    "fa4_frozen_w0": (4, "fa", (0,)),
    "bp4_frozen_w0": (4, "bp", (0,)),
}
# (deeper arm, shallower arm) compared by a two-sample t-test on final NSE
COMPARISONS = (("bp4", "bp3"), ("fa4", "fa3"), ("fa4_frozen_w0", "fa3"), ("bp4_frozen_w0", "bp3"))

SCHEMA = {
    "seed": Field(0, "int", "seed of the target net, the feedback matrices and the runs", min=0),
    "runs": Field(20, "int", "runs per arm (new forward weights and example stream each)", min=1),
    "arms": Field(["shallow3", "bp3", "fa3", "bp4", "fa4", "fa4_frozen_w0"], "list[str]",
                  "arms to run", choices=tuple(ARMS), min_len=1),
    "network": {
        "sizes3": _rate.sizes_field([30, 20, 10], "three-layer net"),
        "sizes4": _rate.sizes_field([30, 20, 10, 10], "four-layer net"),
        "init_scale": _rate.scale_field([0.1], "forward weights and biases ~ U[-w, w]"),
        "feedback_scale": _rate.scale_field([0.5], "feedback weights ~ U[-beta, beta], fixed across runs"),
    },
    "task": {
        "teacher_sizes": _rate.sizes_field([30, 20, 10, 10], "target network"),
        "teacher_scale": Field(0.5, "float", "target weights and biases ~ U[-s, s]", min=0, min_exclusive=True),
        "test_examples": Field(2000, "int", "held-out examples on which NSE is measured", min=1),
    },
    "train": {
        "examples": Field(100000, "int", "training examples per run (one update each)", min=1),
        "eval_every": Field(2000, "int", "examples between NSE evaluations", min=1),
        "eta": Field(0.02, "float", "learning rate, shared by every rule", min=0, min_exclusive=True),
    },
}


def run(params, out, ctx):
    _rate.refuse_resume(ctx, "fig3d_deep")
    net_p, task_p, train_p = params["network"], params["task"], params["train"]
    seed, runs, arms = params["seed"], params["runs"], params["arms"]
    task = DeepTeacher(task_p["teacher_sizes"], seeded(seed, TASK), task_p["teacher_scale"])
    test = task.sample(task_p["test_examples"], seeded(seed, TEST))
    final = {arm: np.full(runs, np.nan) for arm in arms}
    with ctx.progress(total=len(arms) * runs * train_p["examples"], desc="fig3d", unit="ex") as bar:
        for arm in arms:
            depth, rule, frozen = ARMS[arm]
            sizes = net_p["sizes3"] if depth == 3 else net_p["sizes4"]
            for k in range(runs):
                net = RateNet.init(sizes, seeded(seed, WEIGHTS, k), hidden="tanh", output="linear",
                                   init_scale=net_p["init_scale"], feedback_scale=net_p["feedback_scale"],
                                   bias=True, feedback_rng=seeded(seed, FEEDBACK))
                result = _rate.train_regression(
                    out, f"{arm}/seed{k}", net, rule, train_p["eta"], task, stream_seed=(seed, STREAM, k),
                    test=test, eval_every=train_p["eval_every"],
                    phases=[Phase(train_p["examples"], frozen=frozen)], bar=bar)
                final[arm][k] = result.final_nse
    out.put("final_nse", np.array([final[a] for a in arms]), attrs={"arms": list(arms)})
    p_values = {}
    for deep, shallow in COMPARISONS:
        if deep in final and shallow in final and runs > 1:
            p_values[deep] = (shallow, float(stats.ttest_ind(final[deep], final[shallow]).pvalue))
            ctx.log(f"t-test {deep} vs {shallow}: mean final NSE {final[deep].mean():.4g} vs "
                    f"{final[shallow].mean():.4g}, p = {p_values[deep][1]:.3g} (n = {runs})")
    rows = []
    for arm in arms:
        depth, rule, frozen = ARMS[arm]
        row = {"arm": arm, "layers": depth, "rule": rule, "runs": runs,
               "final_nse_mean": float(final[arm].mean()),
               "final_nse_sd": float(final[arm].std(ddof=1)) if runs > 1 else 0.0}
        if arm in p_values:
            row["vs"] = p_values[arm][0]
            row["p_value"] = p_values[arm][1]
        rows.append(row)
    return rows
