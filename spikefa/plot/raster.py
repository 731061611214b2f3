"""Spike rasters in the layout of the paper's Figure 4.

Columns: early, middle and late stages of learning (chosen from the recorded windows). Rows: the
digits presented (along the top), 50 units of each hidden layer, and the output units grouped by
class (labelled '0' to '9'). One mark per spike; thin lines separate the images. Each panel gives its
layer's mean firing rate in the window; the output panel shades the target class of each image and
writes above it the class whose units spiked most (green when right, red when wrong).
"""

from __future__ import annotations

import h5py
import numpy as np
from matplotlib.collections import PolyCollection

from ..errors import DataError, SpikefaError
from . import recorded, style

UNITS_PER_HIDDEN = 50
IMAGES_PER_COLUMN = 8
WIDTH = 10.0
DIGIT_ROW, HIDDEN_ROW, OUTPUT_ROW = 0.55, 1.0, 2.0     # inches


def has_data(h5: h5py.File) -> bool:
    if not recorded.has_recordings(h5):
        return False
    mode = h5["recordings"].attrs.get("mode", "spiking")
    if (mode.decode() if isinstance(mode, bytes) else mode) == "rate":
        return False
    return any("spikes" in h5["recordings"][name][layer]
               for name in h5["recordings"] if isinstance(h5["recordings"][name], h5py.Group)
               for layer in h5["recordings"][name] if layer.startswith("layer") and layer != "layer0")


def height(n_hidden: int, has_output: bool = True) -> float:
    """Figure height in inches for ``n_hidden`` hidden-layer rows (and the output row)."""
    return 0.9 + DIGIT_ROW + HIDDEN_ROW * n_hidden + (OUTPUT_ROW if has_output else 0.0)


def layer_sources(rec) -> tuple[str, dict[int, str]]:
    """(the recorder whose windows make the columns, {layer: recorder that has its spikes}).

    Hidden and output layers are often recorded by different recorders (50 random units of each
    hidden layer, every output unit): each layer comes from the recorder with the most layers that
    has it; the columns follow the recorder covering the most layers.
    """
    found = {name: [layer for layer in layers if layer > 0]
             for name, layers in recorded.recorders_with(rec, "spikes").items()}
    found = {name: layers for name, layers in found.items() if layers}
    if not found:
        raise DataError(f"{rec.paths[0]}: no spikes of hidden or output layers were recorded; "
                        + recorded.RASTER_HINT)
    ranked = sorted(found, key=lambda n: -len(found[n]))      # stable: ties keep the declared order
    sources = {}
    for name in ranked:
        for layer in found[name]:
            sources.setdefault(layer, name)
    return ranked[0], dict(sorted(sources.items()))


def shown_units(recorded_units: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """Positions (into the recorded units) of at most ``limit`` units, chosen at random, in unit order."""
    if recorded_units.size <= limit:
        return np.arange(recorded_units.size)
    pick = np.random.default_rng(seed).choice(recorded_units.size, size=limit, replace=False)
    return np.sort(pick)


def draw(run_path: str, out_dir: str, stem: str = "raster", images: int = IMAGES_PER_COLUMN) -> list[str]:
    """Write the raster figure of ``run_path`` as PNG and PDF; return the paths."""
    return style.save(build(run_path, images), out_dir, stem)


@style.styled
def build(run_path: str, images: int = IMAGES_PER_COLUMN):
    """The raster figure (a matplotlib Figure); each panel's marks carry the gid "<column>|layer<l>"."""
    rec = recorded.open_recordings(run_path, recorded.RASTER_HINT)
    with rec:
        if rec.attrs.get("mode") == "rate":
            raise DataError(f"{run_path}: was recorded in rate mode (no spikes, only rates); record a run with "
                            f"network.mode = \"spiking\" for a raster")
        name, sources = layer_sources(rec)
        layers = list(sources)
        L = len(rec.attrs["layer_sizes"]) - 1
        hidden = [layer for layer in layers if layer < L]
        has_output = L in layers
        cols = recorded.columns(rec, name, images)
        per_class = recorded.units_per_class(rec)
        thumbs = _dataset_thumbnails(rec, cols) or _thumbnails(rec, cols)

        rows = ["digits"] + [f"layer{h}" for h in hidden] + (["output"] if has_output else [])
        ratios = [DIGIT_ROW] + [HIDDEN_ROW] * len(hidden) + ([OUTPUT_ROW] if has_output else [])
        fig = style.figure(WIDTH, height(len(hidden), has_output))
        grid = fig.add_gridspec(len(rows), len(cols), height_ratios=ratios)
        strips = []
        for c, col in enumerate(cols):
            bounds = recorded.image_bounds(col.index)
            x_lim = (col.first_step - 0.5, col.stop_step - 0.5)
            ax = fig.add_subplot(grid[0, c])
            _digit_strip(ax, bounds, thumbs.get(c), x_lim)
            strips.append(ax)
            ax.set_title(col.name, fontsize=10, fontweight="bold")
            for r, layer in enumerate(hidden + ([L] if has_output else []), start=1):
                ax = fig.add_subplot(grid[r, c])
                window = (col.first_step, col.stop_step)
                steps = rec.index(sources[layer], window=window)["step"]
                spikes = rec.raster(layer, window=window, recorder=sources[layer])
                units = rec.units(layer, recorder=sources[layer])
                is_output = layer == L
                keep = np.arange(units.size) if is_output else shown_units(units, UNITS_PER_HIDDEN, seed=layer)
                _raster_panel(ax, steps[:spikes.shape[0]], spikes[:, keep], gid=f"{col.name}|layer{layer}")
                for a, _, _, _ in bounds[1:]:
                    ax.axvline(a - 0.5, color="0.75", linewidth=0.5, zorder=0)
                ax.set_xlim(*x_lim)
                ax.set_ylim(-0.5, keep.size - 0.5)
                ax.grid(False)
                _firing_rate(ax, spikes[:, keep], is_output)
                if is_output and per_class:
                    _mark_target_and_guess(ax, steps[:spikes.shape[0]], spikes[:, keep], units[keep] // per_class,
                                           bounds, first=c == 0)
                    _class_axis(ax, units[keep] // per_class, label=c == 0)
                else:
                    ax.set_yticks([])
                    if c == 0:
                        ax.set_ylabel(f"hidden {layer}\n({keep.size} units)" if not is_output
                                      else f"output\n({keep.size} units)")
                if layer != (L if has_output else hidden[-1]):
                    ax.tick_params(labelbottom=False)
                else:
                    ax.set_xlabel("time step")
                    style.step_axis(ax.xaxis)
        stages = {1: "one stage", 2: "two stages", 3: "three stages"}.get(len(cols), f"{len(cols)} stages")
        fig.suptitle(f"spike rasters at {stages} of learning", fontsize=10)
        _square_digits(fig, strips)
        return fig


def _firing_rate(ax, spikes: np.ndarray, is_output: bool) -> None:
    """The layer's mean firing rate in this window, in the panel's corner."""
    if spikes.size:
        rate = float(np.mean(spikes))
        # the output panel has the guesses above it: its rate goes beside the time-step label
        y, va = (-0.12, "top") if is_output else (1.0, "bottom")
        ax.text(1.0, y, f"{rate:.2f} spikes/unit/step", transform=ax.transAxes, ha="right", va=va,
                fontsize=6, color="0.3", gid="firing_rate")


def _mark_target_and_guess(ax, steps, spikes, classes, bounds, first: bool) -> None:
    """Per image: a green band over the target class's rows, and above the panel the class whose
    units spiked most while it was shown (green when right, red when wrong)."""
    from matplotlib.patches import Rectangle

    for a, b, label, _ in bounds:
        rows = np.flatnonzero(classes == label)
        if rows.size:
            ax.add_patch(Rectangle((a - 0.5, rows.min() - 0.5), b - a, rows.max() - rows.min() + 1,
                                   facecolor="#1b9e3a", alpha=0.15, linewidth=0, zorder=0, gid="target"))
        shown = (steps >= a) & (steps < b)
        if not shown.any():
            continue
        counts = np.bincount(classes, weights=spikes[shown].sum(axis=0), minlength=int(classes.max()) + 1)
        guess = int(np.argmax(counts))
        ax.text((a + b - 1) / 2, classes.size - 0.5, str(guess), ha="center", va="bottom", fontsize=6,
                color="#1b9e3a" if guess == int(label) else "#d62728", gid="guess")
    if first:
        ax.text(0.0, 1.0, "guess", transform=ax.transAxes, ha="right", va="bottom", fontsize=6, color="0.3")


def _raster_panel(ax, steps: np.ndarray, spikes: np.ndarray, gid: str):
    """One mark per spike: a bar filling most of its time step and unit row (data coordinates, so
    marks keep their shape whatever the panel's size)."""
    t, u = np.nonzero(spikes)
    x, y = steps[t].astype(float), u.astype(float)
    w, h = 0.14, 0.45
    corners = np.stack([np.stack([x - w, y - h], 1), np.stack([x + w, y - h], 1),
                        np.stack([x + w, y + h], 1), np.stack([x - w, y + h], 1)], axis=1)
    marks = PolyCollection(corners, facecolors="black", edgecolors="none",
                           rasterized=corners.shape[0] > 2000)
    marks.set_gid(gid)
    ax.add_collection(marks)
    return marks


def _class_axis(ax, classes: np.ndarray, label: bool):
    """Ticks at the middle of each class's block of rows, lines between the blocks."""
    edges = np.flatnonzero(np.diff(classes)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [classes.size]])
    ax.set_yticks((starts + stops - 1) / 2)
    ax.set_yticklabels([str(int(classes[a])) for a in starts], fontsize=7)
    ax.tick_params(axis="y", length=0)
    for e in edges:
        ax.axhline(e - 0.5, color="0.6", linewidth=0.4)
    if label:
        ax.set_ylabel("output units\nby class")


def _square_digits(fig, strips):
    """Narrow every digit to be as wide as it is high, once the layout has fixed the strips' size
    (a column's steps are wider when there are fewer columns)."""
    fig.draw_without_rendering()
    for ax in strips:
        box = ax.get_window_extent()
        x0, x1 = ax.get_xlim()
        for im in ax.images:
            left, right, bottom, top = im.get_extent()
            square = (top - bottom) * box.height * (x1 - x0) / box.width
            if right - left > square:
                centre = (left + right) / 2
                im.set_extent((centre - square / 2, centre + square / 2, bottom, top))


def _digit_strip(ax, bounds, thumbs, x_lim):
    """The images presented, each centred over its steps; their labels when no pixels are known."""
    ax.set_xlim(*x_lim)
    ax.set_ylim(0, 1)
    ax.axis("off")
    for k, (a, b, label, _) in enumerate(bounds):
        if thumbs is not None and k < len(thumbs):
            half = (b - a) / 2
            centre = (a + b - 1) / 2
            ax.imshow(thumbs[k], cmap="gray_r", extent=(centre - half * 0.9, centre + half * 0.9, 0.05, 0.95),
                      aspect="auto", interpolation="nearest", vmin=0, vmax=1)
        else:
            ax.text((a + b - 1) / 2, 0.5, str(label), ha="center", va="center", fontsize=11)


def _dataset_thumbnails(rec, cols) -> dict[int, list[np.ndarray]]:
    """Per column, the training images shown, from the data set the run used (its stored parameters
    name it); empty when they do not or it cannot be loaded (then the input spikes serve)."""
    params = rec.model_params()
    if not isinstance(params.get("data"), dict) or not isinstance(params.get("network"), dict):
        return {}
    from ..experiments.spiking import load_data

    try:
        images = load_data(params)[0]
    except (SpikefaError, KeyError, TypeError):
        return {}
    side = int(round(np.sqrt(images.shape[1])))
    if side * side != images.shape[1]:
        return {}
    out = {}
    for c, col in enumerate(cols):
        shown = [index for _, _, _, index in recorded.image_bounds(col.index)]
        if any(not 0 <= i < images.shape[0] for i in shown):
            return {}
        out[c] = [images[i].reshape(side, side) for i in shown]
    return out


def _thumbnails(rec, cols) -> dict[int, list[np.ndarray]]:
    """Per column, each image's input as the mean of its recorded input spikes (a square image).

    Any recorder that recorded every input unit over the column's steps will do.
    """
    n_in = int(rec.attrs["layer_sizes"][0])
    side = int(round(np.sqrt(n_in)))
    sources = [name for name, layers in recorded.recorders_with(rec, "spikes").items()
               if 0 in layers and rec.units(0, recorder=name).size == n_in]
    if side * side != n_in or not sources:
        return {}
    out = {}
    for c, col in enumerate(cols):
        for name in sources:
            window = (col.first_step, col.stop_step)
            steps = rec.index(name, window=window)["step"]
            if steps.size == 0:
                continue
            spikes = rec.raster(0, window=window, recorder=name).astype(np.float32)
            steps = steps[:spikes.shape[0]]
            images = []
            for a, b, _, _ in recorded.image_bounds(col.index):
                sel = (steps >= a) & (steps < b)
                images.append(spikes[sel].mean(axis=0).reshape(side, side) if sel.any() else np.zeros((side, side)))
            out[c] = images
            break
    return out
