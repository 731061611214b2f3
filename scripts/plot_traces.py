#!/usr/bin/env python3
"""Forward units' PSP beside their modulatory signal over time (bottom of the paper's Figure 4).

    python scripts/plot_traces.py runs/fig4.h5 [--out DIR] [--units 2] [--images 8]

Writes traces.png and traces.pdf (default: RUN_figures/ beside the run file). The same figure as
`spikefa plot RUN.h5 --only traces`, with the number of units and images adjustable.
"""

import argparse
import sys

from spikefa import plot
from spikefa.errors import SpikefaError
from spikefa.plot import traces


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run file (.h5) with V and mod recordings")
    p.add_argument("--out", help="folder for the figure (default: RUN_figures/)")
    p.add_argument("--units", type=int, default=traces.UNITS_SHOWN, help="units shown (the first recorded)")
    p.add_argument("--images", type=int, default=traces.IMAGES_PER_COLUMN, help="images shown per column")
    args = p.parse_args(argv)
    try:
        paths = traces.draw(args.run, args.out or plot.default_out_dir(args.run), units=args.units,
                            images=args.images)
    except SpikefaError as exc:
        print(f"plot_traces: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
