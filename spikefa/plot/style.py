"""The house style of spikefa figures, and writing them as PNG and PDF.

Figures are built on :class:`matplotlib.figure.Figure` directly, never through pyplot, so drawing
is headless whatever backend the user's matplotlib is configured with and leaves no global state.
Figures are saved at their nominal size (no tight bounding box) so a figure's pixel size is
``figsize * DPI``: tests and documents can rely on it.
"""

from __future__ import annotations

import os
import re
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ..errors import OutputError

DPI = 150

# The paper's colours where it has them (Fig. 2a: shallow light grey, node perturbation dark grey,
# backprop black, feedback alignment green); the rest are distinct and colour-blind friendly.
RULE_COLOURS = {
    "bp": "#000000",
    "backprop": "#000000",
    "fa": "#1b9e3a",
    "fa_sparse": "#7fc97f",
    "fa_common": "#2c7fb8",
    "dfa": "#d95f02",
    "shallow": "#b0b0b0",
    "np": "#a6611a",                  # brown, not a second grey: shallow and node perturbation
    "node_perturbation": "#a6611a",   # lie on top of each other for most of Figure 2a
    "spiking": "#7b3294",
    "rate": "#e08214",
}
_CYCLE = ["#1f77b4", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e"]

RULE_LABELS = {
    "bp": "backprop",
    "fa": "feedback alignment",
    "fa_sparse": "FA, 50% of W and B removed",
    "fa_common": "FA (with f' on feedback path)",
    "dfa": "direct FA",
    "shallow": "shallow",
    "np": "node perturbation",
    "node_perturbation": "node perturbation",
    "spiking": "spiking",
    "rate": "rate limit",
}

RC = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.4,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "pdf.fonttype": 42,          # editable text in PDF
    "axes.formatter.useoffset": False,   # step 990005, not 5 and "+9.9e5" in a corner
}


LINE_STYLES = ["-", "--", ":", "-."]


def colour(arm: str, index: int = 0) -> str:
    """A stable colour for an arm: the paper's for known rules (variants such as ``fa4`` or
    ``bp_frozen`` take their rule's colour), else from the cycle."""
    base = arm.rsplit("/", 1)[-1]
    rule = re.match(r"[A-Za-z]+", base)
    for key in (arm, base, rule.group(0) if rule else None):
        if key in RULE_COLOURS:
            return RULE_COLOURS[key]
    return _CYCLE[index % len(_CYCLE)]


# rules whose curves overlap others for long stretches: a line style of their own as well
RULE_DASHES = {"shallow": ":", "np": "--", "node_perturbation": "--"}


def arm_styles(arms) -> dict[str, tuple[str, str]]:
    """arm -> (colour, line style): arms sharing a rule's colour get different line styles."""
    out, used = {}, {}
    for i, arm in enumerate(arms):
        c = colour(arm, i)
        base = arm.rsplit("/", 1)[-1]
        if base in RULE_DASHES and not used.get(c):
            out[arm] = (c, RULE_DASHES[base])
        else:
            out[arm] = (c, LINE_STYLES[used.get(c, 0) % len(LINE_STYLES)])
        used[c] = used.get(c, 0) + 1
    return out


def title(fig, text: str, note: str = "", width_in: float | None = None) -> None:
    """A figure title wrapped to the figure's width, with an optional smaller second line."""
    width_in = width_in or fig.get_figwidth()
    lines = textwrap.wrap(text, max(30, int(width_in * 13)))
    if note:
        lines += textwrap.wrap(note, max(30, int(width_in * 15)))
    fig.suptitle("\n".join(lines), fontsize=10)


def label(arm: str) -> str:
    """A human label for an arm name such as ``fa`` or ``tau0.5/spiking``."""
    parts = arm.split("/")
    parts[-1] = RULE_LABELS.get(parts[-1], parts[-1].replace("_", " "))
    return ", ".join(parts)


def figure(width: float, height: float) -> Figure:
    """A new figure in the house style (width and height in inches)."""
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def styled(fn):
    """Decorator: run a drawing function inside the house rc settings."""
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


def error_scale(ax) -> None:
    """Log y when the plotted positive values span more than a decade, else linear."""
    values = [np.asarray(line.get_ydata(), float) for line in ax.lines]
    values = np.concatenate(values) if values else np.zeros(0)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() > 10 * values.min():
        ax.set_yscale("log")


def angle_axis(ax, wide: bool = False) -> None:
    """An axis of angles in degrees, 90 (orthogonal, where random feedback starts) marked: from 0 to
    100, or to 180 when ``wide``."""
    ax.axhline(90, color="0.5", linestyle=":", linewidth=0.8)
    ax.set_ylim(0, 180 if wide else 100)
    ax.set_yticks([0, 30, 60, 90, 120, 150, 180] if wide else [0, 30, 60, 90])
    ax.set_ylabel("angle (degrees)")


def save(fig: Figure, out_dir: str, stem: str) -> list[str]:
    """Write ``out_dir/stem.png`` and ``.pdf``; return both paths."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the figure folder ({exc.strerror}); choose another --out") from None
    paths = []
    with matplotlib.rc_context(RC):
        for ext in ("png", "pdf"):
            path = os.path.join(out_dir, f"{stem}.{ext}")
            try:
                fig.savefig(path, dpi=DPI)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write figure ({exc.strerror}); choose another --out") from None
            paths.append(path)
    return paths


def pixel_size(width: float, height: float) -> tuple[int, int]:
    """(width, height) in pixels of a PNG saved from a figure of that size in inches (Agg truncates)."""
    return int(width * DPI), int(height * DPI)


def step_axis(axis) -> None:
    """A time-step axis: steps as plain integers (1234567, not 1.234567 and a 1e6 corner mark) and
    few ticks, so that seven-digit labels late in a long run never touch."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:.0f}"))


def count_axis(axis) -> None:
    """Tick labels of a count axis (examples, images) as 500k, 1M, 2.5M instead of a 1e6 offset."""
    from matplotlib.ticker import FuncFormatter

    def short(v, _pos):
        for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= size:
                return f"{v / size:g}{suffix}"
        return f"{v:g}"

    axis.set_major_formatter(FuncFormatter(short))

