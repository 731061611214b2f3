"""The checks of images and labels given to SpikingNetwork.train/test: one-line DataErrors."""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .state import F32


def check_data(params, images, labels, what: str):
    """(images as contiguous float32 in [0, 1], labels as int64), or a DataError saying what is wrong."""
    n_in, C = params.sizes[0], params.n_classes
    images = np.asarray(images)
    if images.dtype == np.uint8:
        images = images.astype(F32) / F32(255)
    if images.ndim != 2 or images.shape[1] != n_in:
        raise DataError(f"{what} images have shape {images.shape}; expected (n, {n_in}) for an input "
                        f"layer of {n_in} units (flatten each image)")
    if images.shape[0] == 0:
        raise DataError(f"{what} set is empty; give at least one image")
    images = np.ascontiguousarray(images, dtype=F32)
    lo, hi = float(images.min()), float(images.max())
    if not (lo >= 0 and hi <= 1):  # also catches NaN
        raise DataError(f"{what} images hold values in [{lo:g}, {hi:g}]; pixels must be in [0, 1] "
                        f"(divide 8-bit images by 255)")
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],):
        raise DataError(f"{what} labels have shape {labels.shape}; expected ({images.shape[0]},), "
                        f"one per image")
    if labels.dtype.kind not in "iu":
        raise DataError(f"{what} labels have type {labels.dtype}; expected integer class indices")
    if labels.min() < 0 or labels.max() >= C:
        raise DataError(f"{what} labels run from {labels.min()} to {labels.max()}; this network has {C} "
                        f"classes (0..{C - 1}): change units_per_class or the output layer size")
    return images, labels.astype(np.int64)
