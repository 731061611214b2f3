#!/usr/bin/env python3
"""Spike rasters of a recorded spiking run in the layout of the paper's Figure 4.

    python scripts/plot_raster.py runs/fig4.h5 [--out DIR] [--images 8]

Writes raster.png and raster.pdf (default: RUN_figures/ beside the run file). The same figure as
`spikefa plot RUN.h5 --only raster`, with the number of images per column adjustable.
"""

import argparse
import sys

from spikefa import plot
from spikefa.errors import SpikefaError
from spikefa.plot import raster


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="run file (.h5) with spike recordings")
    p.add_argument("--out", help="folder for the figure (default: RUN_figures/)")
    p.add_argument("--images", type=int, default=raster.IMAGES_PER_COLUMN, help="images shown per column")
    args = p.parse_args(argv)
    try:
        paths = raster.draw(args.run, args.out or plot.default_out_dir(args.run), images=args.images)
    except SpikefaError as exc:
        print(f"plot_raster: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
