"""The spiking network against its rate limit (run files of the "compare" experiment).

Top row, over training: test error of both networks side by side, the distance between the
spiking network's trial-averaged activity and the rate network's (per layer), and the angles
between their weight updates (per layer). Bottom row, when the run swept tau: final test error,
activity distance and update angle against tau, with the tolerance band of the test-error gap.
"""

from __future__ import annotations

import h5py
import numpy as np

from . import learning, metrics, style

PANEL_W, PANEL_H = 3.6, 2.9
MISSING = ("no spiking-vs-rate comparison: the file has no /metrics/compare/activity_distance; "
           "write one with `spikefa compare MODEL.toml` (experiment \"compare\")")
LAYER_STYLES = ["-", "--", "-.", ":"]


def _compare_group(h5: h5py.File):
    """/metrics/compare, or its first seed in a file merging several runs."""
    groups = metrics.arms_with(h5, "activity_distance").get("compare")
    return groups[0] if groups else None


def has_data(h5: h5py.File) -> bool:
    return _compare_group(h5) is not None


def has_sweep(h5: h5py.File) -> bool:
    return "results/tau_sweep/tau" in h5


def size(sweep: bool) -> tuple[float, float]:
    return 3 * PANEL_W, PANEL_H * (2 if sweep else 1) + 0.4


def draw(run_path: str, out_dir: str, stem: str = "compare") -> list[str]:
    """Write the comparison figure of ``run_path`` as PNG and PDF; return the paths."""
    return style.save(build(run_path), out_dir, stem)


def _layer_colour(l, L):
    return style.RULE_COLOURS["spiking"] if l == L else ["#1b7837", "#5aae61", "#a6dba0", "#2166ac"][(l - 1) % 4]


def _per_layer(ax, x, values, what):
    """One line per layer of (n, L) ``values``."""
    L = values.shape[1]
    for l in range(1, L + 1):
        ax.plot(x, values[:, l - 1], color=_layer_colour(l, L), linestyle=LAYER_STYLES[(l - 1) % 4],
                marker="o", markersize=3, label=f"layer {l}" + (" (output)" if l == L else ""), gid=f"{what}|layer{l}")


@style.styled
def build(run_path: str):
    with metrics.open_found(run_path, has_data, MISSING) as (h5, _):
        sweep = has_sweep(h5)
        fig = style.figure(*size(sweep))
        axes = fig.subplots(2 if sweep else 1, 3, squeeze=False)
        g = _compare_group(h5)
        x = g["examples_seen"][()]
        tau = _main_tau(h5)

        ax = axes[0, 0]
        found = {arm: groups for arm, groups in metrics.arms_with(h5, "test_error").items() if arm in ("spiking", "rate")}
        learning.draw_curves(ax, found, "test_error")
        for line in ax.lines:
            final = line.get_ydata()[-1]
            line.set_label(f"{line.get_label()} (final {final:.1f}%)")
        ax.set_title(f"learning (tau = {tau:g})" if tau is not None else "learning")
        ax.legend(loc="upper right")

        ax = axes[0, 1]
        if "activity_resolution" in g:
            _unresolved(ax, x, g["activity_resolution"][()])
        _per_layer(ax, x, g["activity_distance"][()], "distance")
        ax.set_xlabel("examples seen")
        ax.set_ylabel("RMS spike-rate difference\n(probability per step)")
        ax.set_title("trial-averaged spiking vs rate activity")
        ax.set_ylim(bottom=0)
        _legend(ax)

        ax = axes[0, 2]
        _per_layer(ax, x, g["update_angle"][()], "update")
        ax.plot(x, _row_mean(g["drift_angle"][()]), color="0.4",
                linewidth=1.0, linestyle=(0, (1, 1)), label="accumulated updates\n(mean over layers)", gid="drift")
        style.angle_axis(ax)
        ax.set_xlabel("examples seen")
        ax.set_title("spiking vs rate weight updates")
        _legend(ax)

        if sweep:
            _sweep_row(h5, axes[1])
        style.title(fig, "spiking network vs its rate limit: same initial weights, same image stream", NOISE_NOTE)
        return fig


def _legend(ax):
    """A legend on a light backing: these panels are busy and it may have to sit over data."""
    ax.legend(loc="best", frameon=True, framealpha=0.85, facecolor="white", edgecolor="none")


NOISE_NOTE = ("grey, 'within trial noise': a distance there cannot be told from 0 with this many trials and "
              "probe images. A distance of exactly 0: the estimated squared difference (mean (spiking - rate)^2 "
              "minus the trial noise var/K) came out negative, so no difference was detected at all.")


def _unresolved(ax, x, resolution):
    """Grey band below the largest per-layer resolution: distances there cannot be told from 0."""
    ax.fill_between(x, 0, np.nanmax(resolution, axis=1), color="0.85", linewidth=0,
                    label="within trial noise", gid="resolution")


def _row_mean(values: np.ndarray) -> np.ndarray:
    """Mean over layers of each row, ignoring NaN (rows of only NaN, e.g. before training, stay NaN)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=1)
    count = finite.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _main_tau(h5):
    if "results/tau_sweep/tau" in h5:
        return float(h5["results/tau_sweep/tau"].attrs.get("main_tau"))
    params = h5.get("params")
    if params is not None and "network.tau" in params.attrs:
        return float(params.attrs["network.tau"])
    return None


def _sweep_row(h5, axes):
    s = h5["results/tau_sweep"]
    taus = s["tau"][()]
    images = int(s["tau"].attrs.get("images", 0))
    tolerance = float(s["tolerance"][()]) if "tolerance" in s else None

    ax = axes[0]
    spk, rate = s["spiking_error"][()] * 100, s["rate_error"][()] * 100
    if tolerance is not None:
        ax.fill_between(taus, rate - 100 * tolerance, rate + 100 * tolerance, color=style.RULE_COLOURS["rate"],
                        alpha=0.15, linewidth=0, label=f"rate \u00b1 {100 * tolerance:g} points")
    ax.plot(taus, spk, color=style.RULE_COLOURS["spiking"], marker="o", label="spiking", gid="sweep|spiking")
    ax.plot(taus, rate, color=style.RULE_COLOURS["rate"], marker="s", label="rate limit", gid="sweep|rate")
    outside = np.abs(spk - rate) > 100 * tolerance if tolerance is not None else np.zeros(taus.size, bool)
    if outside.any():
        ax.scatter(taus[outside], spk[outside], s=80, facecolors="none", edgecolors="#d7191c", linewidths=1.2,
                   label="rate model off", zorder=3)
    ax.set_xlabel("tau (PSP update factor per step)")
    ax.set_ylabel("final test error (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(f"across tau ({images} images each)" if images else "across tau")
    _legend(ax)

    ax = axes[1]
    if "activity_resolution" in s:
        _unresolved(ax, taus, s["activity_resolution"][()])
    _per_layer(ax, taus, s["activity_distance"][()], "sweep_distance")
    ax.set_xlabel("tau (PSP update factor per step)")
    ax.set_ylabel("RMS spike-rate difference\n(probability per step)")
    ax.set_ylim(bottom=0)
    ax.set_title("activity distance after training")
    _legend(ax)

    ax = axes[2]
    _per_layer(ax, taus, s["update_angle"][()], "sweep_update")
    style.angle_axis(ax)
    ax.set_xlabel("tau (PSP update factor per step)")
    ax.set_title("update angle after training")
    _legend(ax)
