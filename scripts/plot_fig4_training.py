#!/usr/bin/env python3
"""Test error against training images for several Figure 4 runs on one axis, beside the paper's 1.8%.

    python scripts/plot_fig4_training.py RUN.h5[=LABEL] [RUN2.h5[=LABEL] ...] [--table CSV=LABEL] [--out DIR] [--name STEM]

Each RUN.h5 is the last file of a run (a resumed run's file holds the evaluations of the files it
continues). Where a run held out a validation set, its validation error is drawn dashed in the
run's colour; where a learning-rate schedule lowered eta, a triangle marks the evaluation after
which it did; where the run chose its test steps M on the validation images
(train.test_steps_choices), a star marks the test error at the M chosen. ``--table CSV=LABEL`` adds a curve recorded only as numbers (a CSV of
``images,test_error`` rows, error as a fraction), drawn dotted. Writes STEM.png and .pdf (default
fig4_training, in the folder of the first run) and prints each curve's evaluations.
"""

import os
import sys

import matplotlib.ticker
import numpy as np

from spikefa.plot import metrics, script, style

PAPER_ERROR = 0.018


def _images(n: float) -> str:
    return f"{n / 1000:.0f}k" if n >= 10_000 else str(int(n))


def curve(path: str) -> tuple[np.ndarray, np.ndarray]:
    x, values = curves(path)
    return x, values["test_error"]


def curves(path: str) -> tuple[np.ndarray, dict]:
    """Images seen and the run's test error, with its validation error and eta where it has them."""
    missing = "has no test_error metric; give a run file of the spiking experiment"
    with metrics.open_found(path, lambda h5: metrics.arms_with(h5, "test_error"), missing) as (h5, arms):
        groups = next(iter(arms.values()))
        s = metrics.series(groups[:1], "test_error")
        out = {"test_error": np.asarray(s.values[0], dtype=float)}
        for name in ("validation_error", "eta"):
            if name in groups[0]:
                out[name] = np.asarray(groups[0][name][()], dtype=float)
        arm = next(iter(arms))
        choice = h5.get(f"results/{arm}/test_steps_choice")
        if choice is not None:
            out["chosen"] = (float(choice.attrs["examples_seen"]), float(choice.attrs["test_error"]),
                             int(choice.attrs["chosen"]))
        if "eta" in out:     # the eta each evaluation left training with, after the one it started with
            start = metrics.run_params(h5).get("network", {}).get("eta", out["eta"][0])
            out["eta_before"] = np.concatenate([[float(start)], out["eta"][:-1]])
        return np.asarray(s.x, dtype=float), out


def table(path: str) -> tuple[np.ndarray, np.ndarray]:
    rows = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    return rows[:, 0], rows[:, 1]


@style.styled
def build(runs: list[tuple[str, str]], tables: list[tuple[str, str]] = ()):
    fig = style.figure(6.4, 3.8)
    ax = fig.add_subplot()
    for i, (path, label) in enumerate(tables):
        x, err = table(path)
        ax.plot(x, 100 * err, linestyle=":", marker=".", markersize=3, color=f"{0.35 + 0.2 * i:g}", label=label)
    for i, (path, label) in enumerate(runs):
        x, values = curves(path)
        colour = style.colour(label, i)
        ax.plot(x, 100 * values["test_error"], marker="o", markersize=2.5, color=colour, label=label)
        if "validation_error" in values:
            ax.plot(x, 100 * values["validation_error"], linestyle="--", linewidth=0.9, color=colour, alpha=0.7,
                    label=f"{label}: validation")
        if "eta" in values:
            drops = np.flatnonzero(values["eta"] < values["eta_before"])
            ax.plot(x[drops], 100 * values["test_error"][drops], linestyle="none", marker="v",
                    markersize=7, color=colour, label=f"{label}: eta lowered" if len(drops) else None)
        if "chosen" in values:
            at, err, m = values["chosen"]
            ax.plot([at], [100 * err], linestyle="none", marker="*", markersize=11, color=colour,
                    markeredgecolor="black", markeredgewidth=0.5, label=f"{label}: test at M = {m}, chosen")
    ax.axhline(100 * PAPER_ERROR, color="0.4", linestyle="--", linewidth=1, label="paper: 1.8%")
    ax.set_yscale("log")
    ax.set_xlabel("training images seen")
    ax.set_ylabel("test error (%, 10k MNIST test images)")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1000:g}k"))
    ax.legend(fontsize=7)
    ax.set_title("Figure 4 network: spiking, feedback alignment, MNIST")
    return fig


def main(argv=None) -> int:
    p = script.parser(__doc__)
    p.add_argument("runs", nargs="+", help="run files, each optionally =LABEL")
    p.add_argument("--table", action="append", default=[], metavar="CSV=LABEL",
                   help="a curve recorded as images,test_error rows (repeatable)")
    p.add_argument("--out", help="folder for the figure (default: the first run's folder)")
    p.add_argument("--name", default="fig4_training", help="the figure's file name, without extension")
    return script.main("plot_fig4_training", p, draw, argv)


def draw(args) -> list[str]:
    """Print each run's evaluations, then draw them on one axis."""
    def labelled(items):
        """PATH=LABEL pairs, split after the file's extension (sweep file names hold '=' too)."""
        out = []
        for r in items:
            for ext in (".h5=", ".csv="):
                if ext in r:
                    path, label = r.split(ext, 1)
                    out.append((path + ext[:-1], label))
                    break
            else:
                out.append((r, os.path.basename(r)))
        return out

    runs, tables = labelled(args.runs), labelled(args.table)
    for path, label in tables:
        x, err = table(path)
        print(f"{label}: " + "  ".join(f"{_images(a)} {100 * e:.2f}%" for a, e in zip(x, err)))
    for path, label in runs:
        x, values = curves(path)
        print(f"{label}: " + "  ".join(f"{_images(a)} {100 * e:.2f}%" for a, e in zip(x, values["test_error"])))
        if "validation_error" in values:
            print(f"{label} (validation): "
                  + "  ".join(f"{_images(a)} {100 * e:.2f}%" for a, e in zip(x, values["validation_error"])))
        if "eta" in values:
            lowered = [f"after {_images(a)}: {e:g}" for a, e, before in
                       zip(x, values["eta"], values["eta_before"]) if e < before]
            print(f"{label} (eta lowered): " + ("; ".join(lowered) or "never"))
        if "chosen" in values:
            at, err, m = values["chosen"]
            print(f"{label} (test steps chosen on the validation images): M = {m}, test error {100 * err:.2f}% "
                  f"after {_images(at)}")
    out = args.out or os.path.dirname(os.path.abspath(runs[0][0]))
    return style.save(build(runs, tables), out, args.name)


if __name__ == "__main__":
    sys.exit(main())
