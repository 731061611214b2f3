"""Learning curves: test error (classification) or NSE (regression) against examples seen.

One line per rule (arm); with several seeds the line is their mean and the band one standard
deviation either side.
"""

from __future__ import annotations

import h5py

from ..errors import DataError
from . import metrics, style

WIDTH, HEIGHT = 5.0, 3.4          # inches, per panel

MISSING = ("no learning curves: the file has no /metrics/<arm>/test_error or /metrics/<arm>/nse; "
           "the rate and spiking experiments write them at every evaluation (train.eval_every)")

PANELS = {
    # metric -> (y label, scale factor, y scale)
    "test_error": ("test error (%)", 100.0, "linear"),
    "nse": ("normalised squared error (NSE)", 1.0, "log"),
}


def has_data(h5: h5py.File) -> bool:
    return any(metrics.arms_with(h5, m) for m in PANELS)


def panels(h5: h5py.File) -> dict[str, dict[str, list[h5py.Group]]]:
    """metric -> {arm: seed groups}, for the learning-curve metrics the file has."""
    out = {}
    for metric in PANELS:
        found = metrics.arms_with(h5, metric)
        if found:
            out[metric] = found
    return out


def draw_curves(ax, found: dict[str, list[h5py.Group]], metric: str, arm_filter=None):
    """Draw one panel of ``metric`` for every arm in ``found``; return the number of lines."""
    y_label, scale, y_scale = PANELS[metric]
    lines = 0
    x_label = "examples seen"
    looks = style.arm_styles(found)
    for arm, groups in found.items():
        if arm_filter is not None and not arm_filter(arm):
            continue
        s = metrics.series(groups, metric)
        if s.values.shape[1] == 0:
            continue
        x_label = s.x_label
        mean, std = s.mean() * scale, s.std() * scale
        c, dash = looks[arm]
        name = style.label(arm) if arm else "run"
        if s.n_seeds > 1:
            name += f" (n={s.n_seeds})"
            ax.fill_between(s.x, mean - std, mean + std, color=c, alpha=0.2, linewidth=0)
        ax.plot(s.x, mean, color=c, linestyle=dash, label=name, marker="o" if len(s.x) < 12 else None,
                markersize=3)
        lines += 1
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    if y_scale == "log":
        style.error_scale(ax)
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    return lines


@style.styled
def draw(run_path: str, out_dir: str, stem: str = "learning_curves") -> list[str]:
    with metrics.open_file(run_path) as h5:
        found = panels(h5)
        if not found:
            raise DataError(f"{run_path}: {MISSING}")
        title = h5.attrs.get("title", "") or h5.attrs.get("experiment", "")
        multi_seed = any(len(g) > 1 for arms in found.values() for g in arms.values())
        fig = style.figure(WIDTH * len(found), HEIGHT)
        axes = fig.subplots(1, len(found), squeeze=False)[0]
        for ax, (metric, arms) in zip(axes, found.items()):
            draw_curves(ax, arms, metric)
            ax.legend(loc="best")
        if title or multi_seed:
            style.title(fig, str(title), "mean \u00b1 1 s.d. over seeds" if multi_seed else "")
        return style.save(fig, out_dir, stem)

