"""Choose Figure 3a's protocol the way the paper did, without looking at the test set.

The paper tuned the learning parameters for backprop alone, used them for every arm, and stopped
every run after the same number of examples, "when backprop began to overfit on the test set".
Here the test set is left alone: the last 10,000 training images are held out as a validation
set, backprop trains on the other 50,000, and

  1. eta is the value (of a grid) with backprop's lowest validation error;
  2. the stop is the epoch where backprop's validation error, averaged over the 5 epochs
     centred on it, is lowest: after it the error turns up (backprop begins to overfit);
  3. B's scale (beta) is the value (of a grid) with FA's lowest validation error at that stop,
     as the paper chose beta by a short search on FA (it did so on the test set).

    python scripts/fig3a_protocol.py search --etas 0.003,0.01,0.03 --epochs 80
    python scripts/fig3a_protocol.py beta --betas 0.1,0.5,1.0 --eta 0.01 --epochs 40
    python scripts/fig3a_protocol.py choose

Each configuration's validation curve goes to reports/full/fig3a/protocol.json (resumable: a
finished configuration is not run again); `choose` prints the chosen protocol as a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from spikefa.config import load_model
from spikefa.data import mnist
from spikefa.experiments._rate import FEEDBACK, STREAM, WEIGHTS, seeded
from spikefa.rate import metrics
from spikefa.rate.network import RateNet
from spikefa.rate.train import Scratch, train

VALIDATION = 10000
WINDOW = 5


def load(path=None):
    images, labels = mnist.load("train", path)
    X = mnist.as_float(images)
    n = X.shape[0] - VALIDATION
    Y = np.eye(10, dtype=np.float32)[labels[:n]]
    return X[:n], Y, labels[:n], X[n:], labels[n:]


def run_config(data, rule, eta, epochs, init_scale, feedback_scale, decay, seed, run=0):
    """Validation (and training-subset) error after every epoch of one run."""
    X, Y, labels, Xv, yv = data
    sizes = [X.shape[1], 1000, 10]
    net = RateNet.init(sizes, seeded(seed, WEIGHTS, run), hidden="logistic", output="logistic",
                       init_scale=init_scale, feedback_scale=feedback_scale, bias=True,
                       feedback_rng=seeded(seed, FEEDBACK, run))
    scratch = Scratch.for_net(net)
    val, tr = [], []
    for epoch in range(epochs):
        order = seeded(seed, STREAM, run, epoch).permutation(X.shape[0])
        train(net, X, Y, rule, eta, decay=decay, order=order, scratch=scratch,
              examples_before=epoch * X.shape[0])
        val.append(metrics.classification_error(net, Xv, yv))
        tr.append(metrics.classification_error(net, X[:VALIDATION], labels[:VALIDATION]))
    return val, tr


def stop_epoch(curve):
    """The epoch where backprop begins to overfit: the lowest validation error averaged over the
    5 epochs centred on it (the average steadies a curve that moves by +-0.1 points from epoch
    to epoch). At the horizon's edge it means backprop had not begun to overfit yet."""
    c = np.asarray(curve) * 100
    if c.size < WINDOW:
        return int(c.argmin()) + 1
    means = np.convolve(c, np.ones(WINDOW) / WINDOW, mode="valid")   # means[i]: epochs i+1 .. i+WINDOW
    return int(means.argmin()) + WINDOW // 2 + 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["search", "beta", "choose"])
    ap.add_argument("--model", default="models/fig3a_mnist.toml")
    ap.add_argument("--out", default="reports/full/fig3a/protocol.json")
    ap.add_argument("--etas", default="0.003,0.01,0.03")
    ap.add_argument("--scales", default="", help="init scales w to try at each eta (default: the model file's)")
    ap.add_argument("--betas", default="0.1,0.5,1.0")
    ap.add_argument("--eta", type=float, default=None)
    ap.add_argument("--epochs", type=int, default=80)
    args = ap.parse_args(argv)
    p = load_model(args.model).params
    net_p, train_p = p["network"], p["train"]
    out = Path(args.out)
    state = json.loads(out.read_text()) if out.exists() else {"configs": {}}
    configs = state["configs"]

    def save():
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(state, indent=1))

    w0, b0 = net_p["init_scale"][0], net_p["feedback_scale"][0]
    todo = []
    if args.what == "search":
        scales = [float(s) for s in args.scales.split(",")] if args.scales else [w0]
        todo = [("bp", float(e), w, b0) for e in args.etas.split(",") for w in scales]
    elif args.what == "beta":
        todo = [("fa", args.eta, w0, float(b)) for b in args.betas.split(",")]
    if todo:
        data = load(p["data"]["path"])
    for rule, eta, w, beta in todo:
        key = f"{rule} eta={eta} w={w} beta={beta} epochs={args.epochs}"
        if key in configs:
            continue
        t0 = time.time()
        val, tr = run_config(data, rule, eta, args.epochs, w, beta, train_p["decay"], p["seed"])
        configs[key] = {"rule": rule, "eta": eta, "init_scale": w, "feedback_scale": beta,
                        "epochs": args.epochs, "validation_error": val, "train_error": tr,
                        "wall_s": time.time() - t0}
        save()
        print(f"{key}: validation error {100 * min(val):.2f}% at best, {100 * val[-1]:.2f}% at the end "
              f"({time.time() - t0:.0f} s)", flush=True)
    text = report(configs)
    out.with_suffix(".md").write_text(text)
    print(text)


def smoothed_best(c) -> float:
    v = np.asarray(c["validation_error"]) * 100
    return float(np.convolve(v, np.ones(WINDOW) / WINDOW, mode="valid").min()) if v.size >= WINDOW else float(v.min())


def choice(configs) -> dict:
    """eta and w: backprop's lowest 5-epoch validation error; the stop: where that run turns up;
    beta: FA's lowest validation error at the chosen eta and w."""
    bp = [c for c in configs.values() if c["rule"] == "bp"]
    if not bp:
        return {}
    best = min(bp, key=smoothed_best)
    out = {"eta": best["eta"], "init_scale": best["init_scale"], "epochs": stop_epoch(best["validation_error"])}
    fa = [c for c in configs.values() if c["rule"] == "fa" and c["eta"] == best["eta"]
          and c["init_scale"] == best["init_scale"]]
    if fa:
        out["feedback_scale"] = min(fa, key=smoothed_best)["feedback_scale"]
    return out


def report(configs) -> str:
    chosen = choice(configs)
    lines = ["#### How the learning rate, the stop and B's scale were chosen", "",
             "On a validation split: training on the first 50,000 training images, the error measured on the "
             "last 10,000 after every epoch; the test set was not looked at. Backprop alone chose eta and w "
             "(lowest validation error, averaged over 5 epochs) and the stop (the epoch where that error, "
             "averaged over the 5 epochs around it, is lowest: after it backprop begins to overfit); FA chose "
             "B's scale at that eta, as the paper chose it by a short search on FA. Made by "
             "`python scripts/fig3a_protocol.py`.", "", table(configs), ""]
    if chosen:
        lines.append(f"Chosen: eta = {chosen['eta']}, w = {chosen['init_scale']}, stop after "
                     f"{chosen['epochs']} epochs" + (f", beta = {chosen['feedback_scale']}" if "feedback_scale"
                                                     in chosen else "")
                     + "; every arm then trains on all 60,000 images for that many epochs and is tested on the "
                       "10,000 test images.")
    return "\n".join(lines) + "\n"


def table(configs):
    lines = ["| rule | eta | w | beta | epochs run | lowest val. error (epoch) | overfitting begins (epoch) | "
             "val. error there (5-epoch mean) | train error there |", "|---|---|---|---|---|---|---|---|---|"]
    for c in configs.values():
        v = np.asarray(c["validation_error"]) * 100
        s = stop_epoch(c["validation_error"])
        lines.append(f"| {c['rule']} | {c['eta']} | {c['init_scale']} | {c['feedback_scale']} | {c['epochs']} | "
                     f"{v.min():.2f}% ({int(v.argmin()) + 1}) | {s}{' (horizon)' if s > c['epochs'] - WINDOW // 2 - 1 else ''} | "
                     f"{v[max(0, s - 1 - WINDOW // 2):s + WINDOW // 2].mean():.2f}% | "
                     f"{100 * c['train_error'][s - 1]:.2f}% |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
