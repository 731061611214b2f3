"""A forward unit's PSP beside its modulatory signal over time (bottom of the paper's Figure 4).

For each shown unit, two rows: the forward PSP V_j(t) and the modulatory signal phi_d(U_j(t))
the feedback pathway delivers to it, at the same early / middle / late stages as the raster.
Both evolve at every step, with no pause or alternation between forward and feedback passes.
"""

from __future__ import annotations

import h5py
import numpy as np

from ..errors import DataError
from . import recorded, style

UNITS_SHOWN = 2
IMAGES_PER_COLUMN = 8
WIDTH = 10.0
ROW = 1.05                      # inches per variable row
PSP_COLOUR, MOD_COLOUR = "#2166ac", "#b2182b"


def has_data(h5: h5py.File) -> bool:
    if not recorded.has_recordings(h5):
        return False
    for name, g in h5["recordings"].items():
        if not isinstance(g, h5py.Group):
            continue
        for layer, lg in g.items():
            if layer.startswith("layer") and isinstance(lg, h5py.Group) and "V" in lg and "mod" in lg:
                return True
    return False


def height(n_units: int) -> float:
    return 1.0 + 2 * ROW * n_units


def choose(rec) -> tuple[str, int, np.ndarray]:
    """(recorder, layer, units) with both V and mod recorded, hidden layers first."""
    L = len(rec.attrs["layer_sizes"]) - 1
    with_v = recorded.recorders_with(rec, "V")
    with_mod = recorded.recorders_with(rec, "mod")
    options = [(name, layer) for name, layers in with_v.items() for layer in layers
               if layer in with_mod.get(name, [])]
    if not options:
        raise DataError(f"{rec.paths[0]}: no unit has both its PSP (V) and modulatory signal (mod) recorded; "
                        + recorded.TRACES_HINT)
    options.sort(key=lambda o: (o[1] == L, o[1]))
    name, layer = options[0]
    return name, layer, rec.units(layer, recorder=name, var="V")


def draw(run_path: str, out_dir: str, stem: str = "traces", units: int = UNITS_SHOWN,
         images: int = IMAGES_PER_COLUMN) -> list[str]:
    """Write the traces figure of ``run_path`` as PNG and PDF; return the paths."""
    return style.save(build(run_path, units, images), out_dir, stem)


@style.styled
def build(run_path: str, units: int = UNITS_SHOWN, images: int = IMAGES_PER_COLUMN):
    """The traces figure; each line carries the gid "<column>|unit<index>|<0: PSP, 1: mod>"."""
    rec = recorded.open_recordings(run_path, recorded.TRACES_HINT)
    with rec:
        name, layer, recorded_units = choose(rec)
        shown = recorded_units[:units]
        cols = recorded.columns(rec, name, images)
        fig = style.figure(WIDTH, height(len(shown)))
        axes = fig.subplots(2 * len(shown), len(cols), squeeze=False, sharey="row")
        for c, col in enumerate(cols):
            window = (col.first_step, col.stop_step)
            v = rec.trace("V", layer, units=shown, window=window, recorder=name)
            mod = rec.trace("mod", layer, units=shown, window=window, recorder=name)
            steps = col.index["step"][:v.shape[0]]
            bounds = recorded.image_bounds(col.index)
            for j, unit in enumerate(shown):
                for row, (values, colour, what) in enumerate(((v[:, j], PSP_COLOUR, f"unit {unit}\nPSP V (a.u.)"),
                                                             (mod[:, j], MOD_COLOUR, "modulatory\n\u03c6(U) (a.u.)"))):
                    ax = axes[2 * j + row, c]
                    ax.plot(steps, values, color=colour, linewidth=1.0, gid=f"{col.name}|unit{unit}|{row}")
                    for a, _, _, _ in bounds[1:]:
                        ax.axvline(a - 0.5, color="0.8", linewidth=0.5, zorder=0)
                    ax.set_xlim(col.first_step - 0.5, col.stop_step - 0.5)
                    if row == 1:
                        ax.axhline(0, color="0.5", linewidth=0.5, linestyle=":")
                    if c == 0:
                        ax.set_ylabel(what)
                    if 2 * j + row < 2 * len(shown) - 1:
                        ax.tick_params(labelbottom=False)
                    else:
                        ax.set_xlabel("time step")
                    style.step_axis(ax.xaxis)
                if j == 0:
                    axes[0, c].set_title(col.name, fontsize=10, fontweight="bold", pad=12)
                    for a, b, label, _ in bounds:
                        axes[0, c].text((a + b - 1) / 2, 1.0, str(label), transform=axes[0, c].get_xaxis_transform(),
                                        ha="center", va="bottom", fontsize=7, color="0.35")
        kind = f"forward units (hidden layer {layer})" if layer < len(rec.attrs["layer_sizes"]) - 1 else "output units"
        style.title(fig, f"PSP and modulatory signal of {kind}",
                    "numbers on top: class of the image shown; grey lines: the next image starts")
        return fig
