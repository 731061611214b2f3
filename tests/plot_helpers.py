"""Shared checks for the figure tests: a figure file exists and is a valid image of a given size."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from spikefa.plot import style


def assert_figure(paths, width_in, height_in):
    """``paths`` holds one PNG and one PDF; the PNG decodes to (width, height) in pixels."""
    exts = sorted(os.path.splitext(p)[1] for p in paths)
    assert exts == [".pdf", ".png"], paths
    png = next(p for p in paths if p.endswith(".png"))
    pdf = next(p for p in paths if p.endswith(".pdf"))
    with Image.open(png) as im:
        im.verify()
    with Image.open(png) as im:
        assert im.size == style.pixel_size(width_in, height_in)
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 5, "the figure is blank"
    with open(pdf, "rb") as fh:
        head = fh.read(5)
    assert head == b"%PDF-" and os.path.getsize(pdf) > 1000
