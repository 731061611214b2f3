"""Learning curves: test error (classification) or NSE (regression) against examples seen.

One line per rule (arm); with several seeds the line is their mean and the band one standard
deviation either side.
"""

from __future__ import annotations

import h5py
import numpy as np

from ..errors import DataError
from . import metrics, style

WIDTH, HEIGHT = 5.0, 3.4          # inches, per panel

MISSING = ("no learning curves: the file has no /metrics/<arm>/test_error or /metrics/<arm>/nse; "
           "the rate and spiking experiments write them at every evaluation (train.eval_every)")
NOT_YET = ("no learning curve yet: the run has not reached its first evaluation (train.eval_every); "
           "plot it again later")

PANELS = {
    # metric -> (y label, scale factor, y scale)
    # log when the errors span decades (MNIST: 90% at the start, 1.5% at the end), so the arms'
    # final errors stay apart instead of merging into the bottom of the axis
    "test_error": ("test error (%)", 100.0, "log"),
    "nse": ("normalised squared error (NSE)", 1.0, "log"),
}


def has_data(h5: h5py.File) -> bool:
    return bool(panels(h5))


def _evaluated(groups, metric) -> bool:
    return all(g[metric].shape[0] > 0 for g in groups)


def panels(h5: h5py.File) -> dict[str, dict[str, list[h5py.Group]]]:
    """metric -> {arm: seed groups}, for the learning-curve metrics the file has at least one
    evaluation of (a run before its first evaluation has declared but empty metrics)."""
    out = {}
    for metric in PANELS:
        found = {arm: groups for arm, groups in metrics.arms_with(h5, metric).items() if _evaluated(groups, metric)}
        if found:
            out[metric] = found
    return out


def chance_line(ax, classes: int | None) -> None:
    """The test error of guessing: 1 - 1/classes."""
    if classes and classes > 1:
        chance = 100.0 * (1 - 1 / classes)
        ax.axhline(chance, color="0.6", linestyle=(0, (4, 3)), linewidth=0.8, label=f"chance ({chance:.0f}%)",
                   gid="chance")


def spans_decades(series: list[metrics.Series]) -> bool:
    """Whether positive values over more than a decade call for a log axis (and geometric statistics)."""
    values = np.concatenate([s.values.ravel() for s in series]) if series else np.zeros(0)
    values = values[np.isfinite(values)]
    return bool(values.size and values.min() > 0 and values.max() > 10 * values.min())


def draw_curves(ax, found: dict[str, list[h5py.Group]], metric: str, arm_filter=None) -> bool:
    """Draw one panel of ``metric`` for every arm in ``found``; return whether it is logarithmic.

    Over several seeds: the mean and one s.d. either side on a linear axis; on a log axis (errors
    spanning decades, where mean - s.d. may be negative) the geometric mean and one geometric s.d.
    either side, i.e. the same statistics of log(error).
    """
    y_label, scale, y_scale = PANELS[metric]
    x_label = "examples seen"
    looks = style.arm_styles(found)
    chosen = {arm: metrics.series(groups, metric) for arm, groups in found.items()
              if arm_filter is None or arm_filter(arm)}
    chosen = {arm: s for arm, s in chosen.items() if s.values.shape[1] > 0}
    log = y_scale == "log" and spans_decades(list(chosen.values()))
    for arm, s in chosen.items():
        x_label = s.x_label
        if log:
            logs = np.log(s.values)
            centre = np.exp(np.nanmean(logs, axis=0)) * scale
            spread = np.exp(np.nanstd(logs, axis=0, ddof=1)) if s.n_seeds > 1 else np.ones_like(centre)
            low, high = centre / spread, centre * spread
        else:
            centre, sd = s.mean() * scale, s.std() * scale
            low, high = centre - sd, centre + sd
        c, dash = looks[arm]
        name = style.label(arm) if arm else "run"
        if s.n_seeds > 1:
            name += f" (n={s.n_seeds})"
            ax.fill_between(s.x, low, high, color=c, alpha=0.2, linewidth=0)
        ax.plot(s.x, centre, color=c, linestyle=dash, label=name, marker="o" if len(s.x) < 12 else None,
                markersize=3)
    ax.set_xlabel(x_label)
    if x_label == "examples seen":
        style.count_axis(ax.xaxis)
    ax.set_ylabel(y_label)
    if log:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    return log


@style.styled
def draw(run_path: str, out_dir: str, stem: str = "learning_curves") -> list[str]:
    with metrics.open_file(run_path) as h5:
        found = panels(h5)
        if not found:
            declared = any(metrics.arms_with(h5, m) for m in PANELS)
            raise DataError(f"{run_path}: {NOT_YET if declared else MISSING}")
        size, classes = metrics.test_set(h5)
        title = h5.attrs.get("title", "") or h5.attrs.get("experiment", "")
        multi_seed = any(len(g) > 1 for arms in found.values() for g in arms.values())
        fig = style.figure(WIDTH * len(found), HEIGHT)
        axes = fig.subplots(1, len(found), squeeze=False)[0]
        logs = []
        for ax, (metric, arms) in zip(axes, found.items()):
            logs.append(draw_curves(ax, arms, metric))
            if metric == "test_error":
                chance_line(ax, classes)
            if size:
                ax.set_title(f"on {size} test images" if metric == "test_error" else f"on {size} held-out examples")
            ax.legend(loc="best")
        note = ""
        if multi_seed:
            seeds = max(len(g) for arms in found.values() for g in arms.values())
            note = ("band: geometric mean \u00d7/\u00f7 1 geometric s.d. over seeds" if all(logs) else
                    "band: mean \u00b1 1 s.d. over seeds" if not any(logs) else
                    "band over seeds: mean \u00b1 1 s.d. (linear axes), geometric on log axes")
            note += f" (up to {seeds})"
        if title or note:
            style.title(fig, str(title), note)
        return style.save(fig, out_dir, stem)

