#!/usr/bin/env python3
"""Elephant on a spikefa recording: firing rates per layer, ISI variability, correlations.

    python scripts/elephant_rates.py runs/fig4.h5 [--dt 0.001] [--out FIG.png]
    python scripts/elephant_rates.py runs/fig4.neo.pkl        # a file from `spikefa export --to neo`

Reads the recording as a Neo Block (spikefa.record.export.neo_block from a run file, Neo's
PickleIO or NixIO from a .pkl or .nix file of `spikefa export --to neo`),
then per recorded window (Neo Segment) and layer: the mean firing rate, the coefficient of
variation of inter-spike intervals, and for the most active layer the cross-correlogram of its
two most active units and the spike-count correlation between units (counts per image shown).
Prints a table and draws one figure (PNG and PDF; default RUN_elephant.png beside the input).
Needs the neo extra: pip install -e ".[neo]".
"""

import argparse
import os
import sys

import numpy as np

from spikefa.errors import SpikefaError


def load_block(path, dt):
    if path.endswith((".nix", ".pkl")):
        import neo

        if path.endswith(".pkl"):
            return neo.io.PickleIO(path).read_block()
        io = neo.io.NixIO(path, mode="ro")
        try:
            return io.read_block()
        finally:
            io.close()
    from spikefa.record.export import neo_block

    return neo_block(path, dt=dt)


def layer_stats(block):
    """{(window, layer): {"rates": Hz per unit, "cv": CV of ISIs per unit with >= 3 spikes, "trains": [...]}}."""
    from elephant.statistics import cv, isi, mean_firing_rate

    stats = {}
    for seg in block.segments:
        for st in seg.spiketrains:
            s = stats.setdefault((seg.name, int(st.annotations["layer"])), {"rates": [], "cv": [], "trains": []})
            s["rates"].append(float(mean_firing_rate(st).rescale("Hz").magnitude))
            if len(st) >= 3:
                s["cv"].append(float(cv(isi(st).magnitude)))
            s["trains"].append(st)
    return stats


def centred(st, dt):
    """The train with each spike moved half a step later: bins of whole steps, starting at t_start, then
    hold each step's spike in their middle rather than on an edge where rounding would misplace it."""
    import neo
    import quantities as pq

    return neo.SpikeTrain(st.times.rescale("s") + 0.5 * dt * pq.s, t_start=st.t_start, t_stop=st.t_stop,
                          **st.annotations)


def correlations(trains, dt, bin_s, max_lag_bins):
    """Cross-correlogram of the two most active trains, and the spike-count correlation matrix."""
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient, cross_correlation_histogram

    active = [centred(st, dt) for st in sorted(trains, key=len, reverse=True)]
    a, b = active[0], active[1]
    duration = float((a.t_stop - a.t_start).rescale("s").magnitude)
    # a whole number of bins given as such: duration / bin size in floats can fall just short of it
    bins = lambda size: max(1, int(round(duration / size)))  # noqa: E731
    step = BinnedSpikeTrain([a, b], n_bins=bins(bin_s["step"]), t_start=a.t_start, t_stop=a.t_stop)
    cch, lags = cross_correlation_histogram(step[0], step[1], window=[-max_lag_bins, max_lag_bins],
                                            border_correction=False, cross_correlation_coefficient=True)
    counts = BinnedSpikeTrain(active[:min(len(active), 20)], n_bins=bins(bin_s["image"]), t_start=a.t_start,
                              t_stop=a.t_stop)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = correlation_coefficient(counts)
    return (a, b), np.asarray(cch.magnitude).ravel(), np.asarray(lags), rho


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run file (.h5) with spike recordings, or a .pkl or .nix file from "
                               "spikefa export --to neo")
    p.add_argument("--dt", type=float, default=1e-3, help="seconds per time step (run files only; default 0.001)")
    p.add_argument("--out", help="figure path (default: RUN_elephant.png beside the input)")
    args = p.parse_args(argv)
    try:
        import elephant  # noqa: F401
    except ImportError:
        print('elephant_rates: error: needs the neo extra: pip install -e ".[neo]"', file=sys.stderr)
        return 2
    try:
        block = load_block(args.run, args.dt)
    except SpikefaError as exc:
        print(f"elephant_rates: error: {exc}", file=sys.stderr)
        return 2
    stats = layer_stats(block)
    if not stats:
        print(f"elephant_rates: error: {args.run} holds no spike trains; record spikes (variables = [\"spikes\"])",
              file=sys.stderr)
        return 2
    dt = float(block.annotations.get("dt_s", args.dt))
    steps_per_image = int(_steps_per_image(block) or 5)

    print(f"{'window':12s} {'layer':>5s} {'units':>5s} {'rate Hz':>9s} {'CV ISI':>7s}")
    for (window, layer), s in stats.items():
        cvs = np.mean(s["cv"]) if s["cv"] else float("nan")
        print(f"{window:12s} {layer:5d} {len(s['rates']):5d} {np.mean(s['rates']):9.1f} {cvs:7.2f}")

    # correlations in the last window's layer with the most spikes (at least two spiking units)
    last = block.segments[-1].name
    candidates = [(sum(len(t) for t in s["trains"]), layer) for (w, layer), s in stats.items()
                  if w == last and sum(len(t) > 0 for t in s["trains"]) >= 2]
    corr = None
    if candidates:
        layer = max(candidates)[1]
        corr = (layer,) + correlations(stats[last, layer]["trains"], dt, {"step": dt, "image": dt * steps_per_image},
                                       max_lag_bins=4 * steps_per_image)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
    windows = list(dict.fromkeys(w for w, _ in stats))
    layers = sorted({layer for _, layer in stats})
    for layer in layers:
        ax[0, 0].plot(range(len(windows)), [np.mean(stats[w, layer]["rates"]) if (w, layer) in stats else np.nan
                                            for w in windows], "o-", label=f"layer {layer}")
        ax[0, 1].hist(np.concatenate([stats[w, layer]["cv"] for w in windows if (w, layer) in stats] or [[]]),
                      bins=20, histtype="step", label=f"layer {layer}")
    ax[0, 0].set_xticks(range(len(windows)), windows)
    ax[0, 0].set(ylabel=f"mean firing rate (Hz; step = {dt:g} s)", title="firing rate per layer")
    ax[0, 0].legend(fontsize=8)
    ax[0, 1].set(xlabel="CV of inter-spike intervals", ylabel="units", title="ISI variability (all windows)")
    ax[0, 1].legend(fontsize=8)
    if corr is not None:
        layer, (a, b), cch, lags, rho = corr
        ax[1, 0].bar(lags * dt * 1e3, cch, width=dt * 1e3 * 0.9)
        ax[1, 0].set(xlabel="lag (ms)", ylabel="correlation coefficient",
                     title=f"cross-correlogram, layer {layer}: units {a.annotations['unit']} x {b.annotations['unit']}")
        im = ax[1, 1].imshow(rho, vmin=-1, vmax=1, cmap="RdBu_r")
        fig.colorbar(im, ax=ax[1, 1])
        ax[1, 1].set(title=f"spike-count correlation, layer {layer}\n(counts per image, window {last})",
                     xlabel="unit (most active first)", ylabel="unit")
    fig.suptitle(f"{os.path.basename(args.run)}: Elephant statistics of the recorded spikes")
    fig.tight_layout()
    out = args.out or os.path.splitext(args.run)[0] + "_elephant.png"
    fig.savefig(out, dpi=120)
    fig.savefig(os.path.splitext(out)[0] + ".pdf")
    plt.close(fig)
    print(out)
    return 0


def _steps_per_image(block):
    import json

    try:
        return json.loads(block.annotations.get("params", "{}")).get("train", {}).get("steps_per_image")
    except (ValueError, AttributeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
