#!/usr/bin/env python3
"""Forward units' PSP beside their modulatory signal over time (bottom of the paper's Figure 4).

    python scripts/plot_traces.py runs/fig4.h5 [--out DIR] [--units 2] [--images 8]

The same figure as `spikefa plot RUN.h5 --only traces` (traces.png and traces.pdf, by default in
RUN_figures/ beside the run file), with the number of units and images adjustable.
"""

import sys

from spikefa.plot import script, traces


def main(argv=None) -> int:
    return script.figure("plot_traces", __doc__, traces.draw, "run file (.h5) with V and mod recordings", argv,
                         units=(traces.UNITS_SHOWN, "units shown (the first recorded)"),
                         images=(traces.IMAGES_PER_COLUMN, "images shown per column"))


if __name__ == "__main__":
    sys.exit(main())
