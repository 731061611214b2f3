"""Progress bars and the terminal summary table."""

from __future__ import annotations

import math
import sys
import time

from tqdm import tqdm


HEARTBEAT_S = 60.0   # with bars off, a long task still says where it is this often
BAR_DELAY_S = 2.0    # a bar appears once its task has run this long


def bar(total=None, desc: str = "", unit: str = "it", enabled: bool = True, **kw):
    """A progress bar on stderr that appears only once a task has run for 2 seconds; with bars
    off (``enabled=False``), a plain line every minute instead, so a long run is seen to be alive."""
    if not enabled:
        return Heartbeat(total=total, desc=desc, unit=unit, initial=kw.get("initial", 0))
    # On a terminal a closed bar clears its line; anywhere else (a log, a pipe: `2>&1 | tee`) the
    # \r-separated bar updates have no line end of their own, so the last state is kept and its line
    # ended: whatever is printed next (the summary table on stdout) starts on a line of its own.
    return tqdm(total=total, desc=desc, unit=unit, delay=BAR_DELAY_S, dynamic_ncols=True,
                leave=not is_terminal(sys.stderr), file=sys.stderr, **kw)


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class Heartbeat:
    """What a progress bar is to a log: ``desc: 1200/60000 img (2%), 61 s, err=0.31`` once a minute."""

    def __init__(self, total=None, desc="", unit="it", initial=0, every_s=None, file=None, clock=time.monotonic):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.every_s = HEARTBEAT_S if every_s is None else every_s
        self.file = file
        self.clock = clock
        self.started = self.last = clock()
        self.postfix = ""

    def update(self, n=1):
        self.n += n
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
            share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
            tail = f", {self.postfix}" if self.postfix else ""
            print(f"{self.desc}: {done} {self.unit}{share}, {now - self.started:.0f} s{tail}",
                  file=self.file or sys.stderr, flush=True)

    def set_postfix(self, ordered_dict=None, refresh=True, **kw):
        items = dict(ordered_dict or {}, **kw)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s="", refresh=True):
        self.postfix = str(s)

    def set_description(self, desc=None, refresh=True):
        self.desc = desc or ""

    def refresh(self, *a, **kw):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


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
