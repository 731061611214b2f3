"""A small generated digit-like classification set that needs no download.

Each class has a prototype: a few thick strokes (line segments) drawn on a size x size grid, like
a crude digit. A sample is its class prototype shifted by up to ``jitter`` pixels, each stroke
pixel kept with probability 0.9, with salt noise added and the contrast varied, clipped to
[0, 1]. Train and test samples share the prototypes (made from ``prototype_seed``) but not the
noise, so test error measures generalisation over jitter and noise. Everything is a pure
function of its seeds.

    images, labels = synthetic.load("train", n=2000)     # (2000, 144) float32 in [0, 1], (2000,) int64
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def prototypes(n_classes: int = 10, size: int = 12, strokes: int = 3, prototype_seed: int = 0) -> np.ndarray:
    """(n_classes, size, size) float32 stroke patterns in [0, 1], distinct by construction."""
    if n_classes < 2 or size < 6 or strokes < 1:
        raise DataError(f"synthetic set: n_classes={n_classes}, size={size}, strokes={strokes}; "
                        f"need n_classes >= 2, size >= 6, strokes >= 1")
    rng = np.random.default_rng([prototype_seed, 7])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    margin = 2.0
    out = np.zeros((n_classes, size, size), dtype=np.float32)
    for c in range(n_classes):
        img = np.zeros((size, size), dtype=np.float32)
        for _ in range(strokes):
            (y0, x0), (y1, x1) = rng.uniform(margin, size - 1 - margin, size=(2, 2))
            # distance of every pixel to the segment; pixels within ~1 px are ink
            dy, dx = y1 - y0, x1 - x0
            length2 = max(dy * dy + dx * dx, 1e-6)
            t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / length2, 0, 1)
            dist = np.hypot(yy - (y0 + t * dy), xx - (x0 + t * dx))
            img = np.maximum(img, np.clip(1.5 - dist, 0, 1))
        out[c] = img
    return out


def load(split: str = "train", n: int | None = None, *, n_classes: int = 10, size: int = 12, jitter: int = 1,
         noise: float = 0.05, seed: int = 0, prototype_seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, size*size) float32 in [0, 1] and labels (n,) int64 of the ``train`` or ``test`` split.

    Default sizes: 5000 training and 1000 test samples, classes balanced and shuffled.
    """
    if split not in ("train", "test"):
        raise DataError(f"synthetic split {split!r} unknown; use 'train' or 'test'")
    n = (5000 if split == "train" else 1000) if n is None else int(n)
    if n < 1:
        raise DataError(f"synthetic set: n = {n}; ask for at least one sample")
    protos = prototypes(n_classes, size, prototype_seed=prototype_seed)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, 11])
    labels = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    images = np.empty((n, size, size), dtype=np.float32)
    shifts = rng.integers(-jitter, jitter + 1, size=(n, 2))
    for i, (c, (sy, sx)) in enumerate(zip(labels, shifts)):
        images[i] = np.roll(protos[c], (sy, sx), axis=(0, 1))
    images *= rng.random(images.shape) < 0.9                       # dropped ink
    images *= rng.uniform(0.7, 1.0, size=(n, 1, 1)).astype(np.float32)  # contrast
    images += (rng.random(images.shape) < noise) * rng.uniform(0.3, 1.0, images.shape)  # salt
    np.clip(images, 0, 1, out=images)
    return images.reshape(n, size * size).astype(np.float32), labels
