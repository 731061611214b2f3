"""The last evaluation's confusion matrix, with each class's error and each layer's firing rate.

Reads ``/results/<arm>/confusion`` (true class x guessed class, counts over the test set) and,
beside it when present, ``/results/<arm>/firing_rate`` (mean spikes per unit per step of each
layer over the test steps), both written by the spiking experiment at each evaluation (the file
keeps the last). One row of panels per arm.
"""

from __future__ import annotations

import h5py
import numpy as np

from ..runfile.series import confusion_groups
from . import metrics, style

MATRIX_W, RATES_W, ROW_H = 4.6, 2.4, 4.0      # inches

MISSING = ("no confusion matrix: the file has no /results/<arm>/confusion; the spiking experiment "
           "writes it (with /results/<arm>/firing_rate) at each evaluation, and a run killed before "
           "it finished lacks it")


found = confusion_groups     # arm -> the /results group holding its confusion


def has_data(h5: h5py.File) -> bool:
    return bool(found(h5))


def per_class_error(confusion: np.ndarray) -> np.ndarray:
    """The fraction of each true class guessed wrong (NaN for a class with no test images)."""
    confusion = np.asarray(confusion, dtype=float)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, 1 - np.diag(confusion) / np.where(totals > 0, totals, 1), np.nan)


def draw_matrix(ax, confusion: np.ndarray) -> None:
    """Counts in every cell, shaded by the share of the true class (row); each row's error at its right."""
    c = np.asarray(confusion, dtype=np.int64)
    n = c.shape[0]
    totals = np.maximum(c.sum(axis=1, keepdims=True), 1)
    share = c / totals
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="equal", interpolation="nearest")
    small = 7 if n <= 10 else 5
    for i in range(n):
        for j in range(n):
            if c[i, j]:
                ax.text(j, i, str(c[i, j]), ha="center", va="center", fontsize=small,
                        color="white" if share[i, j] > 0.55 else "black")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("guessed class")
    ax.set_ylabel("true class")
    ax.grid(False)
    err = per_class_error(c)
    for i in range(n):
        ax.text(n - 0.3, i, "-" if np.isnan(err[i]) else f"{100 * err[i]:.0f}%", ha="left", va="center",
                fontsize=small, color="#b2182b", clip_on=False)


def draw_rates(ax, rates: np.ndarray) -> None:
    """One bar per layer: mean spikes per unit per step (layer 0, the input, in grey)."""
    rates = np.asarray(rates, dtype=float)
    layers = np.arange(rates.size)
    colours = ["0.65"] + ["#7b3294"] * (rates.size - 1)
    ax.bar(layers, rates, color=colours, width=0.6)
    for x, r in zip(layers, rates):
        ax.text(x, r, f"{r:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(layers)
    ax.set_xticklabels(["in"] + [str(k) for k in layers[1:]])
    ax.set_xlabel("layer")
    ax.set_ylabel("spikes per unit per step")
    ax.set_ylim(0, max(1e-9, rates.max()) * 1.25)
    ax.set_title("firing rates, testing")


@style.styled
def draw(run_path: str, out_dir: str, stem: str = "confusion") -> list[str]:
    with metrics.open_found(run_path, found, MISSING) as (h5, arms):
        with_rates = any("firing_rate" in g for g in arms.values())
        width = MATRIX_W + (RATES_W if with_rates else 0)
        fig = style.figure(width, ROW_H * len(arms))
        grid = fig.add_gridspec(len(arms), 2 if with_rates else 1,
                                width_ratios=[MATRIX_W, RATES_W] if with_rates else [1])
        for row, (arm, g) in enumerate(arms.items()):
            confusion = g["confusion"][()]
            ax = fig.add_subplot(grid[row, 0])
            draw_matrix(ax, confusion)
            total = int(confusion.sum())
            error = 1 - np.trace(confusion) / max(total, 1)
            seen = g["confusion"].attrs.get("examples_seen")
            when = f" after {int(seen)} images" if seen is not None else ""
            name = style.label(arm) if arm else "run"
            seeds = int(g["confusion"].attrs.get("seeds", 1))
            if seeds > 1:
                name += f" ({seeds} seeds summed)"
            ax.set_title(f"{name}\n{100 * error:.1f}% of {total} test images wrong{when}")
            if "firing_rate" in g:
                draw_rates(fig.add_subplot(grid[row, 1]), g["firing_rate"][()])
        title = h5.attrs.get("title", "") or h5.attrs.get("experiment", "")
        style.title(fig, str(title), "last evaluation: counts by true and guessed class; in red, each class's error")
        return style.save(fig, out_dir, stem)
