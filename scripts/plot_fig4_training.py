#!/usr/bin/env python3
"""Test error against training images for several Figure 4 runs on one axis, beside the paper's 1.8%.

    python scripts/plot_fig4_training.py RUN.h5[=LABEL] [RUN2.h5[=LABEL] ...] [--out DIR]

Each RUN.h5 is the last file of a run (a resumed run's file holds the evaluations of the files it
continues). Writes fig4_training.png and .pdf (default: the folder of the first run) and prints
each run's evaluations as a table.
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
    missing = "has no test_error metric; give a run file of the spiking experiment"
    with metrics.open_found(path, lambda h5: metrics.arms_with(h5, "test_error"), missing) as (_, arms):
        groups = next(iter(arms.values()))
        s = metrics.series(groups[:1], "test_error")
        return np.asarray(s.x, dtype=float), np.asarray(s.values[0], dtype=float)


@style.styled
def build(runs: list[tuple[str, str]]):
    fig = style.figure(5.5, 3.4)
    ax = fig.add_subplot()
    for i, (path, label) in enumerate(runs):
        x, err = curve(path)
        ax.plot(x, 100 * err, marker="o", markersize=2.5, color=style.colour(label, i), label=label)
    ax.axhline(100 * PAPER_ERROR, color="0.4", linestyle="--", linewidth=1, label="paper: 1.8%")
    ax.set_yscale("log")
    ax.set_xlabel("training images seen")
    ax.set_ylabel("test error (%, 10k MNIST test images)")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k"))
    ax.legend()
    ax.set_title("Figure 4 network: spiking, feedback alignment, MNIST")
    return fig


def main(argv=None) -> int:
    p = script.parser(__doc__)
    p.add_argument("runs", nargs="+", help="run files, each optionally =LABEL")
    p.add_argument("--out", help="folder for the figure (default: the first run's folder)")
    return script.main("plot_fig4_training", p, draw, argv)


def draw(args) -> list[str]:
    """Print each run's evaluations, then draw them on one axis."""
    runs = [(r.split("=", 1)[0], r.split("=", 1)[1] if "=" in r else os.path.basename(r)) for r in args.runs]
    for path, label in runs:
        x, err = curve(path)
        print(f"{label}: " + "  ".join(f"{_images(a)} {100 * e:.2f}%" for a, e in zip(x, err)))
    out = args.out or os.path.dirname(os.path.abspath(runs[0][0]))
    return style.save(build(runs), out, "fig4_training")


if __name__ == "__main__":
    sys.exit(main())
