#!/usr/bin/env python3
"""Spike rasters of a recorded spiking run in the layout of the paper's Figure 4.

    python scripts/plot_raster.py runs/fig4.h5 [--out DIR] [--images 8]

Writes raster.png and raster.pdf (default: RUN_figures/ beside the run file). The same figure as
`spikefa plot RUN.h5 --only raster`, with the number of images per column adjustable.
"""

import sys

from spikefa.plot import raster, script


def main(argv=None) -> int:
    return script.figure("plot_raster", __doc__, raster.draw, "run file (.h5) with spike recordings", argv,
                         images=(raster.IMAGES_PER_COLUMN, "images shown per column"))


if __name__ == "__main__":
    sys.exit(main())
