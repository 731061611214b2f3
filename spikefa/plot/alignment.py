"""Alignment figures: the angle plots of Figures 2b, 3b and 5a.

- delta angle (Fig. 2b, 3b): the angle between the hidden-layer teaching signal feedback
  alignment sends (delta_FA = B e) and the one backprop would send from the same state
  (delta_BP = W^T e), over training; with the sliding mean and two s.d. band when recorded.
- weight angle (Fig. 5a): the angle between W and B^T (flattened), and per hidden unit between
  its outgoing forward weights (column of W) and its incoming feedback weights (row of B).
"""

from __future__ import annotations

import h5py
import numpy as np

from . import metrics, style

WIDTH, HEIGHT = 5.0, 3.4

DELTA_MISSING = ("no delta angles: the file has no /metrics/<arm>/angle_delta; the rate experiments "
                 "(fig2_linear, fig3a_mnist) record it for feedback-alignment arms")
WEIGHT_MISSING = ("no weight angles: the file has no /metrics/<arm>/angle_W_BT; the rate experiment "
                  "fig5_quadratic records it")
MAX_UNIT_LINES = 20     # Fig. 5a shows a handful of single units; more only hides the mean


def _columns(values: np.ndarray) -> list[np.ndarray]:
    """(seeds, n) -> [(seeds, n)]; (seeds, n, k) -> k arrays, one per layer."""
    if values.ndim == 2:
        return [values]
    return [values[..., k] for k in range(values.shape[2])]


def _layer_suffix(k: int, count: int) -> str:
    return f", hidden layer {k + 1}" if count > 1 else ""


def has_delta(h5: h5py.File) -> bool:
    return bool(metrics.arms_with(h5, "angle_delta"))


def has_weights(h5: h5py.File) -> bool:
    return bool(metrics.arms_with(h5, "angle_W_BT"))


def _reference_line(ax):
    """90 degrees (orthogonal, where random feedback starts) marked; y from 0 to 100 or 180."""
    # the lines decide, not the spread bands: a band poking above 90 should not double the axis
    values = [np.asarray(line.get_ydata(), float) for line in ax.lines]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    style.angle_axis(ax, wide=bool(finite.size) and finite.max() > 98)


@style.styled
def draw_delta(run_path: str, out_dir: str, stem: str = "angle_delta") -> list[str]:
    """Figure 2b / 3b: angle(delta_FA, delta_BP) against examples seen."""
    with metrics.open_found(run_path, lambda h5: metrics.arms_with(h5, "angle_delta"), DELTA_MISSING) as (h5, found):
        fig = style.figure(WIDTH, HEIGHT)
        ax = fig.subplots()
        banded, seed_band = False, 0
        for i, (arm, groups) in enumerate(found.items()):
            c = style.colour(arm, i)
            name = style.label(arm) if arm else "run"
            has_sliding = all("angle_delta_mean" in g and "angle_delta_std" in g for g in groups)
            if has_sliding:
                mean_s = metrics.series(groups, "angle_delta_mean")
                std_s = metrics.series(groups, "angle_delta_std")
                means, stds = _columns(mean_s.values), _columns(std_s.values)
                for k, (m, s) in enumerate(zip(means, stds)):
                    centre = np.nanmean(m, axis=0)
                    spread = 2 * np.sqrt(np.nanmean(s ** 2, axis=0))
                    ax.fill_between(mean_s.x, centre - spread, centre + spread, color=c, alpha=0.2 / (k + 1),
                                    linewidth=0)
                    ax.plot(mean_s.x, centre, color=c, linestyle=["-", "--", "-.", ":"][k % 4],
                            label=name + _layer_suffix(k, len(means)))
                x_label = mean_s.x_label
                banded = True
            else:
                s = metrics.series(groups, "angle_delta")
                cols = _columns(s.values)
                for k, v in enumerate(cols):
                    centre = np.nanmean(v, axis=0)
                    if s.n_seeds > 1:
                        sd = np.nanstd(v, axis=0, ddof=1)
                        ax.fill_between(s.x, centre - sd, centre + sd, color=c, alpha=0.2, linewidth=0)
                        seed_band = s.n_seeds
                    ax.plot(s.x, centre, color=c, linestyle=["-", "--", "-.", ":"][k % 4],
                            label=name + _layer_suffix(k, len(cols)))
                x_label = s.x_label
        _reference_line(ax)
        ax.set_xlabel(x_label)
        ax.set_xlim(left=0)
        ax.set_title("angle between \u03b4$_{FA}$ and \u03b4$_{BP}$")
        if banded:
            train = metrics.run_params(h5).get("train", {})
            window = train.get("angle_window") or train.get("angle_block")
            span = f"a sliding window of {window} examples" if window else "a sliding window of examples"
            style.title(fig, "", f"band: \u00b12 s.d. of the angle within {span}, averaged over seeds")
        elif seed_band:
            style.title(fig, "", f"band: \u00b11 s.d. over {seed_band} seeds")
        ax.legend(loc="best")
        return style.save(fig, out_dir, stem)


@style.styled
def draw_weights(run_path: str, out_dir: str, stem: str = "angle_weights") -> list[str]:
    """Figure 5a: angle(W, B^T) and, per hidden unit, angle(column of W, row of B)."""
    with metrics.open_found(run_path, lambda h5: metrics.arms_with(h5, "angle_W_BT"), WEIGHT_MISSING) as (h5, found):
        fig = style.figure(WIDTH * len(found), HEIGHT)
        axes = fig.subplots(1, len(found), squeeze=False)[0]
        for ax, (arm, groups) in zip(axes, found.items()):
            seed0 = groups[:1]      # single units are one network's units: show the first seed
            if all("angle_units" in g for g in seed0):
                units = metrics.series(seed0, "angle_units")
                per_unit = units.values[0]
                if per_unit.ndim == 1:
                    per_unit = per_unit[:, None]
                shown = per_unit[:, :MAX_UNIT_LINES]
                for j in range(shown.shape[1]):
                    ax.plot(units.x, shown[:, j], color="0.15", linewidth=0.5, alpha=0.6,
                            label="single hidden units" if j == 0 else None)
            whole = metrics.series(groups, "angle_W_BT")
            for k, v in enumerate(_columns(whole.values)):
                ax.plot(whole.x, np.nanmean(v, axis=0), color="#2166ac", linewidth=2,
                        linestyle=["-", "--", "-."][k % 3],
                        label="W vs B$^T$" + (f" (layer {k + 1})" if v is not whole.values else ""))
            if all("angle_W_pinvB" in g for g in groups):
                pinv = metrics.series(groups, "angle_W_pinvB")
                for k, v in enumerate(_columns(pinv.values)):
                    ax.plot(pinv.x, np.nanmean(v, axis=0), color="#b2182b", linewidth=1.4, linestyle="--",
                            label="W vs pinv(B)" + (f" (layer {k + 1})" if v is not pinv.values else ""))
            _reference_line(ax)
            ax.set_xlabel(whole.x_label)
            ax.set_xlim(left=0)
            ax.set_title(f"forward vs feedback weights: {style.label(arm) if arm else 'run'}")
            ax.legend(loc="best")
        return style.save(fig, out_dir, stem)


PHASE_MISSING = ("no learning phases: the file has no /metrics/<arm>/phase beside its nse; the rate "
                 "experiment fig5_quadratic records it when its three-phase schedule is on")
PHASE_NAMES = {1: "W frozen, W$_0$ learns", 2: "W$_0$ frozen, W learns", 3: "W frozen, W$_0$ learns"}
PHASE_SHADES = ["#f0f0f0", "#ffffff"]


def has_phases(h5: h5py.File) -> bool:
    return bool(_phase_arms(h5))


def _phase_arms(h5):
    return {a: g for a, g in metrics.arms_with(h5, "phase").items() if all("nse" in s for s in g)}


@style.styled
def draw_phases(run_path: str, out_dir: str, stem: str = "phases") -> list[str]:
    """Figure 5c: error through the three phases (W frozen / W0 frozen / W frozen)."""
    with metrics.open_found(run_path, _phase_arms, PHASE_MISSING) as (h5, found):
        fig = style.figure(WIDTH * 1.2, HEIGHT)
        ax = fig.subplots()
        bounds = None
        for i, (arm, groups) in enumerate(found.items()):
            err = metrics.series(groups, "nse")
            phase = np.asarray(groups[0]["phase"][: err.x.shape[0]], dtype=int)
            if bounds is None:
                bounds = _phase_spans(err.x, phase)
            mean, std = err.mean(), err.std()
            c = style.colour(arm, i)
            if err.n_seeds > 1:
                ax.fill_between(err.x, mean - std, mean + std, color=c, alpha=0.2, linewidth=0)
            ax.plot(err.x, mean, color=c, label=(style.label(arm) if arm else "run")
                    + (f" (n={err.n_seeds})" if err.n_seeds > 1 else ""))
        for j, (p, start, stop) in enumerate(bounds):
            ax.axvspan(start, stop, color=PHASE_SHADES[j % 2], zorder=0)
            if j:
                ax.axvline(start, color="0.4", linewidth=0.8, linestyle="--")
            ax.text((start + stop) / 2, 1.0, f"phase {p}\n{PHASE_NAMES.get(p, '')}", transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7)
        style.error_scale(ax)
        ax.set_xlabel(err.x_label)
        ax.set_ylabel("normalised squared error (NSE)")
        ax.set_xlim(bounds[0][1], bounds[-1][2])
        ax.legend(loc="lower left")
        return style.save(fig, out_dir, stem)


def _phase_spans(x: np.ndarray, phase: np.ndarray) -> list[tuple[int, float, float]]:
    """[(phase, start, end)] for each run of equal phase numbers.

    An evaluation is labelled with the phase whose training preceded it, so a phase starts at the
    last evaluation of the phase before it (where its training began) and ends at its own last.
    """
    change = np.flatnonzero(np.diff(phase)) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(phase)]])
    return [(int(phase[a]), float(x[a - 1] if a > 0 else x[0]), float(x[b - 1])) for a, b in zip(starts, stops)]
