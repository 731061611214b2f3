"""Progress bars and the terminal summary table."""

from __future__ import annotations

import math
import sys

from tqdm import tqdm


def bar(total=None, desc: str = "", unit: str = "it", enabled: bool = True, **kw):
    """A progress bar on stderr that appears only once a task has run for 2 seconds."""
    return tqdm(total=total, desc=desc, unit=unit, delay=2.0, dynamic_ncols=True, leave=False,
                disable=not enabled, file=sys.stderr, **kw)


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def format_table(rows: list[dict], title: str = "") -> str:
    """Rows of dicts as an aligned text table (columns in first-seen order)."""
    if not rows:
        return ""
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = []
    if title:
        lines.append(title)
    lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    return "\n".join(lines)
